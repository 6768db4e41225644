"""Block statistics shared by the classical detectors: local means, robust outlier maps."""

from __future__ import annotations

import cv2
import numpy as np


def block_size_for(height: int, width: int, lo: int = 16, hi: int = 128) -> int:
    """A block side that gives roughly 48 blocks along the geometric-mean side of the image."""
    return int(np.clip(round(np.sqrt(height * width) / 48), lo, hi))


def block_means(values: np.ndarray, block: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Mean of ``values`` over non-overlapping ``block`` x ``block`` tiles (ragged edges included).

    With ``weights``, a weighted mean; tiles whose weights sum to zero become NaN.
    """
    h, w = values.shape
    gh, gw = -(-h // block), -(-w // block)
    if weights is None:
        return _tile_sum(values, block, gh, gw) / _tile_counts(h, w, block)
    num = _tile_sum(values * weights, block, gh, gw)
    den = _tile_sum(weights.astype(np.float32), block, gh, gw)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1e-12), np.nan).astype(np.float32)


def _tile_counts(h: int, w: int, block: int) -> np.ndarray:
    rows = np.diff(np.append(np.arange(0, h, block), h)).astype(np.float32)
    cols = np.diff(np.append(np.arange(0, w, block), w)).astype(np.float32)
    return np.outer(rows, cols)


def _tile_sum(values: np.ndarray, block: int, gh: int, gw: int) -> np.ndarray:
    h, w = values.shape
    # Summing row bands first keeps the extra memory at gh x w, not another full plane.
    v = values.astype(np.float32, copy=False)
    rows = np.add.reduceat(v, np.arange(0, h, block), axis=0)  # gh x w
    tiles = np.add.reduceat(rows, np.arange(0, w, block), axis=1)  # gh x gw
    return tiles.astype(np.float32)


def robust_z(values: np.ndarray) -> np.ndarray:
    """(v - median) / (1.4826 * MAD): how many robust sigmas each value is from the typical one.

    NaNs stay NaN. A MAD of zero falls back to a small fraction of the median so that a
    perfectly uniform map gives zeros rather than infinities.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    med = float(np.median(finite))
    mad = float(np.median(np.abs(finite - med))) * 1.4826
    scale = max(mad, 1e-3 * abs(med), 1e-6)
    return ((values - med) / scale).astype(np.float32)


def z_to_heat(z: np.ndarray, z_half: float = 3.0) -> np.ndarray:
    """Map an outlier score to [0, 1]: 0 at z <= 0, 0.5 at ``z_half`` sigmas, 1 at twice that."""
    heat = np.clip(np.nan_to_num(z, nan=0.0) / (2.0 * z_half), 0.0, 1.0)
    return heat.astype(np.float32)


def upsample(block_map: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear block map -> full resolution float32 (block centres aligned)."""
    m = np.nan_to_num(block_map.astype(np.float32), nan=0.0)
    return cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)


def top_mean(values: np.ndarray, top_fraction: float = 0.01) -> float:
    """Mean of the highest ``top_fraction`` of the values (at least one; NaN counts as 0)."""
    flat = np.sort(np.nan_to_num(values, nan=0.0).ravel())
    k = max(1, int(round(flat.size * top_fraction)))
    return float(flat[-k:].mean())


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an RGB uint8 image as float32, the usual forensic grey."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
