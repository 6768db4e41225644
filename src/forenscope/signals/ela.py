"""Error level analysis: how much each pixel changes when the image is re-saved as JPEG.

A region pasted from an image with a different compression history re-compresses with a
different error than its surroundings (Krawetz, "A picture's worth", 2007). The error also
grows with texture and edges, which is why ELA is read relative to the rest of the image.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


JPEG_MAX_SIDE = 65_535  # the JPEG format's limit on each side


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode as baseline JPEG at ``quality`` (4:2:0, as most software saves) and decode."""
    if max(rgb.shape[:2]) > JPEG_MAX_SIDE:
        raise ValueError(f"image too elongated to re-save as JPEG: {rgb.shape[1]}x{rgb.shape[0]} "
                         f"(JPEG allows at most {JPEG_MAX_SIDE:,} pixels per side)")
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def error_level(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    """Per-pixel error level: max over channels of |x - jpeg_q(x)|, float32 H x W."""
    resaved = jpeg_roundtrip(rgb, quality)
    err = np.zeros(rgb.shape[:2], dtype=np.float32)
    for c in range(3):  # channel by channel keeps peak memory at one int16 plane
        np.maximum(err, np.abs(rgb[..., c].astype(np.int16) - resaved[..., c]), out=err)
    return err
