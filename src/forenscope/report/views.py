"""Pictures and facts an analyst looks at beside the detectors' maps: a thumbnail, error level
analysis, the noise residual, EXIF and JPEG quantisation facts. Views, not detectors: they
carry no score and no threshold."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image

from forenscope.imageio import ImageMeta
from forenscope.signals.ela import error_level
from forenscope.signals.noise import high_pass_residual

EXIF_FIELDS = ("Make", "Model", "Software", "DateTime", "DateTimeOriginal", "Artist", "LensModel",
               "ExposureTime", "FNumber", "ISOSpeedRatings", "Orientation", "GPSInfo")


def fit(rgb: np.ndarray, long_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    f = long_side / max(h, w)
    if f >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def ela_view(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    """Error level at ``quality``, stretched to its 99.5th percentile (grey uint8)."""
    err = error_level(rgb, quality)
    return _stretch(err)


def noise_view(rgb: np.ndarray) -> np.ndarray:
    """|Immerkaer residual| of the grey image, locally averaged, stretched (grey uint8)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return _stretch(cv2.blur(np.abs(high_pass_residual(grey)), (7, 7)))


def _stretch(x: np.ndarray) -> np.ndarray:
    top = float(np.percentile(x, 99.5)) or 1.0
    return np.clip(x * (255.0 / top), 0, 255).astype(np.uint8)


def save(arr: np.ndarray, path: Path, quality: int = 85) -> str:
    """PNG for maps (exact), JPEG for photos (small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(arr)
    if path.suffix == ".jpg":
        im.convert("RGB").save(path, quality=quality)
    else:
        im.save(path, compress_level=3)
    return path.name


def file_facts(path: Path, meta: ImageMeta) -> dict:
    """Format, size, EXIF fields people ask about, JPEG quality and quantisation tables."""
    facts = {"format": meta.format, "mode": meta.mode, "width": meta.width, "height": meta.height,
             "file_size": meta.file_size, "sha256": meta.sha256, "has_exif": meta.has_exif,
             "extension_mismatch": meta.extension_mismatch, "jpeg_quality": meta.jpeg_quality,
             "jpeg_quality_exact": meta.jpeg_quality_exact, "jpeg_subsampling": meta.jpeg_subsampling,
             "jpeg_quantization": ({str(k): v for k, v in meta.jpeg_quantization.items()}
                                   if meta.jpeg_quantization else None),
             "exif": {}}
    if meta.has_exif:
        try:
            with Image.open(path) as im:
                exif = im.getexif()
                tags = dict(exif.items()) | dict(exif.get_ifd(ExifTags.IFD.Exif).items())
            for tag, value in tags.items():
                name = ExifTags.TAGS.get(tag, str(tag))
                if name in EXIF_FIELDS:
                    facts["exif"][name] = value if isinstance(value, (int, float)) else str(value)[:120]
        except Exception as exc:  # EXIF is a courtesy: never lose the image over it
            facts["exif"] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    return facts
