"""L2-regularised logistic regression in closed numpy / torch form: the probe's linear layer,
the localisers' image head and the audits' out-of-fold scores all fit it here. Rows can be
weighted so that every group (generator family, real source) weighs the same."""

from __future__ import annotations

import numpy as np
import torch


def threshold_for_fpr(real_scores: np.ndarray, target: float) -> float:
    """The lowest threshold that flags at most ``target`` of these real images' scores."""
    s = np.sort(np.asarray(real_scores, dtype=np.float64))[::-1]
    allowed = int(np.floor(target * len(s) + 1e-9))
    return float(np.nextafter(s[allowed], np.inf)) if allowed < len(s) else float(s[-1])


def row_weights(y: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Per-row weights that give each class half the total; with ``groups`` (e.g. generator
    family / real source per row), each group within its class weighs the same, so 369 images
    of one generator count no more than 11 of another."""
    w = np.ones(len(y)) if groups is None else np.zeros(len(y))
    if groups is not None:
        for cls in (0, 1):
            rows = np.flatnonzero(y == cls)
            _, inverse, counts = np.unique(groups[rows], return_inverse=True, return_counts=True)
            w[rows] = 1.0 / counts[inverse]
    for cls in (0, 1):
        rows = y == cls
        if rows.any():
            w[rows] *= len(y) / (2 * w[rows].sum())
    return w


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, max_iter: int = 200,
                 groups: np.ndarray | None = None) -> dict:
    """L2-regularised logistic regression, classes weighted equally (and, with ``groups``, each
    group within its class; see ``row_weights``), on standardised features. Deterministic
    (full-batch L-BFGS in float64). Returns mean, scale, weight, bias."""
    mean = x.mean(0)
    scale = x.std(0) + 1e-6
    xs = torch.from_numpy((x - mean) / scale).double()
    yt = torch.from_numpy(y.astype(np.float64))
    sw = torch.from_numpy(row_weights(y, groups))
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-7, tolerance_change=1e-10,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = xs @ w + b
        loss = (sw * torch.nn.functional.binary_cross_entropy_with_logits(z, yt, reduction="none")).mean()
        loss = loss + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {"mean": mean, "scale": scale, "weight": w.detach().numpy().copy(), "bias": float(b.detach()[0])}


def out_of_fold_logits(x: np.ndarray, y: np.ndarray, l2: float, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each row's logit from a ``fit_logistic`` model that did not see it: ``folds`` folds,
    stratified by label (each class dealt round-robin in a seeded order)."""
    y = np.asarray(y).astype(int)
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), int)
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        fold[idx] = np.arange(len(idx)) % folds
    out = np.zeros(len(y))
    for k in range(folds):
        model = fit_logistic(x[fold != k], y[fold != k], l2)
        out[fold == k] = probe_logits(model, x[fold == k])
    return out


def probe_logits(model: dict, x: np.ndarray) -> np.ndarray:
    return ((x - model["mean"]) / model["scale"]) @ model["weight"] + model["bias"]

