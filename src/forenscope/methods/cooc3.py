"""``cooc3``: one model says authentic, tampered or generated ("No one can escape", IEEE Access
2019): the co-occurrence of chroma edges (signals/cooccurrence) through an Xception-like
classifier (nets/cooc).

Score = 1 - P(authentic): the evidence that the image is not authentic. Label = the most
probable class. ``extras["probabilities"]`` holds all three.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from forenscope.methods import register_method
from forenscope.methods.base import Method, Reading, Runner
from forenscope.nets.cooc import CoocNet
from forenscope.signals.cooccurrence import cooc_input

CLASSES = ("authentic", "tampered", "generated")


# its input is 8 x T x T whatever the image's size
@register_method(name="cooc", detector="cooc3", task="triage", network=CoocNet, config="configs/cooc3.toml",
                 dynamic_size=False)
class Cooc(Method):
    """Chroma-edge co-occurrence + Xception-like classifier, three classes."""

    def prepare(self, rgb: np.ndarray, settings: dict) -> np.ndarray:
        return cooc_input(rgb, int(settings["levels"]), settings["norm"])

    def describe(self, settings: dict) -> dict:
        return {"levels": int(settings["levels"]), "norm": settings["norm"]}

    def read(self, run: Runner, rgb: np.ndarray, card: dict) -> Reading:
        with torch.no_grad():
            p = torch.softmax(run(*self.batch([rgb], card["input"])), 1)[0].numpy().astype(float)
        return Reading(float(np.clip(1.0 - p[0], 0.0, 1.0)), label=CLASSES[int(p.argmax())],
                       extras={"probabilities": {c: round(float(v), 6) for c, v in zip(CLASSES, p)}})

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        return F.cross_entropy(output, target)
