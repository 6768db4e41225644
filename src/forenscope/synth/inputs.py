"""What every synthesiser shares: loading the real photos once, and per-sample seeds that do
not depend on the order in which samples are made (so a run can resume or be parallelised)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np

from forenscope.data.augment import fit_long_side
from forenscope.imageio import ImageError, read_image


def sample_seed(*parts) -> int:
    """A 32-bit seed from the identity of one sample (global seed, photo, kind, index)."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:4], "big")


def load_photos(items: list[tuple[str, Path]], long_side: int,
                log: Callable[[str], None] = print) -> dict[str, np.ndarray]:
    """key -> RGB uint8 shrunk to ``long_side``; unreadable photos are reported and skipped."""
    photos = {}
    for key, path in items:
        try:
            rgb, _ = read_image(path)
        except ImageError as exc:
            log(f"  skipped {exc}")
            continue
        photos[key] = fit_long_side(rgb, long_side)
    return photos
