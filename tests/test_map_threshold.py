"""A localiser's map threshold chosen on validation (issue 18, item 5): the re-scaled map cuts at
0.5 exactly where the network's map cuts at the threshold, and the sweep script counts pixel and
patch F1 at every threshold as the evaluator does at one."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from conftest import load_script, noisy_photo
from forenscope.evaluate.metrics import PixelMetricAccumulator
from forenscope.methods.localizer import recentre


sweep = load_script("map_threshold_sweep")


def test_recentred_map_cuts_at_half_where_the_map_cuts_at_the_threshold():
    rng = np.random.default_rng(0)
    t = np.float32(0.675)
    heat = np.concatenate([rng.random(5000, dtype=np.float32), [0, 1, t, np.nextafter(t, np.float32(0))]])
    out = recentre(heat, float(t))
    assert np.array_equal(out >= 0.5, heat >= t)
    assert out[-4:-2].tolist() == [0.0, 1.0] and out[-2] == 0.5
    order = np.argsort(heat, kind="stable")
    assert np.all(np.diff(out[order]) >= 0)  # monotone: every AUC is unchanged
    assert recentre(heat, None) is heat and recentre(heat, 0.5) is heat
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        recentre(heat, 1.0)


def test_a_card_threshold_moves_the_mask_and_not_the_image_score():
    from forenscope.methods import get_method

    def ramp(x: torch.Tensor) -> torch.Tensor:  # logit = column / 8 - 4: probability rises left to right
        b, _, h, w = x.shape
        return (torch.arange(w, dtype=torch.float32) / 8 - 4).expand(b, 1, h, w).clone()

    method, image = get_method("effunet"), noisy_photo(64, 64, 3)
    plain = method.read(ramp, image, {"input": {"tile": 64}})
    cut = method.read(ramp, image, {"input": {"tile": 64}, "map_threshold": 0.8})
    assert np.array_equal(cut.heatmap >= 0.5, plain.heatmap >= 0.8)
    assert (cut.heatmap >= 0.5).sum() < (plain.heatmap >= 0.5).sum()
    assert cut.score == plain.score and cut.extras["map_threshold"] == 0.8


def _blob(shape, rng) -> np.ndarray:
    m = np.zeros(shape, bool)
    y, x = rng.integers(0, shape[0] - 40), rng.integers(0, shape[1] - 50)
    m[y:y + 40, x:x + 50] = True
    return m


def test_sweep_counts_equal_the_evaluator_at_every_threshold():
    """Manipulated images (a rectangle, a map brighter there) and authentic ones (whose flagged
    patches count against the all-images patch F1), at image sizes that leave partial patches."""
    rng = np.random.default_rng(1)
    images = []
    for i in range(6):
        shape = (96 + 7 * i, 130 - 5 * i)
        mask = _blob(shape, rng) if i % 3 else np.zeros(shape, bool)
        heat = np.clip(rng.normal(0.45, 0.2, shape) + 0.25 * mask, 0, 1).astype(np.float32)
        images.append((mask, heat))
    kind = sweep.Kind()
    for mask, heat in images:
        kind.add(mask if mask.any() else None, heat)
    rows = kind.rows(np.zeros(len(sweep.THRESHOLDS)))
    for i in (0, 10, 18, 25, 36):
        t = float(sweep.THRESHOLDS[i])
        acc = PixelMetricAccumulator(threshold=t)
        for mask, heat in images:
            acc.add(mask, heat)
        want = acc.summary()
        for key in ("f1_mean_per_image", "patch_f1_from_map_pooled_over_manipulated_images",
                    "patch_f1_from_map_pooled_over_all_images"):
            assert rows[key][i] == pytest.approx(want[key], abs=1e-9), (key, t)
