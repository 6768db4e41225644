"""Resampling features of H-LSTM (Bappy et al., TIP 2019) and the Hilbert-curve patch order.

Per 32x32 patch: Laplacian of each colour channel, sqrt of its magnitude, averaged over the
channels; Radon projections at 10 angles; |rfft| of each projection normalised by the mean
magnitude over angles, minus 1: 10 x 24 = 240 numbers. Resampling (interpolation) leaves
periodic correlations that show up as peaks in these spectra.
"""

from __future__ import annotations

import numpy as np

ANGLES = np.linspace(0.0, 180.0, 10, endpoint=False)
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float64)


def laplacian_symmetric(channel: np.ndarray) -> np.ndarray:
    """3x3 Laplacian, 'same' size with symmetric (half-sample) boundary, like scipy's 'symm'."""
    p = np.pad(channel.astype(np.float64), 1, mode="symmetric")
    return (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]) - 4 * p[1:-1, 1:-1]


def patch_resampling_features(patch: np.ndarray) -> np.ndarray:
    """(240,) features of one RGB patch (32x32 in the original; any square size works)."""
    from skimage.transform import radon

    lap = np.mean([np.sqrt(np.abs(laplacian_symmetric(patch[..., c]))) for c in range(patch.shape[2])], axis=0)
    sinogram = radon(lap, theta=ANGLES, circle=False).T  # (angles, projection bins)
    spectrum = np.abs(np.fft.rfft(sinogram, axis=1))
    spectrum = spectrum / (spectrum.mean(axis=0, keepdims=True) + 1e-16)
    return (np.abs(spectrum) - 1.0).ravel().astype(np.float32)


def image_resampling_features(rgb: np.ndarray, patch: int = 32) -> np.ndarray:
    """(n_patches, 240) for the non-overlapping patches of an image in raster order
    (64 x 240 for a 256x256 image)."""
    h, w = rgb.shape[:2]
    if h % patch or w % patch:
        raise ValueError(f"image {w}x{h} is not a whole number of {patch}x{patch} patches")
    rows = [patch_resampling_features(rgb[y:y + patch, x:x + patch])
            for y in range(0, h, patch) for x in range(0, w, patch)]
    return np.stack(rows)


def hilbert_curve(order: int) -> np.ndarray:
    """(2^order, 2^order) matrix of curve indices, built as in the H-LSTM code."""
    c = np.array([[0, 1], [3, 2]])
    for i in range(1, order):
        n = 4**i
        q1 = np.rot90(np.flipud(c), -1)
        q2 = c + n
        q3 = c + 2 * n
        q4 = np.rot90(np.fliplr(c), -1) + 3 * n
        c = np.block([[q1, q2], [q4, q3]])
    return c


def hilbert_order(order: int = 3) -> np.ndarray:
    """Raster indices of the grid cells in curve order (for 8x8: starts 0, 1, 9, 8, 16, ...)."""
    return np.argsort(hilbert_curve(order).ravel(), kind="stable")
