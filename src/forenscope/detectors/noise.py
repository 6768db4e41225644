"""``noise``: local noise-level inconsistency.

The noise sigma of each block is estimated from the Immerkær high-pass residual over pixels
away from strong edges; blocks whose sigma departs from the image's typical sigma in either
direction (a noisier paste, a smoother paste or inpainting) are flagged. Sigma is compared on
a log scale so that "twice as noisy" and "half as noisy" weigh the same.
"""

from __future__ import annotations

import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors.base import BlockOutlierDetector
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.signals.blocks import block_means, block_size_for, robust_z, to_grey
from forenscope.signals.noise import edge_weights, high_pass_residual, residual_to_sigma


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
        weights = edge_weights(grey)
        residual = np.abs(high_pass_residual(grey))
        del grey
        sigma = residual_to_sigma(block_means(residual, block, weights))
        del residual, weights
        log_sigma = np.log(np.maximum(sigma, 0.05))  # 0.05 grey levels: below 8-bit quantisation
        z = np.abs(robust_z(log_sigma))
        return self._from_block_z(
            z, h, w, {"block": block, "median_noise_sigma": float(np.nanmedian(sigma))},
        )
