"""``lite-probe-pair``: two linear probes on frozen ImageNet trunks of different sizes
(EfficientNet-Lite0 and Lite2), each on its own views of the native-resolution image, their
logits standardised on validation reals and averaged (``train/probe.py``: ``fit_member``, ``ensemble_of``)."""

from __future__ import annotations

from forenscope.methods import register_method
from forenscope.methods.classifier import ImageClassifier
from forenscope.nets.lite_probe import ProbeEnsemble


@register_method(name="lite-probe-pair", network=ProbeEnsemble, config="configs/lite-probe-pair.toml",
                 input_scale=(0.0, 255.0))  # RGB in [0, 1]; each member normalises (any size, no resizing)
class LiteProbePair(ImageClassifier):
    """Lite0 and Lite2 probes side by side (mean of their standardised logits); images up to
    512 px are scored whole, larger ones as up to 4 tiles of 512 whose logits are averaged."""
