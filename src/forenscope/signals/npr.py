"""NPR, the neighbouring-pixel-relationship residual (Tan et al., CVPR 2024).

``x - up2_nearest(down2_nearest(x))``: PyTorch's nearest down-sampling keeps the top-left
pixel of every 2 x 2 block, so the residual is 0 there and ``x[p] - x[top-left]`` at the
other three pixels: a fixed, parameter-free local residual on the 2 x 2 grid that
up-sampling layers of generators leave their trace on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

def crop_to_even(x: torch.Tensor) -> torch.Tensor:
    """Drop the last row / column of odd-sized inputs (the original fails on them)."""
    h, w = x.shape[-2:]
    return x[..., : h - h % 2, : w - w % 2]


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """The NPR residual of an N x C x H x W tensor with even H and W."""
    if x.shape[-2] % 2 or x.shape[-1] % 2:
        raise ValueError(f"NPR needs even height and width, got {tuple(x.shape[-2:])}: crop_to_even first")
    half = F.interpolate(x, scale_factor=0.5, mode="nearest", recompute_scale_factor=True)
    return x - F.interpolate(half, scale_factor=2.0, mode="nearest", recompute_scale_factor=True)
