"""``lite-probe``: a linear probe on frozen EfficientNet-Lite0 ImageNet features pooled over the
native-resolution image, trained on 24 generator families (``train/probe.py``)."""

from __future__ import annotations

import numpy as np

from forenscope.methods import register_method
from forenscope.methods.classifier import ImageClassifier
from forenscope.nets.lite_probe import LiteProbe as LiteProbeNet


@register_method
class LiteProbe(ImageClassifier):
    """Frozen EfficientNet-Lite0 (ImageNet) features pooled over the native-resolution image
    (channel mean and std of the tapped blocks), one linear layer; images up to 512 px are
    scored whole, larger ones as up to 4 tiles of 512 whose logits are averaged."""

    name = "lite-probe"
    config = "configs/lite-probe.toml"
    network = LiteProbeNet

    def prepare(self, rgb: np.ndarray, settings: dict) -> np.ndarray:
        """RGB in [0, 1]; the network normalises (any size, no resizing)."""
        return (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)
