"""scripts/design_clone_gate.py labels transforms and chooses its gate as documented; the fusion
design's map cache is keyed by each component's configuration (new weights or gate: new maps)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from conftest import load_script


gate = load_script("design_clone_gate")
fusion = load_script("design_fusion")


def test_transform_kinds():
    assert gate.kind_of("authentic", {"inside_truth": None}) == "repetition"
    assert gate.kind_of("copymove", {"inside_truth": 0.8}) == "copy"
    assert gate.kind_of("copymove_cvip", {"inside_truth": 0.5}) == "copy"
    assert gate.kind_of("copymove", {"inside_truth": 0.1}) == "other"     # the scene's repetition beside a copy
    assert gate.kind_of("splice", {"inside_truth": 0.9}) == "other"       # not a copy-move


def test_gate_leaves_a_margin_above_every_copy():
    g = gate.choose_gate([3.0, 15.35, 8.0])
    assert math.isclose(g, 19.2) and g > 15.35


class _Det:
    def __init__(self, config):
        self._config = config

    def config(self):
        return self._config


def test_map_cache_follows_the_component_configuration(tmp_path, monkeypatch):
    monkeypatch.setattr(fusion, "CACHE", tmp_path / "cache")
    image = tmp_path / "a.png"
    image.write_bytes(b"x" * 10)
    calls = []

    def compute(value):
        def f():
            calls.append(value)
            return {"clone": np.full((2, 2), value, np.float16), "score": value}
        return f

    first = fusion._cached("clone", image, _Det({"threshold": 0.4, "max_difference": 19.2}), compute(1.0))
    again = fusion._cached("clone", image, _Det({"threshold": 0.9, "max_difference": 19.2}), compute(2.0))
    other = fusion._cached("clone", image, _Det({"threshold": 0.4, "max_difference": math.inf}), compute(3.0))
    assert calls == [1.0, 3.0]                        # a threshold alone does not change the maps
    assert float(again["score"]) == 1.0 and float(other["score"]) == 3.0 and first["clone"].shape == (2, 2)


def test_fill_cache_shards_are_checked():
    import argparse

    import pytest

    assert fusion.parse_shard("1/2") == (1, 2)
    for bad in ("2/2", "-1/2", "x", "1/0", "1"):
        with pytest.raises(argparse.ArgumentTypeError):
            fusion.parse_shard(bad)


def test_fusion_ranks_rules_by_the_unrounded_worst_margin():
    # a rule that loses 0.0003 somewhere must not tie with one that never loses (rounded, both -0.000)
    table = {"effunet": {"v": {"a": 0.8, "b": 0.5}}, "copymove-sift": {"v": {"a": 0.1, "b": 0.6}},
             "rule lossy": {"v": {"a": 0.9, "b": 0.5997}}, "rule exact": {"v": {"a": 0.8, "b": 0.6}}}
    m = fusion.margins(table)
    assert m["rule lossy"]["mean_f1"] > m["rule exact"]["mean_f1"]
    assert fusion.best_rule(m) == "rule exact"


def test_fusion_design_sets_name_every_recipe():
    work, data = Path("w"), Path("d")
    recipes = {"realistic": work / "r", "learned": work / "l"}
    assert fusion.source_folders(data, work / "s", False, recipes) == {
        "validation": work / "s" / "val.csv", "cvip": data / "copymove_cvip",
        "validation-realistic": work / "r" / "val.csv", "validation-learned": work / "l" / "val.csv"}
    with_test = fusion.source_folders(data, work / "s", True, recipes)
    assert list(with_test)[4:] == ["test", "test-realistic", "test-learned"]
    assert with_test["test-learned"] == work / "l" / "test.csv"
    assert fusion._fill_set(Path("work/synth-forgeries-realistic-learned")) == "realistic-learned"
