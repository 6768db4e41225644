"""Detector registry: decorator registration, lazy import of built-ins, "did you mean"."""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points

from forenscope.detectors.base import Detector, load_card

# Built-in detectors that are not a trained method, by module, imported only when asked for.
# Trained methods (methods/<name>.py) are found by the methods registry.
_BUILTIN_MODULES = {
    "ela": "forenscope.detectors.ela",
    "noise": "forenscope.detectors.noise",
    "jpeg-ghost": "forenscope.detectors.jpeg_ghost",
    "copymove-sift": "forenscope.detectors.copymove",
    "effunet-cm": "forenscope.detectors.fusion",
    "provenance": "forenscope.detectors.provenance",
}
_ENTRY_POINT_GROUP = "forenscope.detectors"  # third-party packages can add detectors here
_REGISTRY: dict[str, type[Detector]] = {}


class UnknownDetectorError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register_detector(name: str, *, task: str, input_size: int | None = None):
    """Class decorator: ``@register_detector("ela", task="localize")``."""

    def wrap(cls: type[Detector]) -> type[Detector]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"detector {name!r} is already registered by {_REGISTRY[name]!r}")
        cls.name, cls.task, cls.input_size = name, task, input_size
        _REGISTRY[name] = cls
        return cls

    return wrap


def available_detectors() -> list[str]:
    """Every detector name, without importing any detector (or torch)."""
    from forenscope.methods import builtin_detector_names, registered_detector_names

    names = set(_BUILTIN_MODULES) | set(_REGISTRY) | {ep.name for ep in _entry_points()}
    return sorted(names | set(builtin_detector_names()) | set(registered_detector_names()))


def known_detector(name: str) -> bool:
    """Whether ``name`` is a detector, checked without loading it (or its weights)."""
    return name in available_detectors()


def get_detector_class(name: str) -> type[Detector]:
    if name not in _REGISTRY:
        from forenscope.methods import method_for_detector

        module = _BUILTIN_MODULES.get(name)
        method = None if module else method_for_detector(name)
        if module is not None:
            importlib.import_module(module)
        elif method is not None:
            from forenscope.detectors.trained import trained_detector_class

            register_detector(name, task=method.task)(trained_detector_class(method))
        else:
            for ep in _entry_points():
                if ep.name == name:
                    ep.load()
    if name not in _REGISTRY:
        known = available_detectors()
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownDetectorError(
            f"unknown detector {name!r}.{hint} Available: {', '.join(known)}."
        )
    return _REGISTRY[name]


# Options that leave a detector's raw scores as they were when its card's calibration was fitted.
_SCORE_NEUTRAL_OPTIONS = {"threshold", "backend", "threads"}


def load_detector(name: str, calibrated: bool = True, **options) -> Detector:
    """Build a detector by registry name, e.g. ``load_detector("ela", quality=95)``.

    With the shipped weights and default parameters, the card's calibration (if any) applies:
    scores are probabilities and ``threshold`` is on their scale. Other parameters or a
    training ``run`` change the raw scores, so those detectors report uncalibrated scores."""
    cls = get_detector_class(name)
    card = load_card(name) or {}
    cal = card.get("calibration") if calibrated else None
    if cal and cal.get("method") != "platt":  # e.g. a card that records why it stays raw
        cal = None
    if cal and {k for k, v in options.items() if v is not None} - _SCORE_NEUTRAL_OPTIONS:
        cal = None
    if cal and options.get("threshold") is not None:
        from forenscope.detectors.calibration import uncalibrate

        options = {**options, "threshold": uncalibrate(cal, float(options["threshold"]))}
    det = cls(**options)
    if cal:
        det.use_calibration(cal)
    return det


def reported_threshold(card: dict) -> float | None:
    """The threshold on the scale the detector reports its scores on (what `load_detector`
    sets): the card's raw threshold through the card's Platt calibration, when it has one."""
    threshold, cal = card.get("threshold"), card.get("calibration")
    if threshold is None or not cal or cal.get("method") != "platt":
        return threshold
    from forenscope.detectors.calibration import calibrate

    return calibrate(cal, float(threshold))


def describe_detector(name: str) -> dict:
    """Card facts for listings: shipped card if any, else the class's own attributes."""
    card = load_card(name)
    if card is None:
        cls = get_detector_class(name)
        card = {"name": name, "task": cls.task, "input_size": cls.input_size, "licence": cls.licence}
    return card


def _entry_points():
    return entry_points(group=_ENTRY_POINT_GROUP)
