"""Processing that images meet in the wild, applied to training data of both classes:
rescaling with assorted kernels, cropping, blur, JPEG re-compression. Pure functions of an
RGB uint8 array and a numpy Generator, so a recipe is reproducible from its seed."""

from __future__ import annotations

import cv2
import numpy as np

RESIZE_KERNELS = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR,
                  "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}


def rescale(rgb: np.ndarray, scale: float, kernel: str) -> np.ndarray:
    h, w = rgb.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return rgb
    return cv2.resize(rgb, size, interpolation=RESIZE_KERNELS[kernel])


def fit_long_side(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """Shrink (area kernel) so the longer side is at most ``long_side``."""
    scale = long_side / max(rgb.shape[:2])
    return rescale(rgb, scale, "area") if scale < 1 else rgb


def random_crop(rgb: np.ndarray, size, rng: np.random.Generator) -> np.ndarray:
    """A crop of ``size`` (int: square; or (height, width)) at any offset (both 2x2 phases);
    sides longer than the image are clipped to it."""
    h, w = rgb.shape[:2]
    sh, sw = (size, size) if isinstance(size, int) else size
    ch, cw = min(sh, h), min(sw, w)
    y = int(rng.integers(0, h - ch + 1))
    x = int(rng.integers(0, w - cw + 1))
    return rgb[y:y + ch, x:x + cw]


def gaussian_blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma) if sigma > 0 else rgb


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """The JPEG file bytes of an RGB uint8 image (OpenCV's libjpeg, 4:2:0)."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1].copy()


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """One JPEG round trip at ``quality``."""
    return decode_jpeg(encode_jpeg(rgb, quality))


def wild_rescale(rgb: np.ndarray, rng: np.random.Generator, low: float = 0.25, high: float = 1.0,
                 min_side: int = 0) -> tuple[np.ndarray, dict]:
    """Rescale by a factor in [low, high] with a random kernel (never below ``min_side``)."""
    floor = min_side / min(rgb.shape[:2]) if min_side else 0.0
    lo = min(max(low, floor), high)
    scale = float(rng.uniform(lo, high))
    kernel = str(rng.choice(list(RESIZE_KERNELS)))
    return rescale(rgb, scale, kernel), {"scale": round(scale, 4), "kernel": kernel}


def add_noise(rgb: np.ndarray, sigma_range, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Sensor-like Gaussian noise of a sigma drawn from ``sigma_range``: the noisy uint8 image and the sigma."""
    sigma = float(rng.uniform(*sigma_range))
    return np.clip(rgb + rng.normal(0.0, sigma, rgb.shape), 0, 255).astype(np.uint8), sigma


def augment(rgb: np.ndarray, rng: np.random.Generator, *, blur_prob: float = 0.1, blur_sigma=(0.0, 3.0),
            jpeg_prob: float = 0.1, jpeg_quality=(30, 100), resize_prob: float = 0.0, resize_scale=(0.5, 1.5),
            noise_prob: float = 0.0, noise_sigma=(0.0, 8.0), info: dict | None = None) -> np.ndarray:
    """CNNDetection's blur + JPEG augmentation (NPR's code has it switched off), optionally with
    the rest of the robustness suite's processing in the order a shared image meets it: blur,
    rescale (random kernel), sensor-like Gaussian noise, then JPEG.
    A step whose probability is 0 draws nothing from ``rng``, so configs without the later
    steps reproduce their earlier runs exactly.
    ``info``, when given, receives what was applied (blur_sigma, jpeg_quality; 0 = none)."""
    sigma, quality = 0.0, 0
    if rng.random() < blur_prob:
        sigma = float(rng.uniform(*blur_sigma))
        rgb = gaussian_blur(rgb, sigma)
    extra: dict = {}
    if resize_prob and rng.random() < resize_prob:
        scale = float(rng.uniform(*resize_scale))
        kernel = str(rng.choice(list(RESIZE_KERNELS)))
        rgb = rescale(rgb, scale, kernel)
        extra.update(resize_scale=round(scale, 4), resize_kernel=kernel)
    if noise_prob and rng.random() < noise_prob:
        rgb, noise = add_noise(rgb, noise_sigma, rng)
        extra.update(noise_sigma=round(noise, 3))
    if rng.random() < jpeg_prob:
        quality = int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
        rgb = jpeg(rgb, quality)
    if info is not None:
        info.update(blur_sigma=sigma, jpeg_quality=quality, **extra)
    return rgb
