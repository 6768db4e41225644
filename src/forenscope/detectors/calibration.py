"""Calibrated scores: a detector's raw score mapped to a probability by Platt scaling on its
logit, ``p = sigmoid(a * logit(raw) + b)``, fitted by ``forenscope calibrate`` on validation data
and stored in the card's ``calibration`` block.

The map is monotone (a > 0), so labels never change: the card's threshold, fitted on raw scores
for a target false-positive rate, is mapped with it. The probability assumes the class balance
of the data it was fitted on (equal numbers of each class, recorded as ``prior``); for a base
rate ``pi`` multiply the odds by ``pi / (1 - pi)``.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-7  # raw scores are clipped into [EPS, 1 - EPS] before the logit (saturated maps)


def logit(p):
    """log(p / (1 - p)) with ``p`` clipped into [EPS, 1 - EPS]: a float for a number, an array
    for an array (the one logit of the package: calibration, verdict margins, Platt fits)."""
    x = np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0 - EPS)
    z = np.log(x / (1.0 - x))
    return float(z) if z.ndim == 0 else z


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def calibrate(cal: dict, raw: float) -> float:
    """The calibrated probability of a raw score."""
    return _sigmoid(cal["a"] * logit(raw) + cal["b"])


def uncalibrate(cal: dict, p: float) -> float:
    """The raw score whose calibrated probability is ``p`` (thresholds given on the calibrated
    scale are turned back into raw ones)."""
    return _sigmoid((logit(p) - cal["b"]) / cal["a"])
