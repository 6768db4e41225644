"""``lite-probe``: a linear probe on frozen EfficientNet-Lite0 ImageNet features pooled over the
native-resolution image, trained on 24 generator families (``train/probe.py``)."""

from __future__ import annotations


from forenscope.methods import register_method
from forenscope.methods.classifier import ImageClassifier
from forenscope.nets.lite_probe import LiteProbe as LiteProbeNet


@register_method(name="lite-probe", network=LiteProbeNet, config="configs/lite-probe.toml",
                 input_scale=(0.0, 255.0))  # RGB in [0, 1]; the network normalises (any size, no resizing)
class LiteProbe(ImageClassifier):
    """Frozen EfficientNet-Lite0 (ImageNet) features pooled over the native-resolution image
    (channel mean and std of the tapped blocks), one linear layer; images up to 512 px are
    scored whole, larger ones as up to 4 tiles of 512 whose logits are averaged."""
