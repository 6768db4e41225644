"""Co-occurrence of chroma edges, the input of "No one can escape" (IEEE Access 2019;
METHODS.md section 4.2).

Cr and Cb of YCrCb -> Scharr edge magnitude 0.5|gx| + 0.5|gy| clipped to [0, T-1] -> for the
offsets right, down-right, down, down-left (skimage's angles 0, pi/4, pi/2, 3pi/4 at distance
1), a T x T count of (value here, value at the offset) pairs: 8 x T x T for any image size.

The original feeds raw counts, whose magnitude is the number of pixel pairs: the image's size
leaks into the input (METHODS.md 4.8). ``norm="sum"`` (the default) divides each plane by its
pair count, so an image and its upscale differ only in their edge statistics; ``"none"`` is the
faithful raw count and ``"log1p"`` compresses it.
"""

from __future__ import annotations

import cv2
import numpy as np

# (row, col) offsets of skimage.feature.graycomatrix for angles 0, pi/4, pi/2, 3pi/4, distance 1
OFFSETS = ((0, 1), (1, 1), (1, 0), (1, -1))
NORMS = ("sum", "none", "log1p")


def chroma_edges(rgb: np.ndarray, levels: int = 192) -> np.ndarray:
    """(2, H, W) int64: Scharr edge magnitude of Cr and Cb, clipped to [0, levels - 1]."""
    ycrcb = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)
    out = []
    for c in (1, 2):
        ch = ycrcb[..., c]
        gx = cv2.Scharr(ch, cv2.CV_16S, 1, 0)
        gy = cv2.Scharr(ch, cv2.CV_16S, 0, 1)
        e = cv2.addWeighted(np.abs(gx), 0.5, np.abs(gy), 0.5, 0)  # int16, rounded as OpenCV does
        out.append(np.clip(e.astype(np.int64), 0, levels - 1))
    return np.stack(out)


def cooccurrence(values: np.ndarray, levels: int) -> np.ndarray:
    """(4, levels, levels) raw pair counts of a 2-D int array with values in [0, levels)."""
    h, w = values.shape
    planes = []
    for dr, dc in OFFSETS:
        c0, c1 = max(0, -dc), w - max(0, dc)
        here = values[0:h - dr, c0:c1]
        there = values[dr:h, c0 + dc:c1 + dc]
        idx = (here * levels + there).ravel()
        planes.append(np.bincount(idx, minlength=levels * levels).reshape(levels, levels))
    return np.stack(planes)


def cooc_input(rgb: np.ndarray, levels: int = 192, norm: str = "sum") -> np.ndarray:
    """(8, levels, levels) float32 network input: Cr's 4 planes then Cb's."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    if min(rgb.shape[:2]) < 2:
        raise ValueError(f"image too small for co-occurrence: {rgb.shape[1]}x{rgb.shape[0]}")
    edges = chroma_edges(rgb, levels)
    counts = np.concatenate([cooccurrence(e, levels) for e in edges]).astype(np.float32)
    if norm == "sum":
        counts /= counts.sum(axis=(1, 2), keepdims=True)
    elif norm == "log1p":
        counts = np.log1p(counts)
    return counts
