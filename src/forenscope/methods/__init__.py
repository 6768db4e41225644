"""The trained methods, one module each (``methods/<detector name>.py``, dashes as
underscores), and their registry. A module subclasses :class:`Method` and registers it with
``@register_method``; the trainers, the detectors (``detectors/trained.py``) and the ONNX
exporter find it by the card's ``family``, the registry by its detector name. Nothing else
needs to change to add one (see the README's "Adding a method").
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

from forenscope.methods.base import Method, Reading

# modules of this package that hold shared machinery, not a method
SHARED_MODULES = {"base", "classifier", "localizer", "image_head", "onnx"}
_METHODS: dict[str, Method] = {}
_LOADED = False


def register_method(cls: type[Method] | None = None, **facts):
    """Class decorator on a :class:`Method` subclass: ``@register_method``, or with its facts
    as arguments, ``@register_method(name="effunet", network=EfficientUNet, config=...)``."""
    if cls is None:
        def with_facts(c: type[Method]) -> type[Method]:
            for key, value in facts.items():
                setattr(c, key, value)
            return register_method(c)
        return with_facts
    if not cls.name or not cls.task:
        raise ValueError(f"{cls.__name__} must set name and task")
    old = _METHODS.get(cls.name)
    if old is not None and type(old).__qualname__ != cls.__qualname__:
        raise ValueError(f"method {cls.name!r} is already registered by {type(old).__name__}")
    _METHODS[cls.name] = cls()
    return cls


def _builtin_modules() -> list[str]:
    """The modules of this package that each hold one method."""
    return [m.name for m in pkgutil.iter_modules(__path__) if m.name not in SHARED_MODULES]


def builtin_detector_names() -> list[str]:
    """Detector names of the built-in methods, from the module names alone (no import)."""
    return sorted(name.replace("_", "-") for name in _builtin_modules())


def registered_detector_names() -> list[str]:
    """Detector names of the methods registered so far (built-in or added at run time)."""
    return sorted(m.detector_name for m in _METHODS.values())


def _load_builtins() -> None:
    global _LOADED
    if not _LOADED:
        for name in _builtin_modules():
            importlib.import_module(f"{__name__}.{name}")
        _LOADED = True


def get_method(name: str) -> Method:
    """The method a card's ``family`` names."""
    if name not in _METHODS:
        _load_builtins()
    if name not in _METHODS:
        close = difflib.get_close_matches(str(name), sorted(_METHODS), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown method {name!r}.{hint} Known: {', '.join(sorted(_METHODS))}.")
    return _METHODS[name]


def available_methods() -> list[str]:
    _load_builtins()
    return sorted(_METHODS)


def method_for_detector(detector: str) -> Method | None:
    """The method whose shipped weights go by this detector name, if any (built-ins are
    imported only when the name is one of theirs)."""
    if detector in builtin_detector_names():
        _load_builtins()
    return next((m for m in _METHODS.values() if m.detector_name == detector), None)


__all__ = ["Method", "Reading", "available_methods", "builtin_detector_names", "get_method", "method_for_detector",
           "register_method", "registered_detector_names"]
