"""``cooc3``: one model says authentic, tampered or generated ("No one can escape", IEEE Access
2019): the co-occurrence of chroma edges (signals/cooccurrence) through an Xception-like
classifier (nets/cooc), trained here by ``forenscope train configs/cooc3.toml``.

Score = 1 - P(authentic): the evidence that the image is not authentic. Label = the most
probable class. ``extras["probabilities"]`` holds all three.
"""

from __future__ import annotations

import numpy as np
import torch
from safetensors.torch import load_file

from forenscope.analysis import Analysis
from forenscope.detectors.base import Detector
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.nets.factory import build_network
from forenscope.signals.cooccurrence import cooc_input

CLASSES = ("authentic", "tampered", "generated")


@register_detector("cooc3", task="triage")
class CoocTriage(Detector):
    def __init__(self, threshold: float | None = None, run: str | None = None):
        weights = self._trained_weights(threshold, run)
        self.run = run
        self.levels = int(self.card["input"]["levels"])
        self.norm = self.card["input"]["norm"]
        self.net = build_network(self.card["family"], self.card["network"])
        self.net.load_state_dict(load_file(str(weights)))
        self.net.eval()

    def config(self) -> dict:
        return {"run": self.run, "levels": self.levels, "norm": self.norm,
                "weights_sha256": self.card.get("weights_sha256")}

    @torch.no_grad()
    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        x = torch.from_numpy(cooc_input(rgb, self.levels, self.norm))[None]
        p = torch.softmax(self.net(x), 1)[0].numpy().astype(float)
        label = CLASSES[int(p.argmax())]
        return Analysis(self.name, self.task, float(np.clip(1.0 - p[0], 0.0, 1.0)), label,
                        extras={"probabilities": {c: round(float(v), 6) for c, v in zip(CLASSES, p)}})
