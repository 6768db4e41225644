"""The detector registry, the trained methods as detectors (trained.py: one class for all of them),
the classical detectors and the fusions."""

from forenscope.detectors.base import Detector
from forenscope.detectors.registry import (
    UnknownDetectorError,
    available_detectors,
    describe_detector,
    get_detector_class,
    load_detector,
    register_detector,
)

__all__ = [
    "Detector",
    "UnknownDetectorError",
    "available_detectors",
    "describe_detector",
    "get_detector_class",
    "load_detector",
    "register_detector",
]
