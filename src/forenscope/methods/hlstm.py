"""``hlstm``: H-LSTM (Bappy et al., TIP 2019): a residual encoder fused with an LSTM over
Hilbert-ordered resampling features of 32 x 32 patches, on a fixed 256 x 256 grid."""

from __future__ import annotations

import numpy as np
import torch

from forenscope.methods import register_method
from forenscope.methods.localizer import Localizer
from forenscope.nets.losses import two_channel_sigmoid_ce
from forenscope.nets.lstm_localizers import HLSTM as HLSTMNet


@register_method(name="hlstm", network=HLSTMNet, config="configs/hlstm.toml", input_scale=(0.0, 127.0),
                 dynamic_size=False, fixed_tile=256)
class HLSTM(Localizer):
    """H-LSTM (Bappy et al., TIP 2019): residual encoder fused with an LSTM over Hilbert-ordered
    resampling features of 32x32 patches; 256x256 tiles (64 patches); RGB / 127, as the original."""

    def batch(self, crops: list[np.ndarray], settings: dict) -> tuple[torch.Tensor, ...]:
        """(images, Hilbert-curve resampling features of their 32 x 32 patches)."""
        from forenscope.signals.resampling import image_resampling_features

        (x,) = super().batch(crops, settings)
        return x, torch.from_numpy(np.stack([image_resampling_features(c) for c in crops]))

    def probabilities(self, output) -> torch.Tensor:
        return torch.softmax(output, 1)[:, 1:2]  # two sigmoid channels, prediction = argmax

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        return two_channel_sigmoid_ce(output, target[:, 0], balanced=cfg["train"].get("class_weights") == "balanced")
