"""JPEG ghosts (Farid, IEEE TIFS 2009).

Re-saving an image at quality q changes a region little when that region was already
quantised at q. A region that went through a lower-quality JPEG than the rest of the image
therefore shows a dip ("ghost") in its re-compression difference at that quality.
"""

from __future__ import annotations

import numpy as np

from forenscope.signals.blocks import block_means
from forenscope.signals.ela import jpeg_roundtrip

DEFAULT_QUALITIES = tuple(range(50, 100, 5))


def ghost_differences(rgb: np.ndarray, block: int, qualities=DEFAULT_QUALITIES) -> np.ndarray:
    """Block-mean squared re-compression differences, shape (len(qualities), gh, gw)."""
    maps = []
    for q in qualities:
        resaved = jpeg_roundtrip(rgb, q)
        sq = np.zeros(rgb.shape[:2], dtype=np.float32)
        for c in range(3):
            d = rgb[..., c].astype(np.float32) - resaved[..., c]
            sq += d * d
        del resaved
        maps.append(block_means(sq / 3.0, block))
    return np.stack(maps)


def ghost_curves(diffs: np.ndarray) -> np.ndarray:
    """Each block's difference curve divided by its own mean over qualities.

    Textured blocks have large differences at every quality, flat blocks small ones; dividing
    by the block's own level keeps only the curve's shape, where a ghost is a dip.
    """
    level = diffs.mean(axis=0, keepdims=True)
    floor = 0.1 * float(np.median(level)) + 1e-6  # flat blocks: avoid dividing noise by ~0
    return diffs / (level + floor)
