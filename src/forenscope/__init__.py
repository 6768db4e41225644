"""forenscope: is an image generated, was it tampered with, and where.

Quick use::

    import forenscope
    result = forenscope.analyze("photo.jpg", detector="noise")
    result.score, result.label, result.heatmap.shape
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors import (
    UnknownDetectorError,
    available_detectors,
    describe_detector,
    load_detector,
    register_detector,
)
from forenscope.imageio import ImageError, ImageMeta, read_image

__version__ = "0.1.0"
DEFAULT_DETECTOR = "lite-probe-pair"  # best on the leave-family-out validation (configs/lite-probe-pair.toml, docs/RESULTS.md)
DEFAULT_LOCALIZER = "effunet-cm"  # best on the validation forgeries (docs/results/localize/validation)
DEFAULT_PROVENANCE = "provenance"  # training-free: C2PA, generator metadata, watermarks (decides when strong)
DEFAULT_DETECTORS = (DEFAULT_PROVENANCE, DEFAULT_DETECTOR, DEFAULT_LOCALIZER)  # scan and serve

__all__ = [
    "Analysis", "ImageError", "ImageMeta", "UnknownDetectorError", "analyze",
    "available_detectors", "describe_detector", "load_detector", "read_image",
    "register_detector", "DEFAULT_DETECTOR", "DEFAULT_LOCALIZER", "DEFAULT_PROVENANCE", "DEFAULT_DETECTORS",
]


def analyze(image: str | os.PathLike | np.ndarray, detector: str = DEFAULT_DETECTOR, **options) -> Analysis:
    """Analyse one image (a path, or an RGB / grey array) with one detector by name."""
    det = _cached_detector(detector, tuple(sorted(options.items())))
    if isinstance(image, np.ndarray):
        return det.analyze(image)
    pixels, meta = read_image(image)
    return det.analyze(pixels, meta)


@lru_cache(maxsize=8)
def _cached_detector(name: str, options: tuple):
    return load_detector(name, **dict(options))
