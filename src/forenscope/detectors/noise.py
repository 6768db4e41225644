"""``noise``: local noise-level inconsistency.

The noise sigma of each block is estimated from the Immerkær high-pass residual over pixels
away from strong edges; blocks whose sigma departs from the image's typical sigma in either
direction (a noisier paste, a smoother paste or inpainting) are flagged. Sigma is compared on
a log scale so that "twice as noisy" and "half as noisy" weigh the same.

Too little noise is only evidence where there is content: a flat sky or a clipped highlight
is quiet in every authentic photo, while a textured block without noise was smoothed. So
low-side outliers count only in blocks at least as textured as the image's median block.
"""

from __future__ import annotations

import cv2
import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors.base import BlockOutlierDetector
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.signals.blocks import block_means, block_size_for, robust_z, to_grey
from forenscope.signals.noise import (
    edge_weights,
    gradient_magnitude,
    high_pass_residual,
    residual_to_sigma,
)


@register_detector("noise", task="localize")
class NoiseDetector(BlockOutlierDetector):
    def __init__(self, block: int | None = None, threshold: float | None = None, z_half: float = 3.0):
        super().__init__(threshold, z_half)
        self.block = None if block is None else int(block)

    def config(self) -> dict:
        return {**super().config(), "block": self.block}

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        h, w = rgb.shape[:2]
        block = self.block or block_size_for(h, w)
        grey = to_grey(rgb)
        # Content measured at a coarser scale (sigma 2), where a smoothing leaves it intact.
        texture = block_means(gradient_magnitude(cv2.GaussianBlur(grey, (0, 0), 2.0)), block)
        magnitude = gradient_magnitude(grey)
        # Clipped pixels carry no noise: leave them out, with strong edges, of the estimate.
        weights = edge_weights(magnitude) & ((grey > 4) & (grey < 251)).astype(np.uint8)
        del magnitude
        residual = np.abs(high_pass_residual(grey))
        del grey
        sigma = residual_to_sigma(block_means(residual, block, weights))
        usable = block_means(weights.astype(np.float32), block)
        del residual, weights
        # Mostly clipped, or no noise at all: nothing to measure (NaN -> zero heat).
        sigma[(usable < 0.25) | ~(sigma > 0.05)] = np.nan
        z = robust_z(np.log(sigma))
        textured = texture >= np.median(texture)
        z = np.where(textured, np.abs(z), np.maximum(z, 0.0))
        return self._from_block_z(
            z, h, w, {"block": block, "median_noise_sigma":
                      float(np.nanmedian(sigma)) if np.isfinite(sigma).any() else None},
        )
