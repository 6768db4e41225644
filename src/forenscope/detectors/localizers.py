"""Trained pixel localisers, trained here by ``forenscope train configs/<name>.toml`` on
synthetic forgeries: ``iidnet`` (Wu & Zhou 2022, compact CPU profile) and ``effunet``
(EfficientNet-Lite0 encoder, ImageNet-initialised, + noise-residual branch, U-Net decoder).

Whole images of any size are analysed in non-overlapping tiles (the card's ``tile``, 256 by
default) after padding to a multiple of 16, so memory stays bounded and the heatmap is at the
input's exact size. The image score is the mean of the top 1 % of the map; the card's
threshold on it is calibrated on validation authentic images.
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


def network_input(rgb: np.ndarray, family: str) -> np.ndarray:
    """C x H x W float32 as the family expects it (IID-Net: RGB in [-1, 1])."""
    if family == "iidnet":
        return (rgb.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
    if family == "effunet":
        return (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)
    raise ValueError(f"no localiser input defined for family {family!r}")


def probabilities(family: str, logits: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) probability of manipulation from the network's output."""
    if family == "iidnet":
        from forenscope.nets.iidnet import IIDNet

        return IIDNet.probabilities(logits)
    if family == "effunet":
        return torch.sigmoid(logits)
    raise ValueError(f"unknown localiser family {family!r}")


def image_score(prob: np.ndarray) -> float:
    """Image-level evidence from a probability map: the mean of its top 1 % of pixels."""
    flat = prob.ravel()
    k = max(1, flat.size // 100)
    return float(np.partition(flat, flat.size - k)[flat.size - k:].mean())


@torch.no_grad()
def predict_map(net: torch.nn.Module, family: str, rgb: np.ndarray, tile: int = 256, multiple: int = 16) -> np.ndarray:
    """Probability map at the image's size, from non-overlapping ``tile`` tiles of the image
    padded (by reflection) to a multiple of ``multiple``."""
    net.eval()
    h, w = rgb.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    padded = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else rgb
    H, W = padded.shape[:2]
    out = np.zeros((H, W), np.float32)
    for y in range(0, H, tile):
        for x in range(0, W, tile):
            crop = padded[y:y + tile, x:x + tile]
            t = torch.from_numpy(network_input(np.ascontiguousarray(crop), family))[None]
            out[y:y + crop.shape[0], x:x + crop.shape[1]] = probabilities(family, net(t))[0, 0].numpy()
    return out[:h, :w]


class LocalizerNetwork(Detector):
    """A trained localiser plus its card; ``run=DIR`` loads a training run instead of the
    shipped weights."""

    def __init__(self, threshold: float | None = None, run: str | None = None):
        weights = self._trained_weights(threshold, run)
        self.run = run
        self.family = self.card["family"]
        self.tile = int(self.card.get("input", {}).get("tile", 256))
        self.net = build_network(self.family, self.card["network"])
        self.net.load_state_dict(load_file(str(weights)))
        self.net.eval()

    def config(self) -> dict:
        return {**super().config(), "run": self.run, "tile": self.tile,
                "weights_sha256": self.card.get("weights_sha256")}

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        if min(rgb.shape[:2]) < 16:
            raise ValueError(f"image too small for {self.name}: {rgb.shape[1]}x{rgb.shape[0]}")
        heat = predict_map(self.net, self.family, rgb, self.tile)
        score = image_score(heat)
        return Analysis(self.name, self.task, score, self.label_for(score), heatmap=heat, mask=heat >= 0.5,
                        extras={"tile": self.tile})


@register_detector("iidnet", task="localize")
class IIDNetDetector(LocalizerNetwork):
    """IID-Net: enhancement (Bayar + first differences) -> NAS cells -> global/local attention."""


@register_detector("effunet", task="localize")
class EfficientUNetDetector(LocalizerNetwork):
    """EfficientNet-Lite0 RGB encoder + SRM/Bayar noise branch, U-Net decoder."""
