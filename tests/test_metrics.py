import math

import numpy as np
import pytest
from sklearn import metrics as skm

from forenscope.evaluate import metrics as M


@pytest.fixture(params=[0, 1, 2, 3])
def scored(request):
    rng = np.random.default_rng(request.param)
    y = rng.integers(0, 2, 300)
    s = np.clip(rng.normal(0.4 + 0.3 * y, 0.25), 0, 1)
    if request.param == 3:
        s = np.round(s, 1)  # many ties
    return y, s


def test_ap_and_auc_match_sklearn(scored):
    y, s = scored
    assert M.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert M.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_accuracies_match_sklearn(scored):
    y, s = scored
    for t in (0.3, 0.5, 0.7):
        pred = s >= t
        assert M.accuracy_at(y, s, t) == pytest.approx(skm.accuracy_score(y, pred))
        assert M.real_accuracy_at(y, s, t) == pytest.approx(skm.accuracy_score(y[y == 0], pred[y == 0]))
        assert M.fake_accuracy_at(y, s, t) == pytest.approx(skm.recall_score(y, pred))


def test_tpr_at_fpr_matches_sklearn_roc_curve(scored):
    y, s = scored
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    for target in (0.01, 0.05, 0.2):
        assert M.tpr_at_fpr(y, s, target) == pytest.approx(tpr[fpr <= target].max())


def test_threshold_at_fpr_keeps_false_positives_under_target(scored):
    y, s = scored
    t = M.threshold_at_fpr(y, s, 0.05)
    assert np.mean(s[y == 0] >= t) <= 0.05


def test_oracle_accuracy_is_the_best_threshold(scored):
    y, s = scored
    acc, thr = M.oracle_accuracy(y, s)
    brute = max(skm.accuracy_score(y, s >= t) for t in np.append(np.unique(s), np.inf))
    assert acc == pytest.approx(brute) and M.accuracy_at(y, s, thr) == pytest.approx(acc)


def test_image_metrics_hand_cases():
    perfect = M.image_metrics([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert perfect["acc"] == perfect["ap"] == perfect["roc_auc"] == perfect["tpr_at_fpr_1pct"] == 1.0
    inverted = M.image_metrics([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])
    assert inverted["roc_auc"] == 0.0 and inverted["acc"] == 0.0
    one_class = M.image_metrics([1, 1], [0.2, 0.9])
    assert one_class["roc_auc"] is None and math.isnan(one_class["real_acc"])
    assert one_class["fake_acc"] == 0.5


# ---------------------------------------------------------------- pixel level

@pytest.fixture(params=[0, 1, 2])
def mask_and_heat(request):
    rng = np.random.default_rng(10 + request.param)
    mask = np.zeros((40, 50), bool)
    mask[10:25, 5:30] = True
    heat = np.clip(mask * 0.5 + rng.uniform(0, 0.6, mask.shape), 0, 1).astype(np.float32)
    return mask, heat


def test_pixel_f1_iou_auc_match_sklearn(mask_and_heat):
    mask, heat = mask_and_heat
    y, pred = mask.ravel(), (heat >= 0.5).ravel()
    assert M.pixel_f1_at(mask, heat) == pytest.approx(skm.f1_score(y, pred))
    assert M.pixel_iou_at(mask, heat) == pytest.approx(skm.jaccard_score(y, pred))
    assert M.pixel_auc(mask, heat) == pytest.approx(skm.roc_auc_score(y, heat.ravel()))


def test_best_threshold_f1_is_brute_force_max(mask_and_heat):
    mask, heat = mask_and_heat
    best, thr = M.pixel_f1_best_threshold(mask, heat)
    brute = max(skm.f1_score(mask.ravel(), heat.ravel() >= t) for t in np.unique(heat))
    assert best == pytest.approx(brute) and M.pixel_f1_at(mask, heat, thr) == pytest.approx(best)


def test_map_or_inverse_forgives_inversion(mask_and_heat):
    mask, heat = mask_and_heat
    inverted = 1.0 - heat
    assert M.pixel_f1_map_or_inverse(mask, inverted) == pytest.approx(M.pixel_f1_at(mask, heat))
    assert M.pixel_f1_at(mask, inverted) < M.pixel_f1_at(mask, heat)


def test_empty_and_full_masks():
    empty = np.zeros((8, 8), bool)
    full = np.ones((8, 8), bool)
    zeros, ones = np.zeros((8, 8)), np.ones((8, 8))
    assert M.pixel_f1_at(empty, zeros) == 1.0 and M.pixel_iou_at(empty, zeros) == 1.0
    assert M.pixel_f1_at(empty, ones) == 0.0
    assert M.pixel_auc(empty, ones) is None and M.pixel_auc(full, ones) is None
    assert M.pixel_f1_at(full, ones) == 1.0
    assert M.pixel_f1_at(full, ones) == pytest.approx(skm.f1_score(full.ravel(), ones.ravel() >= 0.5))
    assert M.pixel_f1_at(empty, zeros) == skm.f1_score(empty.ravel(), zeros.ravel() >= 0.5, zero_division=1.0)
    assert M.false_positive_area_at(np.array([[0.9, 0.1], [0.2, 0.6]])) == 0.5


def test_accumulator_separates_manipulated_and_authentic(mask_and_heat):
    mask, heat = mask_and_heat
    acc = M.PixelMetricAccumulator()
    acc.add(mask, heat)
    acc.add(mask, 1.0 - heat)
    acc.add(np.zeros_like(mask), np.full(mask.shape, 0.7))  # authentic, all flagged
    acc.add(np.zeros_like(mask), np.zeros(mask.shape))      # authentic, clean
    s = acc.summary()
    assert s["n_manipulated"] == 2 and s["n_authentic"] == 2
    expected_f1 = np.mean([M.pixel_f1_at(mask, heat), M.pixel_f1_at(mask, 1.0 - heat)])
    assert s["f1_mean_per_image"] == pytest.approx(expected_f1)
    assert s["false_positive_area_mean_per_authentic_image"] == pytest.approx(0.5)
    pooled_true = np.concatenate([mask.ravel(), mask.ravel()])
    pooled_pred = np.concatenate([(heat >= 0.5).ravel(), ((1 - heat) >= 0.5).ravel()])
    assert s["f1_pooled_over_pixels"] == pytest.approx(skm.f1_score(pooled_true, pooled_pred))
    patch_true = np.concatenate([M.patch_labels(mask).ravel()] * 2)
    patch_pred = np.concatenate([M.patch_labels(heat >= 0.5).ravel(), M.patch_labels((1 - heat) >= 0.5).ravel()])
    assert patch_true.size
    assert s["patch_f1_from_map_pooled_over_manipulated_images"] == pytest.approx(
        skm.f1_score(patch_true, patch_pred, zero_division=0.0))
    # over all images: the all-flagged authentic image's patches are false positives, the clean one's true negatives
    authentic = M.patch_labels(np.zeros_like(mask)).ravel()
    all_true = np.concatenate([patch_true, authentic, authentic])
    all_pred = np.concatenate([patch_pred, ~authentic, authentic])
    assert s["patch_f1_from_map_pooled_over_all_images"] == pytest.approx(skm.f1_score(all_true, all_pred))
    assert s["patch_f1_from_map_pooled_over_all_images"] < s["patch_f1_from_map_pooled_over_manipulated_images"]


def test_patch_labels_and_f1():
    mask = np.zeros((64, 64), bool)
    mask[:4, :32] = True      # 4/32 rows of tile (0,0) = 12.5 % -> manipulated
    mask[32:35, 32:64] = True  # 3/32 rows of tile (1,1) = 9.4 % -> not
    labels = M.patch_labels(mask, patch=32)
    assert labels.tolist() == [[True, False], [False, False]]
    pred = np.array([[True, True], [False, False]])
    assert M.patch_f1(labels, pred) == pytest.approx(skm.f1_score(labels.ravel(), pred.ravel()))
    assert M.patch_labels(np.zeros((70, 70), bool)).shape == (2, 2)  # partial tiles dropped


def test_multiclass_metrics_against_sklearn():
    from sklearn.metrics import precision_score, recall_score

    from forenscope.evaluate.metrics import multiclass_metrics

    rng = np.random.default_rng(3)
    classes = ("authentic", "tampered", "generated")
    # balanced: the re-weighting changes nothing; macro-F1 = harmonic mean of macro P and R
    t = np.repeat([0, 1, 2], 50)
    p = np.where(rng.random(150) < 0.7, t, rng.integers(0, 3, 150))
    m = multiclass_metrics(t, p, classes)
    mp, mr = precision_score(t, p, average="macro"), recall_score(t, p, average="macro")
    assert abs(m["macro_f1"] - 2 * mp * mr / (mp + mr)) < 1e-12
    assert abs(m["balanced_accuracy"] - mr) < 1e-12 and abs(m["accuracy"] - (t == p).mean()) < 1e-12
    # unbalanced: precision as a class-balanced set would give it (sample weight 1 / class count)
    t = np.concatenate([np.zeros(200, int), np.ones(40, int), np.full(10, 2)])
    p = np.where(rng.random(250) < 0.6, t, rng.integers(0, 3, 250))
    m = multiclass_metrics(t, p, classes)
    w = 1.0 / np.bincount(t)[t]
    ref = precision_score(t, p, average=None, sample_weight=w)
    assert np.allclose([m["precision_balanced"][c] for c in classes], ref)
    assert np.allclose([m["recall"][c] for c in classes], recall_score(t, p, average=None))
    assert np.array(m["confusion"]).sum() == 250


def test_threshold_at_fpr_is_finite_when_only_flagging_nothing_qualifies():
    from forenscope.evaluate.metrics import threshold_at_fpr

    y, s = np.array([0, 0, 0, 1, 1]), np.array([0.7, 0.7, 0.7, 0.7, 0.7])
    t = threshold_at_fpr(y, s, 0.05)
    assert np.isfinite(t) and t > 0.7 and not np.any(s >= t)
    assert threshold_at_fpr(np.array([0, 0, 1]), np.array([0.1, 0.2, 0.9]), 0.05) == 0.9
