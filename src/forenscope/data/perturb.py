"""Real-world processing an image meets after it is made: recompression, resizing, cropping,
blur, noise, tone changes, and the chain a social network applies. Each perturbation takes an
RGB image, its mask (or None) and a seeded generator, and returns both transformed alike
(geometric ones move the mask with the pixels)."""

from __future__ import annotations

import io
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from forenscope.data.augment import gaussian_blur, jpeg

Perturb = Callable[[np.ndarray, "np.ndarray | None", float, np.random.Generator], tuple]
KERNELS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
           "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}
SOCIAL_LONG_SIDE = (1080, 2048)
SOCIAL_QUALITY = (70, 85)


def _resize(rgb, mask, scale: float, kernel: str):
    h, w = rgb.shape[:2]
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    out = cv2.resize(rgb, size, interpolation=KERNELS[kernel])
    m = None if mask is None else cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return out, m


def webp(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "WEBP", quality=int(quality), method=4)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        return np.asarray(im.convert("RGB"))


def _crop(rgb, mask, keep: float, rng):
    h, w = rgb.shape[:2]
    ch, cw = max(8, round(h * keep)), max(8, round(w * keep))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return rgb[y:y + ch, x:x + cw].copy(), None if mask is None else mask[y:y + ch, x:x + cw].copy()


def _noise(rgb, sigma: float, rng):
    return np.clip(rgb + rng.normal(0, sigma, rgb.shape), 0, 255).astype(np.uint8)


def _tone(rgb, gamma: float = 1.0, contrast: float = 1.0):
    x = (rgb.astype(np.float32) / 255.0) ** gamma
    x = (x - 0.5) * contrast + 0.5
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def social(rgb, mask, rng):
    """As a social network serves an upload: shrunk to a long side drawn from 1080-2048 (never
    enlarged), then JPEG at a quality drawn from 70-85."""
    long_side = int(rng.integers(SOCIAL_LONG_SIDE[0], SOCIAL_LONG_SIDE[1] + 1))
    if max(rgb.shape[:2]) > long_side:
        rgb, mask = _resize(rgb, mask, long_side / max(rgb.shape[:2]), "area")
    return jpeg(rgb, int(rng.integers(SOCIAL_QUALITY[0], SOCIAL_QUALITY[1] + 1))), mask


PERTURBATIONS: dict[str, Perturb] = {
    "jpeg": lambda rgb, m, q, rng: (jpeg(rgb, int(q)), m),
    "webp": lambda rgb, m, q, rng: (webp(rgb, int(q)), m),
    "resize-bilinear": lambda rgb, m, s, rng: _resize(rgb, m, s, "bilinear"),
    "resize-bicubic": lambda rgb, m, s, rng: _resize(rgb, m, s, "bicubic"),
    "resize-area": lambda rgb, m, s, rng: _resize(rgb, m, s, "area" if s < 1 else "lanczos"),
    "crop": lambda rgb, m, keep, rng: _crop(rgb, m, keep, rng),
    "blur": lambda rgb, m, sigma, rng: (gaussian_blur(rgb, sigma), m),
    "noise": lambda rgb, m, sigma, rng: (_noise(rgb, sigma, rng), m),
    "gamma": lambda rgb, m, g, rng: (_tone(rgb, gamma=g), m),
    "contrast": lambda rgb, m, c, rng: (_tone(rgb, contrast=c), m),
    "social": lambda rgb, m, _level, rng: social(rgb, m, rng),
}


def perturb(name: str, rgb: np.ndarray, mask: np.ndarray | None, strength: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    if name not in PERTURBATIONS:
        import difflib

        close = difflib.get_close_matches(name, PERTURBATIONS, n=1)
        raise ValueError(f"unknown perturbation {name!r}{f'; did you mean {close[0]!r}?' if close else ''} "
                         f"(known: {', '.join(PERTURBATIONS)})")
    return PERTURBATIONS[name](rgb, mask, strength, rng)
