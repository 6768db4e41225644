"""A linear probe on frozen ImageNet features (UnivFD's recipe on a CPU-sized encoder):
EfficientNet-Lite0 (or Lite1: same widths, more blocks) up to some block, each tapped block's activations pooled over the whole
image (channel mean and standard deviation, so any input size works and nothing is resized),
standardised, and one linear layer to a logit.

Only the linear layer and the standardisation are learned (``train/probe.py``); the trunk
keeps the published ImageNet weights. Input: RGB in [0, 1], (B, 3, H, W); output (B, 1).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from forenscope.nets.efficient_unet import BN_EPS, LITE0_STAGES, load_lite0_checkpoint, mbconv_blocks

# blocks per stage of each EfficientNet-Lite variant (channels and kernels are Lite0's for all)
REPEATS = {"lite0": tuple(r for *_, r in LITE0_STAGES), "lite1": (1, 3, 3, 4, 4, 5, 1)}


def stages(variant: str) -> tuple:
    if variant not in REPEATS:
        raise ValueError(f"unknown encoder {variant!r}; known: {', '.join(REPEATS)}")
    return tuple(st[:4] + (r,) for st, r in zip(LITE0_STAGES, REPEATS[variant]))


def tap_channels(variant: str = "lite0") -> tuple[int, ...]:
    """Output channels of every block, then of the head conv (tap index = number of blocks)."""
    return tuple(c for _, _, _, c, r in stages(variant) for _ in range(r)) + (1280,)


def stage_end_taps(variant: str = "lite0") -> tuple[int, ...]:
    """The last block of every stage, and the head conv."""
    ends = list(np.cumsum(REPEATS[variant]) - 1)
    return tuple(int(e) for e in ends) + (int(ends[-1]) + 1,)


HEAD = 16  # Lite0's head conv tap (1280 channels) after its 16 MBConv blocks
TAP_CHANNELS = tap_channels("lite0")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class LiteTrunk(nn.Module):
    """EfficientNet-Lite0 blocks 0..``depth``-1 (and the head conv when ``depth`` is 17);
    returns the outputs of the ``taps`` (block indices, 16 = head)."""

    def __init__(self, depth: int, taps: tuple[int, ...], variant: str = "lite0"):
        super().__init__()
        head = sum(r for *_, r in stages(variant))  # the head conv's tap index
        if not taps or max(taps) >= depth or min(taps) < 0 or depth > head + 1:
            raise ValueError(f"taps {taps} must lie in 0..{depth - 1} (depth {depth} <= {head + 1})")
        self.taps, self.head = tuple(sorted(taps)), head
        self.conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self.bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        self.blocks = nn.ModuleList(mbconv_blocks(stages(variant))[: min(depth, head)])
        if depth > head:
            self.conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu6(self.bn0(self.conv_stem(x)))
        out = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                out.append(x)
        if self.head in self.taps:
            out.append(F.relu6(self.bn1(self.conv_head(x))))
        return out


RESIDUAL_SIGMA, RESIDUAL_GAIN = 1.0, 4.0
_TAPS_1D = 9  # OpenCV's Gaussian size for sigma 1 on float images: round(8 sigma + 1) | 1


def _gaussian_1d() -> torch.Tensor:
    k = torch.exp(-((torch.arange(_TAPS_1D, dtype=torch.float64) - _TAPS_1D // 2) ** 2) / (2 * RESIDUAL_SIGMA ** 2))
    return (k / k.sum()).float()


def gaussian_kernels(channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """The separable blur of :func:`high_pass` as depthwise conv weights (row, column)."""
    k = _gaussian_1d()
    return k.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), k.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)


def high_pass(x: torch.Tensor, kernels: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """0.5 + 4 (x - Gaussian blur of x, sigma 1), clipped to [0, 1], for RGB in [0, 1]: the
    fine-scale residual where generators' up-sampling leaves its traces and content mostly does
    not. Equals cv2.GaussianBlur(x, (0, 0), 1) with its default reflect-101 border.
    ``kernels``: :func:`gaussian_kernels` held by the caller (constants for ONNX export)."""
    row, col = kernels or gaussian_kernels(x.shape[1])
    r = _TAPS_1D // 2
    blur = F.pad(x, (r, r, r, r), mode="reflect")
    blur = F.conv2d(F.conv2d(blur, row.to(x), groups=x.shape[1]), col.to(x), groups=x.shape[1])
    return (0.5 + RESIDUAL_GAIN * (x - blur)).clamp(0.0, 1.0)


def pooled(maps: list[torch.Tensor]) -> torch.Tensor:
    """Channel means then channel standard deviations of every map: (B, 2 * sum channels)."""
    means = [m.mean(dim=(2, 3)) for m in maps]
    stds = [(m.var(dim=(2, 3), unbiased=False) + 1e-6).sqrt() for m in maps]
    return torch.cat(means + stds, 1)


def feature_dim(taps: tuple[int, ...], variant: str = "lite0") -> int:
    return 2 * sum(tap_channels(variant)[t] for t in taps)


class LiteProbe(nn.Module):
    """``scales=2``: features of the image and of its 2x area-downsampled copy, side by side
    (generator traces fade at half scale while content stays: the contrast is informative).
    ``residual``: and of its high-pass residual (:func:`high_pass`), through the same trunk."""

    def __init__(self, taps: tuple[int, ...] = (4, 10), depth: int | None = None, scales: int = 1,
                 encoder: str = "lite0", residual: bool = False):
        super().__init__()
        taps = tuple(sorted(int(t) for t in taps))
        if scales not in (1, 2):
            raise ValueError(f"scales must be 1 or 2, got {scales}")
        self.scales, self.residual = scales, bool(residual)
        self.trunk = LiteTrunk(depth or max(taps) + 1, taps, encoder)
        dim = feature_dim(taps, encoder) * (scales + self.residual)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        row, col = gaussian_kernels(3)
        self.register_buffer("blur_row", row, persistent=False)
        self.register_buffer("blur_col", col, persistent=False)
        # the probe's feature standardisation, fitted with it on the training features
        self.register_buffer("feat_mean", torch.zeros(dim))
        self.register_buffer("feat_scale", torch.ones(dim))
        self.linear = nn.Linear(dim, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        views = [x]
        if self.scales == 2:
            views.append(F.avg_pool2d(x, 2))  # = area resampling by 1/2 (odd last row / column dropped)
        if self.residual:
            views.append(high_pass(x, (self.blur_row, self.blur_col)))
        return torch.cat([pooled(self.trunk((v - self.mean) / self.std)) for v in views], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((self.features(x) - self.feat_mean) / self.feat_scale)


def load_lite0_trunk(trunk: LiteTrunk, state: dict) -> int:
    """Copy a published EfficientNet-Lite state dict into ``trunk``; returns the tensors copied."""
    load_lite0_checkpoint(trunk, state)
    return len(trunk.state_dict())
