"""Shortcut audit of the generator pool: can format and size (a shortcut), signal statistics or
content statistics tell real from generated? Cross-validated logistic regression AUC over the
whole pool and per family (that family's content confound); ``forenscope audit generator-pool``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from forenscope.data.families import Item, load_item, pool_items
from forenscope.evaluate.metrics import roc_auc


def items_key(items: list[Item]) -> str:
    return hashlib.sha256("\n".join(f"{i.path}|{i.side}|{i.prepared}" for i in items).encode()).hexdigest()[:16]


def cached_array(path: Path, make: Callable[[], np.ndarray]) -> np.ndarray:
    if path.is_file():
        return np.load(path)
    arr = np.asarray(make(), dtype=np.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)
    return arr


STATS = ("hf_energy", "npr_energy", "jpeg_blockiness", "jpeg_quality", "pixels", "aspect",
         "brightness", "contrast", "saturation", "white_share", "flat_share", "edge_density")


# what the file says (format and size: a shortcut if it separates the classes), what its signal
# says (noise and sharpness: partly the very trace a detector should find), what it shows
STAT_GROUPS = {"format_size": [3, 4, 5], "signal": [0, 1, 2], "content": [6, 7, 8, 9, 10, 11]}


def image_stats(rgb: np.ndarray) -> list[float]:
    """Simple statistics a shortcut could use: signal (high-frequency and NPR energy, JPEG
    blockiness), size, and content (brightness, contrast, saturation, white and flat areas,
    edges)."""
    from forenscope.evaluate.shortcuts import image_features

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    h, w = grey.shape
    blocks = grey[: h - h % 8, : w - w % 8].reshape(h // 8, 8, w // 8, 8).std(axis=(1, 3))
    edges = cv2.Canny(rgb, 100, 200)
    return image_features(rgb) + [float(grey.mean()), float(grey.std()), float(hsv[..., 1].mean()),
                                  float((grey > 245).mean()), float((blocks < 1.0).mean()), float((edges > 0).mean())]


def audit_pool(data: Path, art: Path | None, cache: Path | None = None, limit: float = 0.6) -> dict:
    """``forenscope audit generator-pool``: the audit below on the pool as training sees it."""
    items = pool_items(data, art)

    def make():
        return np.array([image_stats(load_item(i)) for i in items])

    stats = cached_array(cache / f"stats-{items_key(items)}.npy", make) if cache else make()
    return pool_audit(items, stats, limit) | {"source": f"generator pool ({data}, art: {art})",
                                             "n": len(items), "fakes": int(sum(i.label for i in items))}


def audit_markdown(a: dict) -> str:
    g = a["cv_auc"]
    lines = [f"Logistic regression, 5-fold cross-validated AUC, real vs generated over the whole pool: "
             f"format and size (JPEG quality, pixels, aspect) **{g['format_size']:.3f}** (limit {a['limit']}: "
             f"{'passes' if a['passes'] else 'FAILS'}); signal statistics (high-frequency and NPR energy, JPEG "
             f"blockiness) {g['signal']:.3f}; content (brightness, contrast, saturation, white / flat share, "
             f"edges) {g['content']:.3f}; all together {g['all']:.3f}.", "",
             "| statistic | AUC alone |", "|---|---|"] + [f"| {k} | {v:.3f} |" for k, v in a["single_stat_auc"].items()]
    lines += ["", "Content confound per family (that family's fakes vs all reals, all statistics, CV AUC):", "",
              "| family | AUC |", "|---|---|"] + [f"| {k} | {v:.3f} |" for k, v in a["content_auc_by_family"].items()]
    return "\n".join(lines) + "\n"


def pool_audit(items: list[Item], stats: np.ndarray, limit: float = 0.6) -> dict:
    """Can format and size (a shortcut), signal statistics or content statistics tell the
    classes apart? Cross-validated logistic regression AUC over the whole pool, and per
    family (that family's fakes against all reals: its content confound)."""
    from forenscope.evaluate.shortcuts import _logistic_cv_auc

    y = np.array([it.label for it in items], dtype=float)
    x = np.log1p(np.abs(stats))

    def cv(cols, mask=None):
        m = np.ones(len(y), bool) if mask is None else mask
        a = _logistic_cv_auc(x[m][:, cols], y[m])
        return round(max(a, 1 - a), 4)

    single = {}
    for i, name in enumerate(STATS):
        a = roc_auc(y, x[:, i]) if np.ptp(x[:, i]) > 0 else 0.5
        single[name] = round(max(a, 1 - a), 4)
    allc = list(range(len(STATS)))
    groups = {name: cv(cols) for name, cols in STAT_GROUPS.items()} | {"all": cv(allc)}
    fams = sorted({it.family for it in items if it.label})
    real = y == 0
    by_family = {f: cv(allc, real | np.array([it.family == f for it in items])) for f in fams}
    return {"cv_auc": groups, "single_stat_auc": single, "content_auc_by_family": by_family, "limit": limit,
            "passes": bool(groups["format_size"] <= limit)}

