"""``provenance``: what the image says about where it came from. Training-free.

Evidence read from the file where it is decoded (``meta.provenance``: C2PA Content Credentials,
known generator metadata, camera fields, EXIF thumbnail, JPEG tables) and from the pixels here
(the Stable Diffusion invisible watermark). Strong evidence that a model made the image gives
label "generated" (score 0.999); strong evidence of generated content composited into a photo
gives "tampered"; otherwise the label is "no evidence" (score 0.5, which the verdict ignores):
the absence of provenance never says an image is authentic. Every item is in
``extras["evidence"]``, with where it was read and what documents it.
"""

from __future__ import annotations

import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors.base import Detector
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.provenance.evidence import watermark_items
from forenscope.provenance.watermark import read_watermarks

STRONG_SCORE = 0.999
NO_EVIDENCE_SCORE = 0.5


@register_detector("provenance", task="generated")
class ProvenanceDetector(Detector):
    licence = "Apache-2.0"

    def __init__(self, threshold: float | None = None, watermark: bool = True):
        super().__init__(threshold)
        self.watermark = bool(watermark)

    def config(self) -> dict:
        return {**super().config(), "watermark": self.watermark}

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        found = meta.provenance if meta is not None and meta.provenance is not None else None
        items = list(found["items"]) if found else []
        notes = list(found["notes"]) if found else ["no file: metadata and Content Credentials not read (pixels only)"]
        extras: dict = {}
        if self.watermark:
            read = read_watermarks(rgb)
            items += watermark_items(read)
            extras["watermark"] = {k: v for k, v in read.items() if k != "reads"}
            if read["status"] in ("unreadable", "too small"):
                notes.append(f"watermark {read['status']}: {read['note']}")
        strong = [i for i in items if i["strength"] == "strong" and i["claim"] in ("generated", "tampered")]
        claim = next((c for c in ("generated", "tampered") if any(i["claim"] == c for i in strong)), None)
        score, label = (STRONG_SCORE, claim) if claim else (NO_EVIDENCE_SCORE, "no evidence")
        extras |= {"evidence": items, "notes": notes, "decisive": claim is not None,
                   "reason": next((f"{i['where']}: {i['detail']}" for i in strong if i["claim"] == claim), None),
                   "records": (found or {}).get("records", [])}
        return Analysis(self.name, self.task, score, label, extras=extras)
