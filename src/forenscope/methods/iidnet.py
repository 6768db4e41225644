"""``iidnet``: IID-Net (Wu & Zhou, TCSVT 2022), a compact CPU profile: enhancement (Bayar +
first differences) -> NAS cells -> global / local attention; inpainting localisation."""

from __future__ import annotations

import torch

from forenscope.methods import register_method
from forenscope.methods.localizer import Localizer
from forenscope.nets.iidnet import IIDNet as IIDNetwork
from forenscope.nets.losses import iid_focal_bce


@register_method(name="iidnet", network=IIDNetwork, config="configs/iidnet-telea.toml", input_scale=(127.5, 127.5))
class IIDNet(Localizer):
    """IID-Net: enhancement (Bayar + first differences) -> NAS cells -> global/local attention;
    RGB in [-1, 1], as the original."""

    def probabilities(self, output) -> torch.Tensor:
        return IIDNetwork.probabilities(output)

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        return iid_focal_bce(output, target, double_sigmoid=bool(cfg["train"].get("double_sigmoid", False)))
