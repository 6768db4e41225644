"""Bappy's patch protocol (scripts/eval_patch_classifier.py): patch labels from a known mask,
and F1 / baselines checked against scikit-learn."""

from __future__ import annotations


import numpy as np
import pytest

from conftest import load_script

evp = load_script("eval_patch_classifier")


def test_patches_lie_wholly_inside_and_are_labelled_by_their_manipulated_share():
    rgb = np.zeros((150, 200, 3), np.uint8)   # 2 x 3 whole 64-px patches; the rest is dropped
    mask = np.zeros((150, 200), bool)
    mask[0:64, 0:8] = True                     # 12.5 % of patch (0, 0): manipulated
    mask[0:64, 64:71] = True                   # 10.9 % of patch (0, 1): not
    mask[140:150, :] = True                    # below the last whole row: ignored
    crops, labels = evp.patches(rgb, mask, 0.125)
    assert len(crops) == 6 and all(c.shape == (64, 64, 3) for c in crops)
    assert labels.tolist() == [True, False, False, False, False, False]


def test_scores_match_scikit_learn_and_the_flag_everything_baseline():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.random(500) < 0.2
    prob = np.clip(labels * 0.3 + rng.random(500) * 0.7, 0, 1)
    r = evp.scores(labels, prob)
    assert r["patch_f1"] == pytest.approx(sk.f1_score(labels, prob >= 0.5))
    assert r["patch_roc_auc"] == pytest.approx(sk.roc_auc_score(labels, prob))
    flag_all = evp.scores(labels, np.ones(500))
    assert flag_all["patch_f1"] == pytest.approx(flag_all["baseline_flag_every_patch_f1"])
    assert flag_all["flagged_share"] == 1.0 and flag_all["patch_recall"] == 1.0


def test_bitmask93_miniature_labels_32px_patches_at_the_published_share():
    """METHODS.md 3.8: 128 of a 32 x 32 patch's 1,024 pixels is manipulated, 127 is not."""
    bm = load_script("bitmask93_miniature")
    rgb = np.zeros((70, 100, 3), np.uint8)     # 2 x 3 whole patches
    mask = np.zeros((70, 100), bool)
    mask[0:32, 0:4] = True                     # 128 px of patch (0, 0)
    mask[32:64, 32:36] = True
    mask[32, 35] = False                       # 127 px of patch (1, 1)
    crops, labels = bm.patches_of(rgb, mask)
    assert crops.shape == (6, 32, 32, 3)
    assert labels.tolist() == [True, False, False, False, False, False]
    x = bm.as_input(np.full((1, 32, 32, 3), 255, np.uint8))
    assert x.shape == (1, 3, 32, 32) and float(x.max()) == 1.0


def test_results_are_written_as_strict_json_beside_their_markdown(tmp_path):
    import json

    from forenscope.records import write_results

    write_results(tmp_path / "out", {"patch_f1": float("nan"), "n": 3}, lambda r: f"# n = {r['n']}\n")
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == {"patch_f1": None, "n": 3}
    assert (tmp_path / "out" / "results.md").read_text() == "# n = 3\n"
