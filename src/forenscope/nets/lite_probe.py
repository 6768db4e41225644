"""A linear probe on frozen ImageNet features (UnivFD's recipe on a CPU-sized encoder):
EfficientNet-Lite0 (or Lite1: more blocks; Lite2: more blocks, wider) up to some block, each tapped block's activations pooled over the whole
image (channel mean and standard deviation, so any input size works and nothing is resized),
standardised, and one linear layer to a logit.

Only the linear layer and the standardisation are learned (``train/probe.py``); the trunk
keeps the published ImageNet weights. Input: RGB in [0, 1], (B, 3, H, W); output (B, 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from forenscope.nets.efficient_unet import LiteTrunk, load_lite0_checkpoint, stage_ends, stages


def tap_channels(variant: str = "lite0") -> tuple[int, ...]:
    """Output channels of every block, then of the head conv (tap index = number of blocks)."""
    return tuple(c for _, _, _, c, r in stages(variant) for _ in range(r)) + (1280,)


def stage_end_taps(variant: str = "lite0") -> tuple[int, ...]:
    """The last block of every stage, and the head conv."""
    ends = stage_ends(variant)
    return ends + (ends[-1] + 1,)


def every_tap(variant: str = "lite0") -> tuple[int, ...]:
    """Every block and the head conv."""
    return tuple(range(stage_ends(variant)[-1] + 2))


def cached_taps(taps, variant: str = "lite0") -> tuple[int, ...]:
    """The tap set whose features are cached for a probe of ``taps``: the stage ends when they
    cover it (the usual, smaller cache), else every block."""
    ends = stage_end_taps(variant)
    return ends if set(taps) <= set(ends) else every_tap(variant)


HEAD = 16  # Lite0's head conv tap (1280 channels) after its 16 MBConv blocks
TAP_CHANNELS = tap_channels("lite0")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


RESIDUAL_GAIN = 4.0
VIEWS = ("image", "half", "residual", "half-residual")


def _gaussian_1d(sigma: float) -> torch.Tensor:
    taps = int(round(8 * sigma + 1)) | 1  # OpenCV's Gaussian size on float images
    k = torch.exp(-((torch.arange(taps, dtype=torch.float64) - taps // 2) ** 2) / (2 * sigma ** 2))
    return (k / k.sum()).float()


def gaussian_kernels(channels: int = 3, sigma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The separable blur of :func:`high_pass` as depthwise conv weights (row, column)."""
    k = _gaussian_1d(sigma)
    return k.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), k.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)


def high_pass(x: torch.Tensor, kernels: tuple[torch.Tensor, torch.Tensor] | None = None,
              sigma: float = 1.0) -> torch.Tensor:
    """0.5 + 4 (x - Gaussian blur of x), clipped to [0, 1], for RGB in [0, 1]: the fine-scale
    residual where generators' up-sampling leaves its traces and content mostly does not.
    Equals cv2.GaussianBlur(x, (0, 0), sigma) with its default reflect-101 border.
    ``kernels``: :func:`gaussian_kernels` (sigma) held by the caller (constants for ONNX export)."""
    row, col = kernels or gaussian_kernels(x.shape[1], sigma)
    r = row.shape[-1] // 2
    blur = F.pad(x, (r, r, r, r), mode="reflect")
    blur = F.conv2d(F.conv2d(blur, row.to(x), groups=x.shape[1]), col.to(x), groups=x.shape[1])
    return (0.5 + RESIDUAL_GAIN * (x - blur)).clamp(0.0, 1.0)


def probe_view_names(scales: int = 1, residual: bool = False, views=None) -> tuple[str, ...]:
    """The views a probe sets side by side: ``views`` when given, else the image, its half-scale
    copy when ``scales`` is 2, and its residual when ``residual``."""
    names = tuple(views) if views else ("image",) + (("half",) if scales == 2 else ()) + (("residual",) if residual else ())
    bad = [v for v in names if v not in VIEWS]
    if bad or not names or len(set(names)) < len(names):
        raise ValueError(f"views must be distinct names from {', '.join(VIEWS)}; got {list(names)}")
    return names


def pooled(maps: list[torch.Tensor]) -> torch.Tensor:
    """Channel means then channel standard deviations of every map: (B, 2 * sum channels)."""
    means = [m.mean(dim=(2, 3)) for m in maps]
    stds = [(m.var(dim=(2, 3), unbiased=False) + 1e-6).sqrt() for m in maps]
    return torch.cat(means + stds, 1)


def feature_dim(taps: tuple[int, ...], variant: str = "lite0") -> int:
    return 2 * sum(tap_channels(variant)[t] for t in taps)


class LiteProbe(nn.Module):
    """Features of several views of the image through one frozen trunk, side by side:
    ``image`` (as served), ``half`` (its 2x area-downsampled copy: generator traces fade at half
    scale while content stays), ``residual`` (:func:`high_pass` at ``residual_sigma``) and
    ``half-residual`` (that of the half-scale copy).
    ``views`` names them; without it ``scales=2`` adds ``half`` and ``residual`` the residual."""

    def __init__(self, taps: tuple[int, ...] = (4, 10), depth: int | None = None, scales: int = 1,
                 encoder: str = "lite0", residual: bool = False, views=None, residual_sigma: float = 1.0):
        super().__init__()
        taps = tuple(sorted(int(t) for t in taps))
        if scales not in (1, 2):
            raise ValueError(f"scales must be 1 or 2, got {scales}")
        self.views = probe_view_names(scales, residual, views)
        self.residual_sigma = float(residual_sigma)
        self.trunk = LiteTrunk(depth or max(taps) + 1, taps, encoder)
        dim = feature_dim(taps, encoder) * len(self.views)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        row, col = gaussian_kernels(3, self.residual_sigma)
        self.register_buffer("blur_row", row, persistent=False)
        self.register_buffer("blur_col", col, persistent=False)
        # the probe's feature standardisation, fitted with it on the training features
        self.register_buffer("feat_mean", torch.zeros(dim))
        self.register_buffer("feat_scale", torch.ones(dim))
        self.linear = nn.Linear(dim, 1)

    def view(self, x: torch.Tensor, name: str) -> torch.Tensor:
        if name == "half":
            return F.avg_pool2d(x, 2)  # = area resampling by 1/2 (odd last row / column dropped)
        if name == "residual":
            return high_pass(x, (self.blur_row, self.blur_col))
        if name == "half-residual":  # the residual of the half-scale copy: coarser traces, a quarter of the cost
            return high_pass(F.avg_pool2d(x, 2), (self.blur_row, self.blur_col))
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([pooled(self.trunk((self.view(x, v) - self.mean) / self.std)) for v in self.views], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((self.features(x) - self.feat_mean) / self.feat_scale)


def load_lite0_trunk(trunk: LiteTrunk, state: dict) -> int:
    """Copy a published EfficientNet-Lite state dict into ``trunk``; returns the tensors copied."""
    load_lite0_checkpoint(trunk, state)
    return len(trunk.state_dict())


class ProbeEnsemble(nn.Module):
    """Several :class:`LiteProbe` members (e.g. different trunks) read the same image; each
    member's logit is standardised by its mean and spread on validation real images and the
    standardised logits are averaged: (B, 1). ``members``: each member's LiteProbe arguments."""

    def __init__(self, members: tuple[dict, ...]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList([LiteProbe(**m) for m in members])
        self.register_buffer("logit_mean", torch.zeros(len(members)))
        self.register_buffer("logit_scale", torch.ones(len(members)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = [(m(x) - self.logit_mean[i]) / self.logit_scale[i] for i, m in enumerate(self.members)]
        return torch.stack(z, 0).mean(0)
