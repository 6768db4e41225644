"""``npr``: Neighbouring Pixel Relationships (Tan et al., CVPR 2024). The image minus its
nearest-neighbour re-upsampled half (signals/npr) through a truncated ResNet (nets/npr)."""

from __future__ import annotations

import numpy as np

from forenscope.methods import register_method
from forenscope.methods.classifier import ImageClassifier
from forenscope.nets.npr import NPRNet
from forenscope.signals.preprocess import imagenet_normalise


@register_method(name="npr", network=NPRNet, config="configs/npr.toml")
class NPR(ImageClassifier):
    """NPR residual + truncated ResNet (the published width 64, blocks 2-2 instead of 3-4)."""

    def prepare(self, rgb: np.ndarray, settings: dict) -> np.ndarray:
        """ImageNet-normalised RGB, even sides (the residual needs whole 2 x 2 blocks)."""
        h, w = rgb.shape[:2]
        return imagenet_normalise(rgb[: h - h % 2, : w - w % 2])
