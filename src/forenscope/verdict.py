"""One verdict per image from several detectors: authentic, generated, tampered or uncertain.

Each detector's evidence is its margin over its own threshold in logit units,
``logit(score) - logit(threshold)``: thresholds differ wildly between detectors (a localiser
calibrated at 0.9998, a classifier at 0.5), and logits make "how far past the line" comparable.
A detector fires when its margin is at least ``band``; it is unsure when the margin is within
``band`` of zero. The verdict is the kind of the strongest firing detector; with none firing,
"uncertain" if any is unsure, else "authentic". The reasons are kept with the verdict.

Provenance evidence comes first: a detector that marks its result ``decisive`` (the
``provenance`` detector on a valid Content Credential, a known generator's metadata or a decoded
watermark) decides the verdict, and the reason names the evidence; one that found nothing
(label "no evidence") is left out, so the pixel detectors decide as if it had not run.
"""

from __future__ import annotations

import json

from forenscope.analysis import Analysis, jsonable
from forenscope.detectors.calibration import logit

VERDICTS = ("authentic", "generated", "tampered", "uncertain")
DEFAULT_BAND = 1.0  # logit units: 0.5 vs 0.73, or 0.9998 vs 0.99993


def evidence(analysis: Analysis, threshold: float) -> dict:
    """What one detector says, for the verdict and for people."""
    kind = {"generated": "generated", "tampered": "tampered", "localize": "tampered"}.get(analysis.task)
    if analysis.task == "triage":  # a 3-class model names its kind itself
        kind = analysis.label if analysis.label in ("generated", "tampered") else None
    if analysis.label == "no evidence":
        kind = None
    elif analysis.extras.get("decisive"):  # provenance names its claim (a composite is "tampered")
        kind = analysis.label if analysis.label in ("generated", "tampered") else None
    out = {"detector": analysis.detector, "task": analysis.task, "kind": kind,
           "score": round(float(analysis.score), 6), "threshold": float(threshold),
           "label": analysis.label, "margin": round(logit(analysis.score) - logit(threshold), 4)}
    if analysis.extras.get("decisive") and kind:
        out |= {"decisive": True, "reason": analysis.extras.get("reason")}
    return out


def _fired(e: dict) -> str:
    return f"{e['detector']}: {e['kind']} (score {e['score']:.4g}, threshold {e['threshold']:.4g})"


def fuse(evidences: list[dict], band: float = DEFAULT_BAND) -> dict:
    """{"verdict", "confidence", "reasons"}: confidence is the deciding margin (0 when unsure)."""
    decisive = [e for e in evidences if e.get("decisive")]
    evidences = [e for e in evidences if e["label"] != "no evidence" and not e.get("decisive")]
    firing = [e for e in evidences if e["kind"] and e["margin"] >= band]
    if decisive:
        return {"verdict": decisive[0]["kind"], "confidence": decisive[0]["margin"],
                "reasons": [f"{e['detector']}: {e['kind']} ({e.get('reason') or 'provenance evidence'})"
                            for e in decisive] + [_fired(e) for e in firing]}
    if firing:
        firing.sort(key=lambda e: -e["margin"])  # stable: the first of equal margins decides, as max() did
        return {"verdict": firing[0]["kind"], "confidence": firing[0]["margin"], "reasons": [_fired(e) for e in firing]}
    unsure = [e for e in evidences if abs(e["margin"]) < band]
    if unsure:
        return {"verdict": "uncertain", "confidence": 0.0,
                "reasons": [f"{e['detector']}: near its threshold (score {e['score']:.4g}, threshold "
                            f"{e['threshold']:.4g})" for e in unsure]}
    margin = min((-e["margin"] for e in evidences), default=0.0)
    return {"verdict": "authentic", "confidence": margin,
            "reasons": ["every detector below its threshold"] if evidences else ["no detector ran"]}


def plain_extras(extras: dict, compact: bool = False) -> dict:
    """A detector's extras as plain JSON values (``jsonable``); ``compact`` keeps only what fits a
    line of a scan's results: numbers, short strings and small tables."""
    out = jsonable(extras or {})
    if not compact:
        return out
    return {k: v for k, v in out.items()
            if isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) < 200)
            or (isinstance(v, dict) and len(json.dumps(v, default=str)) < 500)}


def analysis_row(analysis: Analysis, threshold: float, compact: bool = False) -> dict:
    """One detector's result on one image as every face writes it (the CLI's lines, a scan's
    evidence, the service's analyses): its ``evidence`` (kind, score, threshold, label, margin)
    and its extras as plain JSON (``compact``: only what fits a line)."""
    return evidence(analysis, threshold) | {"extras": plain_extras(analysis.extras, compact)}


def shown_label(row: dict, band: float = DEFAULT_BAND) -> str:
    """The label a person is shown for one row: "uncertain" when its margin is within ``band``
    of the threshold, as the verdict treats it (``band`` 0: the detector's own label)."""
    unsure = band > 0 and row["label"] != "no evidence" and abs(row["margin"]) < band
    return "uncertain" if unsure else row["label"]
