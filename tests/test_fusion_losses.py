"""scripts/fusion_losses.py: finds exactly the images where the fused map scores below effunet's
(copy-moves left out), and joins the matcher's scores across path spellings and recipes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_script

fl = load_script("fusion_losses")


def _write(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True)
    (folder / "per_image.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _pair(path: str, subset: str, alone: float, fused: float) -> list[dict]:
    return [{"path": path, "subset": subset, "detector": "effunet", "f1": alone},
            {"path": path, "subset": subset, "detector": "effunet-cm", "f1": fused}]


def test_lists_only_drops_beyond_the_margin_outside_copymoves(tmp_path):
    std = "work/synth-forgeries/test/images/"
    results = tmp_path / "results"
    _write(results / "seed0-standard-test",
           _pair(std + "p1_aa_inpaint-patch_0.jpg", "inpaint-patch", 0.40, 0.01)     # a loss
           + _pair(std + "p2_bb_splice_0.jpg", "splice", 0.50, 0.495)               # within the margin
           + _pair(std + "p3_cc_copymove_0.jpg", "copymove", 0.90, 0.10)            # copy-move: left out
           + [{"path": std + "p1_aa_authentic_0.jpg", "subset": "authentic", "detector": "effunet"}])
    _write(results / "seed0-realistic-test",
           _pair("work/synth-forgeries-realistic/test/images/p1_aa_inpaint-patch_0.jpg", "inpaint-patch", 0.30, 0.0))
    matcher = tmp_path / "synthetic"   # the standard set only, recorded with absolute paths
    _write(matcher, [
        {"path": "/abs/work/synth-forgeries/test/images/p1_aa_inpaint-patch_0.jpg", "subset": "inpaint-patch",
         "detector": "copymove-sift", "score": 0.74},
        {"path": "/abs/work/synth-forgeries/test/images/p1_aa_authentic_0.jpg", "subset": "authentic",
         "detector": "copymove-sift", "score": 0.73}])

    by_image, by_host = fl.matcher_scores([matcher])
    found = fl.losses(results, 0.01, by_image, by_host)

    assert sorted((r["run_set"], Path(r["image"]).name) for r in found) == [
        ("seed0-realistic-test", "p1_aa_inpaint-patch_0.jpg"), ("seed0-standard-test", "p1_aa_inpaint-patch_0.jpg")]
    standard = next(r for r in found if r["run_set"] == "seed0-standard-test")
    assert (standard["matcher_score"], standard["matcher_score_authentic_host"]) == (0.74, 0.73)
    realistic = next(r for r in found if r["run_set"] == "seed0-realistic-test")
    # the realistic image shares the standard one's name but is another file: no score borrowed
    assert realistic["matcher_score"] is None and realistic["matcher_score_authentic_host"] is None


def test_host_keeps_names_with_spaces_and_underscores():
    assert fl.host("x/synth-forgeries/test/images/Issue 258 (dotnet)_f16f38_splice_0.png") == \
        "x/synth-forgeries/test/images/Issue 258 (dotnet)_f16f38"
    assert fl.set_relative("/a/work/synth-forgeries-learned/test/images/i.jpg") == "synth-forgeries-learned/test/images/i.jpg"


def test_effunet_rows_from_a_second_tree(tmp_path):
    """effunet-cm evaluated alone: effunet's rows come from the same-named folder of --alone."""
    img = "work/synth-forgeries/test/images/p1_aa_splice_0.jpg"
    _write(tmp_path / "fused" / "seed0-standard-test",
           [{"path": img, "subset": "splice", "detector": "effunet-cm", "f1": 0.2}])
    _write(tmp_path / "alone" / "seed0-standard-test", [{"path": "/abs/" + img, "subset": "splice", "detector": "effunet", "f1": 0.6}])
    assert fl.losses(tmp_path / "fused", 0.01, {}, {}) == []          # no effunet row: nothing to compare
    found = fl.losses(tmp_path / "fused", 0.01, {}, {}, tmp_path / "alone")
    assert [(r["effunet_f1"], r["effunet_cm_f1"]) for r in found] == [(0.6, 0.2)]
