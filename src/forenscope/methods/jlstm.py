"""``jlstm``: J-LSTM (Bappy et al., ICCV 2017): convolutions and a 3-layer LSTM over the 8 x 8
blocks of each 64 x 64 patch, a patch classifier and a segmentation head."""

from __future__ import annotations

import numpy as np
import torch

from forenscope.methods import register_method
from forenscope.methods.localizer import Localizer
from forenscope.nets.losses import jlstm_loss
from forenscope.nets.lstm_localizers import JLSTM as JLSTMNet


@register_method
class JLSTM(Localizer):
    """J-LSTM (Bappy et al., ICCV 2017): conv + 3-layer LSTM over the 8x8 blocks of each 64x64
    patch, segmentation head; 64x64 tiles."""

    name = "jlstm"
    config = "configs/jlstm.toml"
    network = JLSTMNet
    dynamic_size = False
    fixed_tile = 64

    def prepare(self, rgb: np.ndarray, settings: dict) -> np.ndarray:
        """Centred, unit-ish scale: with [0, 1] input the LSTM saw near-constant steps."""
        return ((rgb.astype(np.float32) - 127.5) / 64.0).transpose(2, 0, 1)

    def probabilities(self, output) -> torch.Tensor:
        return torch.softmax(output[1], 1)[:, 1:2]  # (patch class logits, segmentation logits)

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        balanced = cfg["train"].get("class_weights") == "balanced"
        patch_label = target.mean(dim=(1, 2, 3)) >= cfg["data"]["patch_fraction"]
        return jlstm_loss(output[0], output[1], patch_label, target[:, 0], weights="balanced" if balanced else (1.0, 5.0))
