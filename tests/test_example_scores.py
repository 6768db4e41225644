"""Behaviour does not change under refactoring: every shipped trained detector scores the
examples/ images as the committed table says (scripts/example_scores.py wrote it; rerun it only
when weights change on purpose)."""

from __future__ import annotations

import json

import pytest

from conftest import load_script

example_scores = load_script("example_scores")
TABLE = json.loads(example_scores.TABLE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", example_scores.DETECTORS)
def test_shipped_scores_match_committed_table(name):
    got = example_scores.example_scores([name])[name]
    want = TABLE[name]
    assert set(got) == set(want)
    for image, row in want.items():
        assert got[image]["label"] == row["label"], (name, image)
        for key, value in row.items():
            if key != "label":
                assert got[image][key] == pytest.approx(value, abs=2e-4), (name, image, key)
