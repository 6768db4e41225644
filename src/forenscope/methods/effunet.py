"""``effunet``: an EfficientNet-Lite RGB encoder (``network.encoder``: lite0, lite1 or lite2,
ImageNet-initialised; the shipped weights use Lite1) beside an SRM / Bayar noise branch, a U-Net
decoder to a one-channel logit map; trained on synthetic forgeries."""

from __future__ import annotations

import torch

from forenscope.methods import register_method
from forenscope.methods.localizer import Localizer
from forenscope.nets.efficient_unet import EfficientUNet
from forenscope.nets.losses import bce_dice


@register_method(name="effunet", network=EfficientUNet, config="configs/effunet.toml", input_scale=(0.0, 255.0))
class EffUNet(Localizer):
    """EfficientNet-Lite RGB encoder + SRM/Bayar noise branch, U-Net decoder; RGB in [0, 1]."""

    def probabilities(self, output) -> torch.Tensor:
        return torch.sigmoid(output)

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        return bce_dice(output, target)
