"""A localiser in the style most strong ones share: an ImageNet-pretrained RGB encoder
(EfficientNet-Lite0, 1 or 2, cut at stride 16) beside a noise-residual branch (fixed SRM high-pass +
Bayar-constrained convolution), fused in a small U-Net decoder to full-resolution logits.

The encoder's layer names follow the published EfficientNet-Lite checkpoints without their
leading underscores, so :func:`load_lite0_checkpoint` maps them one to one.
Input: RGB in [0, 1], (B, 3, H, W) with H, W multiples of 16; output: logits (B, 1, H, W).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from forenscope.nets.iidnet import bayar_constrain

# (expand ratio, kernel, stride, out channels, repeats) of EfficientNet-Lite0
LITE0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
# blocks per stage of each EfficientNet-Lite variant (kernels, strides and expansions are Lite0's
# for all; the first and last stages keep one block, as the Lite models fix them)
REPEATS = {"lite0": tuple(r for *_, r in LITE0_STAGES), "lite1": (1, 3, 3, 4, 4, 5, 1),
           "lite2": (1, 3, 3, 4, 4, 5, 1)}
# output channels per stage: Lite2 scales Lite0's by 1.1, rounded to multiples of 8 (read off its checkpoint)
WIDTHS = {"lite0": tuple(c for _, _, _, c, _ in LITE0_STAGES), "lite1": tuple(c for _, _, _, c, _ in LITE0_STAGES),
          "lite2": (16, 24, 48, 88, 120, 208, 352)}
BN_EPS = 1e-3  # TensorFlow's, as the checkpoint was trained with
KV = torch.tensor([[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2],
                   [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]], dtype=torch.float32) / 12.0


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * expand
        self.expand_conv = nn.Conv2d(cin, mid, 1, bias=False) if expand != 1 else None
        self.bn0 = nn.BatchNorm2d(mid, eps=BN_EPS) if expand != 1 else None
        self.depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self.bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self.project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.expand_conv is not None:
            y = F.relu6(self.bn0(self.expand_conv(y)))
        y = F.relu6(self.bn1(self.depthwise_conv(y)))
        y = self.bn2(self.project_conv(y))
        return x + y if self.residual else y


def stages(variant: str) -> tuple:
    """(expand ratio, kernel, stride, out channels, repeats) per stage of EfficientNet-``variant``."""
    if variant not in REPEATS:
        raise ValueError(f"unknown encoder {variant!r}; known: {', '.join(REPEATS)}")
    return tuple(st[:3] + (c, r) for st, c, r in zip(LITE0_STAGES, WIDTHS[variant], REPEATS[variant]))


def mbconv_blocks(stages) -> list[MBConv]:
    """The MBConv blocks of an EfficientNet-Lite trunk after its 32-channel stem, in order;
    ``stages``: (expand ratio, kernel, stride, out channels, repeats) per stage."""
    blocks, cin = [], 32
    for expand, kernel, stride, cout, repeats in stages:
        for r in range(repeats):
            blocks.append(MBConv(cin, cout, expand, kernel, stride if r == 0 else 1))
            cin = cout
    return blocks


def through_blocks(x: torch.Tensor, blocks: nn.ModuleList, taps) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``x`` through the MBConv ``blocks``: the last output and those of the blocks in ``taps``."""
    out = []
    for i, block in enumerate(blocks):
        x = block(x)
        if i in taps:
            out.append(x)
    return x, out


def stage_ends(variant: str = "lite0") -> tuple[int, ...]:
    """The index of every stage's last block."""
    return tuple(int(e) for e in np.cumsum([r for *_, r in stages(variant)]) - 1)


class LiteTrunk(nn.Module):
    """EfficientNet-Lite blocks 0..``depth``-1 (and the head conv when ``depth`` is one more than
    the blocks); returns the outputs of the ``taps`` (block indices; the head's is the block count)."""

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
            self.conv_head = nn.Conv2d(WIDTHS[variant][-1], 1280, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x, out = through_blocks(F.relu6(self.bn0(self.conv_stem(x))), self.blocks, self.taps)
        if self.head in self.taps:
            out.append(F.relu6(self.bn1(self.conv_head(x))))
        return out


# effunet's encoder taps the ends of stages 1, 2, 3 and 5: strides 2, 4, 8 and 16
ENCODER_STAGES = (0, 1, 2, 4)


class NoiseBranch(nn.Module):
    """Fixed SRM "KV" residual of each colour channel + 3 Bayar-constrained 5x5 filters,
    then two stride-2 convs: noise features at stride 4."""

    def __init__(self, out_ch: int = 24):
        super().__init__()
        self.register_buffer("kv", KV.expand(3, 1, 5, 5).clone(), persistent=False)
        self.bayar = nn.Parameter(torch.randn(3, 3, 5, 5) * 0.1 + 0.2)
        self.down = nn.Sequential(
            nn.Conv2d(6, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, out_ch, 3, 2, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU())

    def forward(self, x255):
        kv = F.conv2d(x255, self.kv, padding=2, groups=3).clamp(-3, 3)
        bayar = F.conv2d(x255, bayar_constrain(self.bayar), padding=2) / 10.0
        return self.down(torch.cat([kv, bayar], 1))


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class EfficientUNet(nn.Module):
    def __init__(self, noise: bool = True, dec: tuple = (64, 32, 16), encoder: str = "lite0"):
        super().__init__()
        taps = tuple(stage_ends(encoder)[i] for i in ENCODER_STAGES)
        # the trunk up to the stride-16 stage's end: 16, 24, 40, 112 channels (Lite0, Lite1), 16, 24, 48, 120 (Lite2)
        self.encoder = LiteTrunk(taps[-1] + 1, taps, encoder)
        c2, c4, c8, c16 = (WIDTHS[encoder][i] for i in ENCODER_STAGES)
        self.noise = NoiseBranch(24) if noise else None
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        d8, d4, d2 = dec
        self.up8 = _conv_bn(c16 + c8, d8)
        self.up4 = _conv_bn(d8 + c4 + (24 if noise else 0), d4)
        self.up2 = _conv_bn(d4 + c2, d2)
        self.head = nn.Conv2d(d2, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        s2, s4, s8, s16 = self.encoder((x - self.mean) / self.std)
        y = self.up8(torch.cat([_up(s16, s8), s8], 1))
        skips4 = [s4] + ([self.noise(x * 255.0)] if self.noise is not None else [])
        y = self.up4(torch.cat([_up(y, s4), *skips4], 1))
        y = self.up2(torch.cat([_up(y, s2), s2], 1))
        return F.interpolate(self.head(y), size=(h, w), mode="bilinear", align_corners=False)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def load_lite0_checkpoint(encoder: nn.Module, state: dict) -> list[str]:
    """Copy a published EfficientNet-Lite state dict (keys like ``_blocks.3._bn1.weight``)
    into ``encoder`` (a LiteTrunk); returns the checkpoint keys
    that were not used (head, classifier, later blocks). Every encoder tensor must be found,
    with its shape."""
    mapped = {k.replace("_blocks.", "blocks.").replace("._", ".").lstrip("_"): v for k, v in state.items()}
    own = encoder.state_dict()
    missing = [k for k in own if k not in mapped or mapped[k].shape != own[k].shape]
    if missing:
        raise ValueError(f"checkpoint lacks (or mis-shapes) {len(missing)} encoder tensors, e.g. {missing[:3]}")
    encoder.load_state_dict({k: mapped[k] for k in own})
    return sorted(k for k in mapped if k not in own)
