"""Noise residuals and local noise level estimation.

Every camera image carries sensor and processing noise of a roughly uniform level; a region
pasted from elsewhere, blurred, or synthesised often carries a different level. The residual of
Immerkær's Laplacian-difference kernel removes smooth content; its mean absolute value,
over pixels away from strong edges, estimates the noise sigma (Immerkær, CVIU 1996).
"""

from __future__ import annotations

import cv2
import numpy as np

# Difference of two Laplacians: zero response to planes and to quadratic ramps along an axis.
IMMERKAER_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_SIGMA_FACTOR = float(np.sqrt(np.pi / 2.0) / 6.0)  # |r| mean -> sigma for Gaussian noise


def high_pass_residual(grey: np.ndarray) -> np.ndarray:
    """The Immerkær residual of a grey float32 image (same size, reflected borders)."""
    return cv2.filter2D(grey.astype(np.float32, copy=False), -1, IMMERKAER_KERNEL,
                        borderType=cv2.BORDER_REFLECT)


def gradient_magnitude(grey: np.ndarray) -> np.ndarray:
    """|d/dx| + |d/dy| (Sobel), float32: the amount of content around each pixel."""
    mag = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3))
    mag += np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))
    return mag


def edge_weights(magnitude: np.ndarray, quantile: float = 0.9) -> np.ndarray:
    """1 where the gradient is below the image's ``quantile`` gradient, else 0 (uint8)."""
    step = (max(1, magnitude.shape[0] // 512), max(1, magnitude.shape[1] // 512))
    limit = float(np.quantile(magnitude[:: step[0], :: step[1]], quantile))
    return (magnitude <= limit).astype(np.uint8)


def residual_to_sigma(abs_residual_mean: np.ndarray | float) -> np.ndarray | float:
    """Mean |Immerkær residual| -> Gaussian noise sigma."""
    return abs_residual_mean * _SIGMA_FACTOR
