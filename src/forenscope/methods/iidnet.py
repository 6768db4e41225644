"""``iidnet``: IID-Net (Wu & Zhou, TCSVT 2022), a compact CPU profile: enhancement (Bayar +
first differences) -> NAS cells -> global / local attention; inpainting localisation."""

from __future__ import annotations

import numpy as np
import torch

from forenscope.methods import register_method
from forenscope.methods.localizer import Localizer
from forenscope.nets.iidnet import IIDNet as IIDNetwork
from forenscope.nets.losses import iid_focal_bce


@register_method
class IIDNet(Localizer):
    """IID-Net: enhancement (Bayar + first differences) -> NAS cells -> global/local attention."""

    name = "iidnet"
    config = "configs/iidnet-telea.toml"
    network = IIDNetwork

    def prepare(self, rgb: np.ndarray, settings: dict) -> np.ndarray:
        """RGB in [-1, 1], as the original."""
        return (rgb.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)

    def probabilities(self, output) -> torch.Tensor:
        return IIDNetwork.probabilities(output)

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        return iid_focal_bce(output, target, double_sigmoid=bool(cfg["train"].get("double_sigmoid", False)))
