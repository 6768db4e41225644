"""Fixed high-pass kernels. ``KV``: the 5 x 5 SRM "KV" residual kernel (Fridrich & Kodovsky),
divided by 12, as Lee & Park put in front of PeleeNet. It sums to zero and has zero first
moments, so constant images and linear ramps map to zero."""

from __future__ import annotations

import torch

KV = torch.tensor([[-1, 2, -2, 2, -1],
                   [2, -6, 8, -6, 2],
                   [-2, 8, -12, 8, -2],
                   [2, -6, 8, -6, 2],
                   [-1, 2, -2, 2, -1]], dtype=torch.float32) / 12.0


def kv_weight(in_channels: int = 3) -> torch.Tensor:
    """(1, C, 5, 5): one output channel = KV applied to the sum of the input channels."""
    return KV.expand(1, in_channels, 5, 5).clone()
