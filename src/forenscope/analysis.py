"""The one result contract every detector returns (see DESIGN.md, "Contracts")."""

from __future__ import annotations

from dataclasses import dataclass, field

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


def jsonable(x):
    """``x`` with numpy scalars as Python numbers and small arrays as lists (a larger array
    becomes its description): what every output that writes extras as JSON needs."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist() if x.size <= 64 else f"array {x.shape}"
    return x
