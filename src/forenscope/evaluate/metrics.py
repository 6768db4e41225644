"""Every metric of DESIGN.md, each named for exactly what it computes.

Image level (positive class = generated / tampered, label 1):
    ``accuracy_at``, ``real_accuracy_at``, ``fake_accuracy_at``, ``average_precision``,
    ``roc_auc``, ``tpr_at_fpr``, ``oracle_accuracy`` (best threshold chosen on the test set
    itself: an upper bound, always reported under that name).
Pixel level, one image at a time (average them over manipulated images yourself, or use
:class:`PixelMetricAccumulator`, which does and names the result ``*_mean_per_image``):
    ``pixel_f1_at``, ``pixel_iou_at``, ``pixel_f1_best_threshold``, ``pixel_f1_map_or_inverse``,
    ``pixel_auc``, ``false_positive_area_at`` (for authentic images).
Patch level (Bappy): ``patch_labels``, ``patch_f1``.

Conventions: a mask is positive where ``mask > 0.5`` (bool masks as they are). F1 and IoU are
1.0 when the mask and the prediction are both empty (nothing to find, nothing claimed), 0.0
when only one is. Pixel AUC is undefined (None) for a mask that is all one class.
All functions are checked against scikit-learn in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# ---------------------------------------------------------------- image level


def _labels_scores(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in length")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinity")
    return y, s


def accuracy_at(y_true, y_score, threshold: float = 0.5) -> float:
    """Fraction correct when predicting positive for ``score >= threshold``."""
    y, s = _labels_scores(y_true, y_score)
    return float(np.mean((s >= threshold) == y)) if y.size else math.nan


def real_accuracy_at(y_true, y_score, threshold: float = 0.5) -> float:
    """Accuracy on the real (label 0) images only: 1 - false-positive rate."""
    y, s = _labels_scores(y_true, y_score)
    return float(np.mean(s[~y] < threshold)) if (~y).any() else math.nan


def fake_accuracy_at(y_true, y_score, threshold: float = 0.5) -> float:
    """Accuracy on the fake / manipulated (label 1) images only: the true-positive rate."""
    y, s = _labels_scores(y_true, y_score)
    return float(np.mean(s[y] >= threshold)) if y.any() else math.nan


def _ranked_counts(y: np.ndarray, s: np.ndarray):
    """Cumulative TP and FP at each distinct score, thresholds from high to low."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    distinct = np.flatnonzero(np.diff(s_sorted)) if s_sorted.size > 1 else np.array([], int)
    ends = np.append(distinct, s_sorted.size - 1)  # last index of each tie group
    tp = np.cumsum(y_sorted)[ends]
    fp = (ends + 1) - tp
    return tp.astype(np.float64), fp.astype(np.float64), s_sorted[ends]


def average_precision(y_true, y_score) -> float:
    """Non-interpolated AP: sum over thresholds of (recall step) x precision (as scikit-learn)."""
    y, s = _labels_scores(y_true, y_score)
    n_pos = y.sum()
    if n_pos == 0:
        return math.nan
    tp, fp, _ = _ranked_counts(y, s)
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def roc_auc(y_true, y_score) -> float | None:
    """Area under the ROC curve (ties count one half); None when only one class is present."""
    y, s = _labels_scores(y_true, y_score)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _average_ranks(s: np.ndarray) -> np.ndarray:
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(s_sorted)) + 1])
    ends = np.append(starts[1:], s_sorted.size)
    group_rank = (starts + ends + 1) / 2.0  # mean of 1-based ranks start+1 .. end
    ranks = np.empty(s.size, dtype=np.float64)
    ranks[order] = np.repeat(group_rank, ends - starts)
    return ranks


def roc_points(y_true, y_score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) at every distinct score, starting from (0, 0) at +inf."""
    y, s = _labels_scores(y_true, y_score)
    tp, fp, thr = _ranked_counts(y, s)
    n_pos, n_neg = max(y.sum(), 1), max((~y).sum(), 1)
    fpr = np.concatenate([[0.0], fp / n_neg])
    tpr = np.concatenate([[0.0], tp / n_pos])
    return fpr, tpr, np.concatenate([[np.inf], thr])


def tpr_at_fpr(y_true, y_score, max_fpr: float) -> float:
    """Highest true-positive rate of any threshold whose false-positive rate is <= ``max_fpr``."""
    y, _ = _labels_scores(y_true, y_score)
    if not y.any() or y.all():
        return math.nan
    fpr, tpr, _ = roc_points(y_true, y_score)
    return float(tpr[fpr <= max_fpr + 1e-12].max())


def threshold_at_fpr(y_true, y_score, max_fpr: float) -> float:
    """The lowest threshold whose false-positive rate on these labels is <= ``max_fpr``. When
    only "flag nothing" qualifies (e.g. every score tied), the next float above the highest
    score: finite, so cards stay valid JSON."""
    fpr, _, thr = roc_points(y_true, y_score)
    t = float(thr[np.flatnonzero(fpr <= max_fpr + 1e-12).max()])
    return t if np.isfinite(t) else float(np.nextafter(np.max(y_score), np.inf))


def oracle_accuracy(y_true, y_score) -> tuple[float, float]:
    """ORACLE: the best accuracy over all thresholds chosen on these very labels, and that
    threshold. An optimistic bound, never a result; always report it under this name."""
    y, s = _labels_scores(y_true, y_score)
    tp, fp, thr = _ranked_counts(y, s)
    n_neg = (~y).sum()
    correct = np.concatenate([[n_neg], tp + (n_neg - fp)])  # first: nothing predicted positive
    thresholds = np.concatenate([[np.inf], thr])
    best = int(np.argmax(correct))
    return float(correct[best] / y.size), float(thresholds[best])


def image_metrics(y_true, y_score, threshold: float = 0.5) -> dict:
    """The full image-level set, named as DESIGN.md names them."""
    y, s = _labels_scores(y_true, y_score)
    oracle_acc, oracle_thr = oracle_accuracy(y, s) if y.size else (math.nan, math.nan)
    out = {
        "n_real": int((~y).sum()),
        "n_fake": int(y.sum()),
        "threshold": float(threshold),
        "acc": accuracy_at(y, s, threshold),
        "real_acc": real_accuracy_at(y, s, threshold),
        "fake_acc": fake_accuracy_at(y, s, threshold),
        "ap": average_precision(y, s),
        "roc_auc": roc_auc(y, s),
        "tpr_at_fpr_1pct": tpr_at_fpr(y, s, 0.01),
        "tpr_at_fpr_5pct": tpr_at_fpr(y, s, 0.05),
        "oracle_acc": oracle_acc,
        "oracle_threshold": oracle_thr,
    }
    if threshold != 0.5:
        out["acc_at_0.5"] = accuracy_at(y, s, 0.5)
    return out


# ---------------------------------------------------------------- several classes (triage)


def confusion(y_true, y_pred, n_classes: int) -> np.ndarray:
    """(n, n) counts, rows = true class, columns = predicted."""
    t, p = np.asarray(y_true, dtype=int).ravel(), np.asarray(y_pred, dtype=int).ravel()
    if t.size != p.size:
        raise ValueError(f"{t.size} true labels but {p.size} predictions")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def multiclass_metrics(y_true, y_pred, classes: tuple[str, ...]) -> dict:
    """Per-class recall, precision re-weighted to equal class counts (as "No one can escape"'s
    ``valid.py``: the precision a class-balanced test set would give), their macro-F1
    ``2 mean(P) mean(R) / (mean(P) + mean(R))``, balanced and plain accuracy. Classes absent
    from ``y_true`` are left out of the means."""
    n = len(classes)
    cm = confusion(y_true, y_pred, n).astype(np.float64)
    support = cm.sum(axis=1)
    present = support > 0
    rates = np.divide(cm, support[:, None], out=np.zeros_like(cm), where=present[:, None])  # row-normalised
    recall = np.diag(rates)
    column = rates[present].sum(axis=0)
    precision = np.divide(np.diag(rates), column, out=np.zeros(n), where=column > 0)
    mp, mr = precision[present].mean(), recall[present].mean()
    return {
        "macro_f1": float(2 * mp * mr / (mp + mr)) if mp + mr > 0 else 0.0,
        "balanced_accuracy": float(mr),
        "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else math.nan,
        "recall": {c: float(recall[i]) for i, c in enumerate(classes) if present[i]},
        "precision_balanced": {c: float(precision[i]) for i, c in enumerate(classes) if present[i]},
        "confusion": cm.astype(int).tolist(), "classes": list(classes), "support": support.astype(int).tolist(),
    }


# ---------------------------------------------------------------- pixel level, one image


def _as_mask(mask) -> np.ndarray:
    m = np.asarray(mask)
    return m if m.dtype == bool else m > 0.5


def _pair(mask, heatmap) -> tuple[np.ndarray, np.ndarray]:
    m, h = _as_mask(mask), np.asarray(heatmap, dtype=np.float32)
    if m.shape != h.shape:
        raise ValueError(f"mask {m.shape} and heatmap {h.shape} differ in shape")
    return m, h


def _f1_iou(m: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    tp = np.count_nonzero(m & pred)
    fp = np.count_nonzero(pred) - tp
    fn = np.count_nonzero(m) - tp
    if tp + fp + fn == 0:
        return 1.0, 1.0
    return 2.0 * tp / (2 * tp + fp + fn), tp / (tp + fp + fn)


def pixel_f1_at(mask, heatmap, threshold: float = 0.5) -> float:
    """F1 of ``heatmap >= threshold`` against the mask, for one image."""
    m, h = _pair(mask, heatmap)
    return _f1_iou(m, h >= threshold)[0]


def pixel_iou_at(mask, heatmap, threshold: float = 0.5) -> float:
    """Intersection over union of ``heatmap >= threshold`` and the mask, for one image."""
    m, h = _pair(mask, heatmap)
    return _f1_iou(m, h >= threshold)[1]


def pixel_f1_best_threshold(mask, heatmap) -> tuple[float, float]:
    """(best F1, its threshold) over every threshold, chosen on this image: optimistic."""
    m, h = _pair(mask, heatmap)
    y, s = m.ravel(), h.ravel()
    n_pos = int(y.sum())
    if n_pos == 0:
        return 1.0, math.inf  # predicting nothing is perfect on an empty mask
    tp, fp, thr = _ranked_counts(y, s.astype(np.float64))
    f1 = 2 * tp / (2 * tp + fp + (n_pos - tp))
    best = int(np.argmax(f1))
    return float(f1[best]), float(thr[best])


def pixel_f1_map_or_inverse(mask, heatmap, threshold: float = 0.5) -> float:
    """max(F1(heatmap), F1(1 - heatmap)) at ``threshold``: forgives a detector that cannot
    tell which of two regions is the forged one (common for noise-based methods)."""
    m, h = _pair(mask, heatmap)
    return max(_f1_iou(m, h >= threshold)[0], _f1_iou(m, (1.0 - h) >= threshold)[0])


def pixel_auc(mask, heatmap) -> float | None:
    """ROC-AUC over this image's pixels; None when the mask is all one class."""
    m, h = _pair(mask, heatmap)
    return roc_auc(m.ravel(), h.ravel().astype(np.float64))


def false_positive_area_at(heatmap, threshold: float = 0.5) -> float:
    """Fraction of an AUTHENTIC image's pixels flagged as manipulated."""
    h = np.asarray(heatmap, dtype=np.float32)
    return float(np.count_nonzero(h >= threshold) / h.size)


# ---------------------------------------------------------------- patch level (Bappy)


def patch_labels(mask, patch: int = 32, min_fraction: float = 0.125) -> np.ndarray:
    """Label each full ``patch`` x ``patch`` tile manipulated when >= ``min_fraction`` of it is
    (Bappy et al.: 64 patches of 32 x 32 per 256 x 256 image, 12.5 %). Partial edge tiles are
    dropped. Works for heatmaps too (tile mean >= min_fraction after thresholding at 0.5)."""
    m = _as_mask(mask).astype(np.float32)
    gh, gw = m.shape[0] // patch, m.shape[1] // patch
    tiles = m[: gh * patch, : gw * patch].reshape(gh, patch, gw, patch).mean(axis=(1, 3))
    return tiles >= min_fraction


def patch_f1(true_patch_labels, pred_patch_labels) -> float:
    """Binary F1 over patches, positive = manipulated (1.0 when both are all negative)."""
    t = np.asarray(true_patch_labels, dtype=bool).ravel()
    p = np.asarray(pred_patch_labels, dtype=bool).ravel()
    if t.shape != p.shape:
        raise ValueError(f"{t.size} true patch labels but {p.size} predicted")
    return _f1_iou(t, p)[0]


# ---------------------------------------------------------------- accumulation over a set


def _f1_counts(tp: int, fp: int, fn: int) -> float:
    """F1 from counts; undefined (NaN) without a single positive to find."""
    return 2 * tp / (2 * tp + fp + fn) if tp + fn else math.nan


@dataclass
class PixelMetricAccumulator:
    """Collects per-image pixel metrics and reports them with explicit names.

    Manipulated images (mask has a positive pixel) feed the F1/IoU/AUC means; authentic images
    (empty mask) feed the false-positive area. Pooled F1 counts every pixel of every
    manipulated image together, a different (and differently named) number.
    """

    threshold: float = 0.5
    rows: list = field(default_factory=list)
    _pooled: list = field(default_factory=lambda: [0, 0, 0])
    _patches: list = field(default_factory=lambda: [0, 0, 0])  # Bappy's patch tp, fp, fn (manipulated images)
    _authentic_patch_fp: int = 0  # patches of authentic images the thresholded map flags

    def add(self, mask, heatmap, name: str = "") -> dict:
        m, h = _pair(mask, heatmap)
        if not m.any():
            self._authentic_patch_fp += int(np.count_nonzero(patch_labels(h >= self.threshold)))
            row = {"image": name, "manipulated": False,
                   "false_positive_area": false_positive_area_at(h, self.threshold)}
        else:
            pred = h >= self.threshold
            f1, iou = _f1_iou(m, pred)
            best_f1, _ = pixel_f1_best_threshold(m, h)
            tp = np.count_nonzero(m & pred)
            self._pooled[0] += tp
            self._pooled[1] += np.count_nonzero(pred) - tp
            self._pooled[2] += np.count_nonzero(m) - tp
            pt, pp = patch_labels(m), patch_labels(pred)
            ptp = int(np.count_nonzero(pt & pp))
            self._patches[0] += ptp
            self._patches[1] += int(np.count_nonzero(pp)) - ptp
            self._patches[2] += int(np.count_nonzero(pt)) - ptp
            row = {"image": name, "manipulated": True, "f1": f1, "iou": iou,
                   "f1_best_threshold": best_f1,
                   "f1_map_or_inverse": pixel_f1_map_or_inverse(m, h, self.threshold),
                   "auc": pixel_auc(m, h)}
        self.rows.append(row)
        return row

    @property
    def authentic_patch_false_positives(self) -> int:
        return self._authentic_patch_fp

    def summary(self, other_authentic_patch_fp: int = 0) -> dict:
        """``other_authentic_patch_fp``: flagged patches of authentic images kept elsewhere (a
        set whose authentic images form their own subset), counted in the all-images patch F1."""
        manip = [r for r in self.rows if r["manipulated"]]
        auth = [r for r in self.rows if not r["manipulated"]]
        aucs = [r["auc"] for r in manip if r["auc"] is not None]
        tp, fp, fn = self._pooled

        def mean(key, rows):
            return float(np.mean([r[key] for r in rows])) if rows else math.nan

        return {
            "n_manipulated": len(manip),
            "n_authentic": len(auth),
            "heat_threshold": self.threshold,
            "f1_mean_per_image": mean("f1", manip),
            "iou_mean_per_image": mean("iou", manip),
            "f1_best_threshold_mean_per_image": mean("f1_best_threshold", manip),
            "f1_map_or_inverse_mean_per_image": mean("f1_map_or_inverse", manip),
            "auc_mean_per_image": float(np.mean(aucs)) if aucs else math.nan,
            "auc_images_skipped": len(manip) - len(aucs),
            "f1_pooled_over_pixels": (2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else math.nan,
            # Bappy et al.'s patch rule (32x32 patches, manipulated at >= 12.5 %) applied to the
            # thresholded pixel map, not a patch classifier's output: not comparable with
            # patch-classifier figures. Pooled over the patches of the manipulated images, and
            # over those of every image (authentic images' flagged patches are false positives).
            "patch_f1_from_map_pooled_over_manipulated_images": _f1_counts(*self._patches),
            "patch_f1_from_map_pooled_over_all_images": _f1_counts(
                self._patches[0], self._patches[1] + self._authentic_patch_fp + other_authentic_patch_fp,
                self._patches[2]),
            "false_positive_area_mean_per_authentic_image": mean("false_positive_area", auth),
        }
