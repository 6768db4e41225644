"""The one result contract every detector returns (see DESIGN.md, "Contracts")."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np

TASKS = ("generated", "tampered", "localize", "triage")  # triage: authentic / tampered / generated
LABELS = ("authentic", "generated", "tampered", "uncertain", "no evidence")  # no evidence: provenance found none


@dataclass
class Analysis:
    """One detector's verdict on one image.

    ``score`` is the evidence that the image is generated / tampered, in [0, 1]: a calibrated
    probability when the detector's card has a calibration (``extras["raw_score"]`` then holds
    the uncalibrated one); ``label`` is decided at the detector's threshold (stored in its card).
    ``heatmap`` (float32, H x W, [0, 1], 1 = surely manipulated) and ``mask`` (bool, H x W) are
    at the input's resolution after EXIF orientation, or None for image-level detectors.
    """

    detector: str
    task: str
    score: float
    label: str
    heatmap: np.ndarray | None = None
    mask: np.ndarray | None = None
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {self.label!r}")
        if not (0.0 <= self.score <= 1.0) or self.score != self.score:
            raise ValueError(f"score must be in [0, 1], got {self.score}")
        if self.heatmap is not None:
            h = np.asarray(self.heatmap)
            if h.ndim != 2:
                raise ValueError(f"heatmap must be H x W, got shape {h.shape}")
            self.heatmap = np.clip(h.astype(np.float32, copy=False), 0.0, 1.0)
        if self.mask is not None:
            m = np.asarray(self.mask, dtype=bool)
            if self.heatmap is not None and m.shape != self.heatmap.shape:
                raise ValueError(f"mask {m.shape} and heatmap {self.heatmap.shape} differ in shape")
            self.mask = m


def jsonable(x, max_array: int | None = 64):
    """``x`` as strict JSON values: numpy scalars as Python numbers, NaN and infinity as null (a
    value undefined for this input), paths as strings, arrays as lists; an array of more than
    ``max_array`` elements becomes its description (None: always a list). What every output that
    writes extras or results as JSON needs (records.write_json uses it too)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v, max_array) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v, max_array) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist(), max_array) if max_array is None or x.size <= max_array else f"array {x.shape}"
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, PurePath):
        return str(x)
    return x
