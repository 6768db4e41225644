"""Colour spaces for the Pelee+HPF detector, as Lee & Park feed them (values in [0, 1]).

- ``rgb``: pixels / 255, no mean/std normalisation.
- ``hsv``: OpenCV's 8-bit HSV (H in [0, 179]) written back as if BGR, so the network sees the
  channels in the order (V, S, H), each / 255.
- ``ycbcr``: kornia's formula on [0, 1] RGB (Cb, Cr offset by 0.5).
"""

from __future__ import annotations

import cv2
import numpy as np

COLOUR_SPACES = ("rgb", "hsv", "ycbcr")


def convert_colour(rgb: np.ndarray, space: str) -> np.ndarray:
    """RGB uint8 H x W x 3 -> float32 H x W x 3 in the chosen space."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("convert_colour expects an RGB uint8 H x W x 3 array")
    if space == "rgb":
        return rgb.astype(np.float32) / 255.0
    if space == "hsv":
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)  # uint8 H, S, V
        return hsv[..., ::-1].astype(np.float32) / 255.0  # (V, S, H)
    if space == "ycbcr":
        x = rgb.astype(np.float32) / 255.0
        r, g, b = x[..., 0], x[..., 1], x[..., 2]
        y = 0.299 * r + 0.587 * g + 0.114 * b
        return np.stack([y, (b - y) * 0.564 + 0.5, (r - y) * 0.713 + 0.5], axis=-1)
    raise ValueError(f"unknown colour space {space!r}; choose from {', '.join(COLOUR_SPACES)}")
