"""Resampling features of H-LSTM (Bappy et al., TIP 2019) and the Hilbert-curve patch order.

Per 32x32 patch: Laplacian of each colour channel, sqrt of its magnitude, averaged over the
channels; Radon projections at 10 angles; |rfft| of each projection normalised by the mean
magnitude over angles, minus 1: 10 x 24 = 240 numbers. Resampling (interpolation) leaves
periodic correlations that show up as peaks in these spectra.

The Radon transform (scikit-image, linear interpolation) is linear in the image, so it is
applied as one precomputed matrix per patch size: a whole image's patches in one product,
equal to ``skimage.transform.radon`` to float precision (tested) and about 100x faster, so
features can be made on the fly during training instead of cached.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

ANGLES = np.linspace(0.0, 180.0, 10, endpoint=False)
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float64)


def laplacian_symmetric(channel: np.ndarray) -> np.ndarray:
    """3x3 Laplacian, 'same' size with symmetric (half-sample) boundary, like scipy's 'symm'."""
    p = np.pad(channel.astype(np.float64), 1, mode="symmetric")
    return (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]) - 4 * p[1:-1, 1:-1]


@lru_cache(maxsize=4)
def radon_matrix(size: int) -> np.ndarray:
    """(size*size, angles*bins): row k is the sinogram (angle-major) of the k-th basis image."""
    from skimage.transform import radon

    basis = np.eye(size * size).reshape(size * size, size, size)
    return np.stack([radon(b, theta=ANGLES, circle=False).T.ravel() for b in basis])


def _laplacian_magnitude(patches: np.ndarray) -> np.ndarray:
    """(n, s, s, 3) patches -> (n, s, s): sqrt|Laplacian| per channel (symmetric boundary
    within each patch, as the original convolves patch by patch), averaged over channels."""
    p = np.pad(patches.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)), mode="symmetric")
    lap = p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] - 4 * p[:, 1:-1, 1:-1]
    return np.sqrt(np.abs(lap)).mean(axis=3)


def _spectra(lap: np.ndarray) -> np.ndarray:
    n, s = lap.shape[:2]
    sinograms = (lap.reshape(n, s * s) @ radon_matrix(s)).reshape(n, len(ANGLES), -1)
    spectrum = np.abs(np.fft.rfft(sinograms, axis=2))
    spectrum = spectrum / (spectrum.mean(axis=1, keepdims=True) + 1e-16)
    return (spectrum - 1.0).reshape(n, -1).astype(np.float32)


def patch_resampling_features(patch: np.ndarray) -> np.ndarray:
    """(240,) features of one RGB patch (32x32 in the original; any square size works)."""
    return _spectra(_laplacian_magnitude(patch[None]))[0]


def image_resampling_features(rgb: np.ndarray, patch: int = 32) -> np.ndarray:
    """(n_patches, 240) for the non-overlapping patches of an image in raster order
    (64 x 240 for a 256x256 image)."""
    h, w = rgb.shape[:2]
    if h % patch or w % patch:
        raise ValueError(f"image {w}x{h} is not a whole number of {patch}x{patch} patches")
    gh, gw = h // patch, w // patch
    patches = rgb.reshape(gh, patch, gw, patch, -1).transpose(0, 2, 1, 3, 4).reshape(gh * gw, patch, patch, -1)
    return _spectra(_laplacian_magnitude(patches))


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
