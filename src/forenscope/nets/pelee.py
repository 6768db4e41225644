"""PeleeNet behind a fixed SRM "KV" high-pass filter (Lee & Park 2021).

Faithful at the defaults: KV/12 on the channel sum (no padding), a 1-channel stem, two-way
dense layers with growth 32 and a fixed bottleneck of 2k = 64, blocks 3-4-8-6, 1 x 1
transitions (no compression) with 2 x 2 average pooling except after the last block, global
pooling and Linear(704, 2): 2,240,994 parameters. Returns logits; ``softmax=True`` restores the
original's softmax inside the model (which its cross-entropy then applies twice).
``bottleneck="peleenet"`` with ``hpf=False, in_channels=3, num_classes=1000`` rebuilds the
original PeleeNet (Wang et al. 2018; 2,802,248 parameters), a check on the dense-layer code.
Class 1 is "generated" (the original's ImageFolder order made fake = 0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from forenscope.signals.highpass import kv_weight

DROPOUT_PLACES = ("head", "dense")


def conv_bn_relu(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TwoWayDenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, inter: int, drop: float = 0.0):
        super().__init__()
        half = growth // 2
        self.branch1 = nn.Sequential(conv_bn_relu(cin, inter, 1), conv_bn_relu(inter, half, 3))
        self.branch2 = nn.Sequential(conv_bn_relu(cin, inter, 1), conv_bn_relu(inter, half, 3),
                                     conv_bn_relu(half, half, 3))
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b2 = self.branch1(x), self.branch2(x)
        if self.drop > 0:
            b1 = F.dropout(b1, self.drop, self.training)
            b2 = F.dropout(b2, self.drop, self.training)
        return torch.cat([x, b1, b2], 1)


class Stem(nn.Module):
    def __init__(self, cin: int, width: int = 32):
        super().__init__()
        self.conv = conv_bn_relu(cin, width, 3, 2)
        self.branch_a = nn.Sequential(conv_bn_relu(width, width // 2, 1), conv_bn_relu(width // 2, width, 3, 2))
        self.branch_b = nn.MaxPool2d(2, 2)
        self.fuse = conv_bn_relu(2 * width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.fuse(torch.cat([self.branch_a(x), self.branch_b(x)], 1))


class PeleeHPF(nn.Module):
    def __init__(self, growth: int = 32, blocks=(3, 4, 8, 6), num_classes: int = 2, hpf: bool = True,
                 in_channels: int = 3, bottleneck: str = "fixed", stem_width: int = 32,
                 dropout: float = 0.0, dropout_where: str = "head", softmax: bool = False):
        super().__init__()
        if dropout_where not in DROPOUT_PLACES:
            raise ValueError(f"dropout_where must be one of {DROPOUT_PLACES}, got {dropout_where!r}")
        if bottleneck not in ("fixed", "peleenet"):
            raise ValueError(f"bottleneck must be 'fixed' or 'peleenet', got {bottleneck!r}")
        self.use_hpf = hpf
        if hpf:
            self.register_buffer("hpf", kv_weight(in_channels))  # a buffer: moves with .to(), saved
        self.stem = Stem(1 if hpf else in_channels, stem_width)
        dense_drop = dropout if dropout_where == "dense" else 0.0
        stages, ch = [], stem_width
        for i, n in enumerate(blocks):
            layers = []
            for _ in range(n):
                inter = self._inter(ch, growth, i, bottleneck)
                layers.append(TwoWayDenseLayer(ch, growth, inter, dense_drop))
                ch += growth
            layers.append(conv_bn_relu(ch, ch, 1))  # transition, no compression
            if i < len(blocks) - 1:
                layers.append(nn.AvgPool2d(2, 2))
            stages.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*stages)
        self.num_features = ch
        self.dropout = nn.Dropout(dropout) if dropout_where == "head" and dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(ch, num_classes)
        self.softmax = softmax

    @staticmethod
    def _inter(cin: int, growth: int, stage: int, bottleneck: str) -> int:
        if bottleneck == "fixed":
            return 2 * growth
        inter = (growth // 2) * (1, 2, 4, 4)[min(stage, 3)] // 4 * 4
        return cin // 8 * 4 if inter > cin / 2 else inter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_hpf:
            x = F.conv2d(x, self.hpf)
        x = self.features(self.stem(x))
        x = self.classifier(self.dropout(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)))
        return torch.softmax(x, 1) if self.softmax else x
