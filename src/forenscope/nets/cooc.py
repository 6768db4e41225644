"""The Xception-like classifier of "No one can escape" (METHODS.md section 4.3), on the
8 x T x T chroma-edge co-occurrence input; 3 classes (authentic, tampered, generated).

Faithful at ``width=1`` (18,721,667 parameters with affine BN; no conv biases; BN eps 1e-3,
momentum 0.05 = TF decay 0.95). The CPU profile of METHODS.md 4.9 is ``width=0.25,
block5=False, block6_convs=1`` (656,355 parameters).
"""

from __future__ import annotations

import torch
from torch import nn


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.05)


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), _bn(cout))


class SeparableConv(nn.Sequential):
    """Depthwise 3x3 (multiplier 1) then pointwise 1x1, no biases (slim.separable_conv2d)."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False))


class _PoolBlock(nn.Module):
    """sep -> BN -> ReLU -> maxpool 3x3 s2 -> BN, + residual, ReLU (blocks 2 and 3)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(SeparableConv(cin, cout), _bn(cout), nn.ReLU(), nn.MaxPool2d(3, 2, 1), _bn(cout))

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + residual)


class _MiddleBlock(nn.Module):
    """3 x [sep -> BN] with ReLU between, + residual, ReLU (blocks 4 and 5)."""

    def __init__(self, cin: int, c: int):
        super().__init__()
        self.body = nn.Sequential(SeparableConv(cin, c), _bn(c), nn.ReLU(), SeparableConv(c, c), _bn(c), nn.ReLU(),
                                  SeparableConv(c, c), _bn(c))

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + residual)


class CoocNet(nn.Module):
    def __init__(self, in_channels: int = 8, classes: int = 3, width: float = 1.0, block5: bool = True,
                 block6_convs: int = 2, dense: int | None = None, dropout: float = 0.5):
        super().__init__()
        c = lambda n: max(8, int(round(n * width)))  # noqa: E731
        c64, c128, c256, c512, c1024, c2048 = c(64), c(128), c(256), c(512), c(1024), c(2048)
        self.block1 = nn.Sequential(_conv_bn(in_channels, c64, 5, 4), nn.ReLU(), _conv_bn(c64, c128, 3), nn.ReLU(),
                                    _conv_bn(c128, c256, 3), nn.ReLU())
        self.r1 = _conv_bn(c256, c256, 1, 2)
        self.block2 = _PoolBlock(c256, c256)
        self.r2 = _conv_bn(c256, c512, 1, 2)
        self.block3 = _PoolBlock(c256, c512)
        self.r3 = _conv_bn(c512, c1024, 1)
        self.block4 = _MiddleBlock(c512, c1024)
        self.r4 = _conv_bn(c1024, c1024, 1) if block5 else None
        self.block5 = _MiddleBlock(c1024, c1024) if block5 else None
        layers, cin = [], c1024
        for _ in range(block6_convs):
            layers += [SeparableConv(cin, c2048), _bn(c2048), nn.ReLU()]
            cin = c2048
        self.block6 = nn.Sequential(*layers)
        dense = dense or c2048  # the hidden dense layer scales with the width
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin, dense), nn.ReLU(),
                                  nn.Linear(dense, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 8, T, T) -> (B, classes) logits."""
        x = self.block1(x)
        x = self.block2(x, self.r1(x))
        x = self.block3(x, self.r2(x))
        x = self.block4(x, self.r3(x))
        if self.block5 is not None:
            x = self.block5(x, self.r4(x))
        x = self.block6(x)
        return self.head(x.mean(dim=(2, 3), keepdim=True))
