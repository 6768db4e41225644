"""Bappy et al.'s CNN-LSTM manipulation localisers (METHODS.md section 3).

* ``JLSTM`` (ICCV 2017): per 64x64 patch, two 5x5 convs to one channel, its 8x8 blocks as 64
  time steps through a 3-layer LSTM(256); a patch-classification head on the last step and a
  segmentation head on all steps (2 x 64 x 64 logits). 1,387,014 parameters.
* ``HLSTM`` (TIP 2019): a 4-stage residual conv encoder on the 256x256 image, fused with an
  LSTM over the Hilbert-ordered resampling features of its 64 patches (32x32), decoded by fixed
  bilinear up-sampling to 2 x 256 x 256 logits. 2,210,186 parameters at nf=32.
* ``Bitmask93PatchClassifier``: the patch classifier of the re-implementation whose test patch F1
  (0.756) is the figure usually quoted (METHODS.md 3.1): per 32x32 patch, two 3x3 convs to one
  channel, its 32 rows as time steps through 3 stacked LSTM(32), the three layers' outputs
  stacked and flattened into a dense stack 2048-1024-512-256-128-2. 9,106,899 parameters.

All return logits; losses live in the trainer.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from forenscope.signals.resampling import hilbert_order


class JLSTM(nn.Module):
    def __init__(self, patch: int = 64, hidden: int = 256, layers: int = 3, block: int = 8):
        super().__init__()
        if patch % block:
            raise ValueError(f"patch {patch} must be a multiple of block {block}")
        self.patch, self.block, self.hidden = patch, block, hidden
        self.grid = patch // block
        self.conv1 = nn.Conv2d(3, 16, 5, padding=2, bias=False)
        self.conv2 = nn.Conv2d(16, 1, 5, padding=2, bias=False)
        self.lstm = nn.LSTM(block * block, hidden, layers, batch_first=True)
        self.classify = nn.Linear(hidden, 2)
        side = int(round(hidden**0.5))
        if side * side != hidden:
            raise ValueError(f"hidden {hidden} must be a square (each step is drawn as a side x side tile)")
        self.tile = side
        self.seg1 = nn.Conv2d(1, 32, 5, padding=2, bias=False)
        self.seg2 = nn.Conv2d(32, 2, 5, padding=2, bias=False)
        self.seg3 = nn.Conv2d(2, 2, 5, padding=2, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, P, P) -> (class logits (B, 2), segmentation logits (B, 2, P, P))."""
        b, g, k = x.shape[0], self.grid, self.block
        y = F.relu(self.conv2(F.relu(self.conv1(x))))  # (B, 1, P, P)
        steps = y.view(b, g, k, g, k).permute(0, 1, 3, 2, 4).reshape(b, g * g, k * k)  # raster blocks
        out, _ = self.lstm(steps)  # (B, g*g, hidden)
        logits = self.classify(out[:, -1])
        t = self.tile
        tiles = out.view(b, g, g, t, t).permute(0, 1, 3, 2, 4).reshape(b, 1, g * t, g * t)
        s = F.max_pool2d(F.relu(self.seg1(tiles)), 2)
        s = self.seg3(F.relu(self.seg2(s)))
        if s.shape[-1] != self.patch:
            s = F.interpolate(s, size=(self.patch, self.patch), mode="bilinear", align_corners=False)
        return logits, s


class Bitmask93PatchClassifier(nn.Module):
    """What bitmask93's diagram shows; its notebook is lost, so kernel size (3x3), ReLU, dropout
    0.5 after the first two dense layers are the assumptions METHODS.md names."""

    def __init__(self, patch: int = 32, hidden: int = 32, dropout: float = 0.5):
        super().__init__()
        self.patch = patch
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 1, 3, padding=1)
        self.lstms = nn.ModuleList([nn.LSTM(patch if i == 0 else hidden, hidden, batch_first=True) for i in range(3)])
        widths = [3 * patch * hidden, 2048, 1024, 512, 256, 128]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [nn.Linear(cin, cout), nn.ReLU()] + ([nn.Dropout(dropout)] if i < 2 else [])
        self.dense = nn.Sequential(*layers, nn.Linear(widths[-1], 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, P, P) -> class logits (B, 2); class 1 = manipulated."""
        y = F.relu(self.conv2(F.relu(self.conv1(x))))[:, 0]  # (B, P, P): rows are time steps
        outs = []
        for lstm in self.lstms:
            y, _ = lstm(y)
            outs.append(y)
        stacked = torch.stack(outs[::-1], dim=-1)  # (B, P, hidden, 3): [LSTM_3, LSTM_2, LSTM_1]
        return self.dense(stacked.flatten(1))


def bilinear_kernel(factor: int) -> torch.Tensor:
    """The fixed (2 factor) x (2 factor) bilinear up-sampling kernel of FCN / TF-slim."""
    size = 2 * factor - factor % 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    k = (1 - abs(og[0] - centre) / factor) * (1 - abs(og[1] - centre) / factor)
    return torch.tensor(k, dtype=torch.float32)


class FixedBilinearUp(nn.Module):
    """Depthwise transposed conv with a frozen bilinear kernel: exact x``factor`` up-sampling."""

    def __init__(self, channels: int, factor: int):
        super().__init__()
        self.factor, self.channels = factor, channels
        self.register_buffer("kernel", bilinear_kernel(factor).expand(channels, 1, -1, -1).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.factor
        return F.conv_transpose2d(x, self.kernel, stride=f, padding=f // 2, groups=self.channels)


class _ResidualStage(nn.Module):
    """conv3x3 -> BN -> ReLU -> [BN -> ReLU -> conv -> BN -> ReLU -> conv] + skip -> ReLU -> pool."""

    def __init__(self, cin: int, nf: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, nf, 3, padding=1)
        self.bn = nn.BatchNorm2d(nf)
        self.res = nn.Sequential(nn.BatchNorm2d(nf), nn.ReLU(), nn.Conv2d(nf, nf, 3, padding=1),
                                 nn.BatchNorm2d(nf), nn.ReLU(), nn.Conv2d(nf, nf, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.conv(x)))
        return F.max_pool2d(F.relu(x + self.res(x)), 2)


class HLSTM(nn.Module):
    FEATURES = 240

    def __init__(self, nf: int = 32, hidden: int = 64, grid: int = 8, dropout: float = 0.1):
        super().__init__()
        self.grid = grid
        order = int(np.log2(grid))
        if 2**order != grid:
            raise ValueError(f"grid {grid} must be a power of two (Hilbert curve)")
        self.encoder = nn.Sequential(*[_ResidualStage(3 if k == 0 else nf * 2 ** (k - 1), nf * 2**k) for k in range(4)])
        self.lstm = nn.LSTM(self.FEATURES, hidden, 2, batch_first=True)
        self.lstm_dropout = nn.Dropout(dropout)  # TF keep_prob 0.9 on the outputs
        n = grid * grid
        self.position_weight = nn.Parameter(torch.randn(n, hidden, 32) * (1.0 / hidden**0.5))
        self.position_bias = nn.Parameter(torch.zeros(32))
        self.lstm_bn = nn.BatchNorm2d(32)
        self.lstm_up = FixedBilinearUp(32, 2)
        enc_out = nf * 8
        self.fuse = nn.Sequential(nn.Conv2d(enc_out, 32, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.up4a = FixedBilinearUp(64, 4)
        self.head = nn.Conv2d(64, 2, 1)
        self.head_bn = nn.Sequential(nn.BatchNorm2d(2), nn.BatchNorm2d(2))  # two in a row, as published
        self.up4b = FixedBilinearUp(2, 4)
        ind = torch.as_tensor(hilbert_order(order))
        self.register_buffer("hilbert", ind, persistent=False)
        self.register_buffer("unhilbert", torch.argsort(ind), persistent=False)

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """x (B, 3, 16g, 16g) scaled to [0, 2]; features (B, g*g, 240) in raster order ->
        logits (B, 2, 16g, 16g) (channel 1 = manipulated)."""
        b, g = x.shape[0], self.grid
        enc = self.fuse(self.encoder(x))  # (B, 32, H/16, W/16)
        seq, _ = self.lstm(features[:, self.hilbert])
        seq = self.lstm_dropout(seq)[:, self.unhilbert]  # back to raster order
        pos = torch.einsum("bnh,nho->bno", seq, self.position_weight) + self.position_bias
        lstm_map = pos.view(b, g, g, 32).permute(0, 3, 1, 2)
        lstm_map = self.lstm_up(F.relu(self.lstm_bn(lstm_map)))  # (B, 32, 2g, 2g)
        if lstm_map.shape[-2:] != enc.shape[-2:]:
            raise ValueError(f"image {tuple(x.shape[-2:])} does not match a {g}x{g} patch grid")
        y = self.up4a(torch.cat([enc, lstm_map], 1))
        y = F.relu(self.head_bn(self.head(y)))
        return self.up4b(y)
