"""Shortcut check: can simple statistics alone tell the training classes apart?

If high-frequency energy, NPR residual energy, JPEG blockiness / quality or size separate
real from fake, a detector can learn those instead of the generator's trace (the "blurry =
fake" trap). Reported: each feature's AUC on its own (folded to >= 0.5) and the
cross-validated AUC of a logistic regression on all of them. The target is <= 0.6.
"""

from __future__ import annotations

import cv2
import numpy as np

from forenscope.evaluate.metrics import roc_auc

FEATURES = ("hf_energy", "npr_energy", "jpeg_blockiness", "jpeg_quality", "pixels", "aspect")


def image_features(rgb: np.ndarray, jpeg_quality: int = 0, size: tuple[int, int] | None = None) -> list[float]:
    """``size``: the (height, width) to report, when ``rgb`` is a crop of a larger image."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = grey.shape
    hf = float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())
    g = grey[: h - h % 2, : w - w % 2]
    npr = float(np.abs(g - np.repeat(np.repeat(g[::2, ::2], 2, 0), 2, 1)).mean())
    dx = np.abs(np.diff(grey, axis=1))
    on_grid = dx[:, 7::8].mean() if dx.shape[1] > 8 else 0.0
    blockiness = float(on_grid / (dx.mean() + 1e-6))
    sh, sw = size or (h, w)
    return [hf, npr, blockiness, float(jpeg_quality), float(sh * sw), float(sw / sh)]


def _logistic_cv_auc(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated AUC of an L2 logistic regression (numpy, gradient descent)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    scores = np.zeros(len(y))
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-9
        xt = np.c_[(x[train] - mu) / sd, np.ones(len(train))]
        w = np.zeros(xt.shape[1])
        for _ in range(500):
            p = 1 / (1 + np.exp(-xt @ w))
            w -= 0.5 * (xt.T @ (p - y[train]) / len(train) + 1e-3 * w)
        scores[test] = np.c_[(x[test] - mu) / sd, np.ones(len(test))] @ w
    return float(roc_auc(y, scores))


def shortcut_report(features: np.ndarray, labels: np.ndarray, limit: float = 0.6) -> dict:
    labels = np.asarray(labels, dtype=float)
    per_feature = {}
    for i, name in enumerate(FEATURES):
        col = features[:, i]
        auc = roc_auc(labels, col) if np.ptp(col) > 0 else 0.5
        per_feature[name] = round(max(auc, 1 - auc), 4)
    combined = _logistic_cv_auc(np.log1p(np.abs(features)), labels)
    worst = max([combined, *per_feature.values()])
    return {"n": int(len(labels)), "single_feature_auc": per_feature,
            "logistic_regression_cv_auc": round(max(combined, 1 - combined), 4),
            "limit": limit, "passes": bool(worst <= limit)}
