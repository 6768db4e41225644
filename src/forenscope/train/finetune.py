"""Partial fine-tuning of EfficientNet-Lite0 for generated-image detection (the ``finetune``
method of the leave-family-out benchmark): blocks before ``frozen`` keep their ImageNet
weights and their activations are computed once and cached; the later blocks, the head conv
and a linear layer on pooled (mean, std) features are trained, BatchNorm statistics frozen
(small batches). Random 16 x 16 crops of the cached maps (256 px of image) train it; whole
maps score an image.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from forenscope.nets.lite_probe import HEAD, LiteTrunk, pooled


def _pretrained_trunk(depth: int) -> LiteTrunk:
    from forenscope.train.probe_features import pretrained_probe

    return pretrained_probe((depth - 1,)).trunk  # tap depth - 1: blocks 0..depth-1 (16: the head conv)


def frozen_activations(images: list[np.ndarray], frozen: int) -> list[np.ndarray]:
    """Outputs of blocks 0..frozen-1 for each image (float16, C x H x W)."""
    from forenscope.train.probe_features import pretrained_probe

    net = pretrained_probe((frozen - 1,))  # its trunk is blocks 0..frozen-1
    out = []
    with torch.inference_mode():
        for img in images:
            x = torch.from_numpy(img.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
            out.append(net.trunk((x - net.mean) / net.std)[-1][0].numpy().astype(np.float16))
    return out


class TopNet(nn.Module):
    def __init__(self, frozen: int):
        super().__init__()
        full = _pretrained_trunk(HEAD + 1)
        self.blocks = nn.ModuleList(full.blocks[frozen:])
        self.conv_head, self.bn1 = full.conv_head, full.bn1
        self.linear = nn.Linear(2 * 1280, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        x = F.relu6(self.bn1(self.conv_head(x)))
        return self.linear(pooled([x]))


def _crop(m: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    _, h, w = m.shape
    if h < side or w < side:
        m = np.pad(m, ((0, 0), (0, max(0, side - h)), (0, max(0, side - w))), mode="reflect")
        _, h, w = m.shape
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    m = m[:, y:y + side, x:x + side]
    return m[:, :, ::-1] if rng.random() < 0.5 else m


def finetune_top(maps: list[np.ndarray], labels: np.ndarray, *, frozen: int = 11, seed: int = 0, epochs: int = 6,
                 batch: int = 32, lr: float = 3e-4, side: int = 16, log: Callable[[str], None] = lambda m: None) -> TopNet:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = TopNet(frozen)
    opt = torch.optim.AdamW([{"params": [p for n, p in net.named_parameters() if not n.startswith("linear")], "lr": lr},
                             {"params": net.linear.parameters(), "lr": 10 * lr}], weight_decay=1e-4)
    by_class = [np.flatnonzero(labels == c) for c in (0, 1)]
    steps = epochs * len(labels) // batch
    start = time.time()
    for step in range(steps):
        net.train()
        for m in net.modules():  # BatchNorm keeps its ImageNet statistics
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        idx = np.r_[rng.choice(by_class[0], batch // 2), rng.choice(by_class[1], batch // 2)]
        x = torch.from_numpy(np.stack([_crop(maps[i], side, rng) for i in idx]).astype(np.float32))
        y = torch.tensor(labels[idx], dtype=torch.float32)
        loss = F.binary_cross_entropy_with_logits(net(x)[:, 0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            log(f"    fine-tune step {step + 1}/{steps}: loss {loss.item():.3f} ({time.time() - start:.0f} s)")
    return net.eval()


def top_logits(net: TopNet, maps: list[np.ndarray]) -> np.ndarray:
    with torch.inference_mode():
        return np.array([float(net(torch.from_numpy(m.astype(np.float32))[None])[0, 0]) for m in maps])
