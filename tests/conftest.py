import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FORENSCOPE_DATA", REPO.parent / "shared" / "data"))


def textured(h=128, w=160, seed=0, noise=2.0) -> np.ndarray:
    """A natural-ish RGB image: smooth random blobs plus mild sensor-like noise."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(40, 215, (h // 16 + 2, w // 16 + 2, 3)).astype(np.uint8)
    base = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32)
    return np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


def noisy_photo(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth colour gradients plus sensor-like Gaussian noise (a Telea fill removes the noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([110 + 70 * np.sin(3 * xx + seed), 90 + 60 * yy, 100 + 40 * np.cos(5 * xx * yy)], -1)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def encode(rgb: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(encode(rgb, "JPEG", quality=quality))).convert("RGB"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set FORENSCOPE_DATA)")
    return SHARED_DATA
