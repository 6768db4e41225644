"""``jlstm``: J-LSTM (Bappy et al., ICCV 2017): convolutions and a 3-layer LSTM over the 8 x 8
blocks of each 64 x 64 patch, a patch classifier and a segmentation head."""

from __future__ import annotations

import torch

from forenscope.methods import register_method
from forenscope.methods.localizer import Localizer
from forenscope.nets.losses import jlstm_loss
from forenscope.nets.lstm_localizers import JLSTM as JLSTMNet


# input centred at a unit-ish scale: with [0, 1] input the LSTM saw near-constant steps
@register_method(name="jlstm", network=JLSTMNet, config="configs/jlstm.toml", input_scale=(127.5, 64.0),
                 dynamic_size=False, fixed_tile=64)
class JLSTM(Localizer):
    """J-LSTM (Bappy et al., ICCV 2017): conv + 3-layer LSTM over the 8x8 blocks of each 64x64
    patch, segmentation head; 64x64 tiles."""

    def probabilities(self, output) -> torch.Tensor:
        return torch.softmax(output[1], 1)[:, 1:2]  # (patch class logits, segmentation logits)

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        balanced = cfg["train"].get("class_weights") == "balanced"
        patch_label = target.mean(dim=(1, 2, 3)) >= cfg["data"]["patch_fraction"]
        return jlstm_loss(output[0], output[1], patch_label, target[:, 0], weights="balanced" if balanced else (1.0, 5.0))
