"""``ela``: error level analysis, read as a per-block outlier map.

The error of one extra JPEG round trip at ``quality`` is averaged per block and compared
with the image's typical block; blocks that re-compress with markedly *more* error than the
rest are flagged. Texture raises the error too, so expect edges of busy regions to light up
on authentic images: ELA is a view for an analyst first, a detector second.
"""

from __future__ import annotations

import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors.base import BlockOutlierDetector
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.signals.blocks import block_means, block_size_for, robust_z
from forenscope.signals.ela import error_level


@register_detector("ela", task="localize")
class ELADetector(BlockOutlierDetector):
    def __init__(self, quality: int = 90, threshold: float | None = None, z_half: float = 3.0):
        super().__init__(threshold, z_half)
        if not 1 <= int(quality) <= 100:
            raise ValueError(f"ELA quality must be in 1..100, got {quality}")
        self.quality = int(quality)

    def config(self) -> dict:
        return {**super().config(), "quality": self.quality}

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        h, w = rgb.shape[:2]
        block = block_size_for(h, w)
        err_blocks = block_means(error_level(rgb, self.quality), block)
        z = robust_z(err_blocks)
        return self._from_block_z(
            z, h, w, {"block": block, "quality": self.quality,
                      "mean_error_level": float(np.nanmean(err_blocks))},
        )
