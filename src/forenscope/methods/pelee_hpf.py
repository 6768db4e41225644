"""``pelee-hpf``: a fixed KV high-pass filter in front of a compact PeleeNet, in a chosen
colour space (Lee & Park 2021)."""

from __future__ import annotations

import numpy as np

from forenscope.methods import register_method
from forenscope.methods.classifier import ImageClassifier
from forenscope.nets.pelee import PeleeHPF
from forenscope.signals.colour import convert_colour


@register_method(name="pelee", detector="pelee-hpf", network=PeleeHPF, config="configs/pelee-hpf.toml")
class Pelee(ImageClassifier):
    """Fixed KV high-pass + PeleeNet (compact), in the colour space its card names."""

    def prepare(self, rgb: np.ndarray, settings: dict) -> np.ndarray:
        """The card's colour space in [0, 1], no normalisation (as published), sides divisible
        by 4 (after the unpadded 5 x 5 filter, the stem's strided conv and its max-pool branch
        disagree in size otherwise)."""
        h, w = rgb.shape[:2]
        return convert_colour(rgb[: h - h % 4, : w - w % 4], settings.get("colour", "rgb")).transpose(2, 0, 1)
