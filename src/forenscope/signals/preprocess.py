"""Each trained method's input transform, from RGB uint8 to the float32 C x H x W its network
expects. Training and inference call the same function, so they cannot drift apart."""

from __future__ import annotations

import numpy as np

from forenscope.signals.colour import convert_colour

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def imagenet_normalise(rgb: np.ndarray) -> np.ndarray:
    return ((rgb.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)


def network_input(rgb: np.ndarray, family: str, colour: str = "rgb") -> np.ndarray:
    """NPR: ImageNet-normalised RGB, even size (its residual needs 2 x 2 blocks).
    Pelee+HPF: the chosen colour space in [0, 1], no normalisation (as published), cropped to
    sides divisible by 4 (after the unpadded 5 x 5 filter, the stem's strided conv and its
    max-pool branch disagree in size otherwise)."""
    if family == "npr":
        h, w = rgb.shape[:2]
        return imagenet_normalise(rgb[: h - h % 2, : w - w % 2])
    if family == "pelee":
        h, w = rgb.shape[:2]
        return convert_colour(rgb[: h - h % 4, : w - w % 4], colour).transpose(2, 0, 1)
    if family == "lite-probe":  # RGB in [0, 1]; the network normalises (any size, no resizing)
        return (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)
    raise ValueError(f"unknown network family {family!r}")
