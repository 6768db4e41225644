"""Making a forged region look like its surroundings (the ``realistic`` forgery recipe): the
colour and light of a pasted region matched to the ring of pixels around where it lands, its
noise level matched to theirs, and the sensor noise that a diffusion fill smooths away put
back. Without these, a localiser can learn seams (a colour step, a noise step) that people's
forgeries do not have; ``scripts/audit_forgery_realism.py`` measures what is left.
"""

from __future__ import annotations

import cv2
import numpy as np


def ring(mask: np.ndarray, width: int) -> np.ndarray:
    """The pixels within ``width`` of ``mask`` and outside it."""
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return (cv2.dilate(mask.astype(np.uint8), kernel) > 0) & ~mask


def noise_sigma(rgb: np.ndarray, where: np.ndarray | None = None) -> float:
    """Robust noise level of the luma: 1.4826 x the median absolute high-pass residual
    (image minus its Gaussian blur, sigma 1) over ``where`` (all pixels when None)."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
    residual = grey - cv2.GaussianBlur(grey, (0, 0), 1.0)
    values = residual[where] if where is not None and where.sum() > 20 else residual.ravel()
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def match_surroundings(patch: np.ndarray, inside: np.ndarray, reference: np.ndarray, strength: float,
                       spread: float | None = None) -> np.ndarray:
    """Move the patch's Lab mean (over ``inside``) towards that of the ``reference`` pixels by
    ``strength`` in [0, 1], and its spread by ``spread`` (default: ``strength``), its ratio
    clipped to [0.5, 2]: light and colour harmonised (Reinhard transfer)."""
    spread = strength if spread is None else spread
    src = cv2.cvtColor(patch, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).astype(np.float32).reshape(-1, 3)
    m_s, s_s = src[inside].mean(0), src[inside].std(0) + 1e-3
    m_r, s_r = ref.mean(0), ref.std(0) + 1e-3
    scale = 1.0 + spread * (np.clip(s_r / s_s, 0.5, 2.0) - 1.0)  # spread 1: the clipped ratio exactly
    out = (src - m_s) * scale + m_s + strength * (m_r - m_s)
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def match_noise(patch: np.ndarray, inside: np.ndarray, target_sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Bring the patch's noise level to ``target_sigma``: add Gaussian noise when it is cleaner,
    blur it a little when it is noisier (a pasted region from a noisier camera)."""
    own = noise_sigma(patch, inside)
    if own < target_sigma:
        extra = np.sqrt(target_sigma ** 2 - own ** 2)
        noise = rng.normal(0.0, extra, patch.shape[:2])[..., None]  # luma-like: the same in every channel
        return np.clip(patch.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if own > 1.3 * target_sigma:
        sigma = float(np.clip(0.35 * np.log(own / max(target_sigma, 1e-3)) + 0.3, 0.3, 1.2))
        return cv2.GaussianBlur(patch, (0, 0), sigma)
    return patch


def renoise(image: np.ndarray, mask: np.ndarray, reference: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Put back, inside ``mask``, the noise level of the ``reference`` pixels (a ring around the
    region) that a diffusion fill smoothed away."""
    target = noise_sigma(image, reference)
    own = noise_sigma(image, mask)
    if own >= target:
        return image
    extra = np.sqrt(target ** 2 - own ** 2)
    noise = rng.normal(0.0, extra, image.shape[:2])[..., None]
    out = image.astype(np.float32)
    out[mask] += noise[mask]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
