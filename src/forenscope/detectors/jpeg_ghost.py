"""``jpeg-ghost``: regions that were once saved at a lower JPEG quality than the rest.

For each quality q in 50..95 the image is re-saved and the block-wise squared difference
measured; each block's curve over q is divided by its own level (texture cancels), and a
block whose curve dips well below the other blocks' at some q is flagged: it was quantised
at q before (Farid 2009). Works on JPEGs and on lossless images that contain a JPEG paste.
"""

from __future__ import annotations

import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors.base import BlockOutlierDetector
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.signals.blocks import block_size_for, robust_z
from forenscope.signals.jpeg_ghost import DEFAULT_QUALITIES, ghost_curves, ghost_differences


@register_detector("jpeg-ghost", task="localize")
class JpegGhostDetector(BlockOutlierDetector):
    def __init__(self, qualities=DEFAULT_QUALITIES, threshold: float | None = None, z_half: float = 3.0):
        super().__init__(threshold, z_half)
        self.qualities = tuple(int(q) for q in qualities)
        if not self.qualities or not all(1 <= q <= 100 for q in self.qualities):
            raise ValueError(f"qualities must be in 1..100, got {qualities}")

    def config(self) -> dict:
        return {**super().config(), "qualities": list(self.qualities)}

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        h, w = rgb.shape[:2]
        block = block_size_for(h, w)
        curves = ghost_curves(ghost_differences(rgb, block, self.qualities))
        # A dip below the other blocks at the same quality is the ghost: one-sided, low side.
        z_per_q = np.stack([-robust_z(c) for c in curves])
        best = np.argmax(z_per_q, axis=0)
        z = np.take_along_axis(z_per_q, best[None], axis=0)[0]
        flagged = z >= self.z_half
        ghost_q = (
            int(np.bincount(best[flagged], minlength=len(self.qualities)).argmax())
            if flagged.any() else None
        )
        extras = {
            "block": block,
            "ghost_quality": None if ghost_q is None else self.qualities[ghost_q],
            "image_jpeg_quality": meta.jpeg_quality if meta else None,
        }
        return self._from_block_z(z, h, w, extras)
