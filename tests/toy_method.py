"""A toy localiser added the way any method is: this one module (it would live in
``src/forenscope/methods/toy.py``) and one config (``tests/test_add_method.py`` writes it).
A learned filter's local energy to a logit map; smooth (noise-free) fills are its trace."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from forenscope.methods import register_method
from forenscope.methods.localizer import Localizer


class ToyNet(nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.filters = nn.Conv2d(3, width, 3, padding=1)
        self.head = nn.Conv2d(width, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        energy = F.avg_pool2d(self.filters(x) ** 2, 5, stride=1, padding=2)
        return self.head(torch.log(energy + 1e-4))


@register_method
class Toy(Localizer):
    """A toy localiser: the local energy of learned filters, to a logit map."""

    name = "toy"
    config = "configs/toy.toml"
    network = ToyNet

    def prepare(self, rgb: np.ndarray, settings: dict) -> np.ndarray:
        """The high-pass residual (image minus its 3 x 3 mean), where sensor noise lives."""
        import cv2

        x = rgb.astype(np.float32) / 255.0
        return (10.0 * (x - cv2.blur(x, (3, 3)))).transpose(2, 0, 1)

    def probabilities(self, output) -> torch.Tensor:
        return torch.sigmoid(output)

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(output, target)
