"""Training pairs for the real-vs-generated trainer: a real and a fake image per unit, processed
alike (paired units identically), with the real photo matched to the fake's size and sharpness
so that neither can separate the classes, and a sampler that weighs every generator the same."""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from forenscope.data.sources import ImageCache, Unit
from forenscope.data.augment import augment, gaussian_blur


Log = Callable[[str], None]


def _crop_at(img: np.ndarray, size: int, y: int, x: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h < size or w < size:  # tiny inputs (CIFAKE): reflect-pad rather than fail
        img = np.pad(img, ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0)), mode="reflect")
    return img[y:y + size, x:x + size]


def _offset(img: np.ndarray, size: int, rng: np.random.Generator) -> tuple[int, int]:
    h, w = img.shape[:2]
    return int(rng.integers(0, max(h - size, 0) + 1)), int(rng.integers(0, max(w - size, 0) + 1))


def unit_images(unit: Unit, cache: ImageCache, cfg: dict, rng: np.random.Generator,
                crop: int | None, train: bool, infos: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The processed (real, fake) pair of a unit. Paired units get identical processing.
    ``infos`` receives one dict per image with the augmentation applied."""
    d, a = cfg["data"], cfg["augment"]
    fake = cache.get(unit.fake)
    if unit.real.kind == "photo":
        real = matched_photo(fake, cache, rng, d.get("match_candidates", 8))
    else:
        real = cache.get(unit.real)
    if unit.paired:
        real = _match_sharpness(real, fake, unit.real.where)
    aug = {k: v for k, v in a.items() if k != "hflip"}
    out = []
    shared = int(rng.integers(2**31))
    for img in (real, fake):
        sub = np.random.default_rng(shared if unit.paired else int(rng.integers(2**31)))
        info: dict = {}
        img = augment(img, sub, **aug, info=info)
        if infos is not None:
            infos.append(info)
        if crop is not None:
            img = _crop_at(img, crop, *_offset(img, crop, sub))
            if train and a["hflip"] and sub.random() < 0.5:
                img = img[:, ::-1]
        out.append(np.ascontiguousarray(img))
    return out[0], out[1]


def _sharpness(rgb: np.ndarray) -> float:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def matched_photo(fake: np.ndarray, cache: ImageCache, rng: np.random.Generator, candidates: int) -> np.ndarray:
    """A real crop of exactly the fake's size whose sharpness (mean |Laplacian|) is the closest
    of ``candidates`` draws: generator outputs are smoother than photos on average, and without
    this matching "sharp = real" separates the classes by itself (the shortcut check sees it)."""
    target = _sharpness(fake)
    draws = [cache.draw_photo(rng, fake.shape[:2], min_side=max(fake.shape[:2])) for _ in range(max(1, candidates))]
    return min(draws, key=lambda im: abs(_sharpness(im) - target))


_SIGMA_CACHE: dict[str, float] = {}


_SIGMAS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)


def _match_sharpness(real: np.ndarray, fake: np.ndarray, key: str) -> np.ndarray:
    """Blur a simulated fake's source crop just enough to be as sharp as the fake: the decoders
    lose a little fine detail (~34 dB PSNR), and "blurrier = fake" must not be learnable. The
    remaining difference is the up-sampling trace. The sigma is found once per pair."""
    if key not in _SIGMA_CACHE:
        target = _sharpness(fake)
        _SIGMA_CACHE[key] = min(_SIGMAS, key=lambda sg: abs(_sharpness(gaussian_blur(real, sg)) - target))
    return gaussian_blur(real, _SIGMA_CACHE[key])


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = min(size, h) // 2 * 2, min(size, w) // 2 * 2
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y:y + ch, x:x + cw]


class UnitSampler:
    """Balanced draws: a group (generator) uniformly, then a unit of it; each unit gives one
    real and one fake, so both classes and every generator weigh the same."""

    def __init__(self, units: list[Unit]):
        self.groups: dict[str, list[Unit]] = {}
        for u in units:
            self.groups.setdefault(u.group, []).append(u)
        self.names = sorted(self.groups)

    def draw(self, rng: np.random.Generator) -> Unit:
        group = self.groups[self.names[int(rng.integers(len(self.names)))]]
        return group[int(rng.integers(len(group)))]

