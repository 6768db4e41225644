"""NPR retrained on the generator pool: the comparison row of the leave-family-out benchmark
(``kind: npr`` in a ``families`` protocol). The same network as the shipped ``npr`` (width 64,
blocks 2-2), trained from scratch on random 64x64 crops of the pool's images, both classes
augmented alike (blur, rescale, JPEG), balanced batches; images are scored whole (they are at
most 320 px), as the shipped detector scores an image up to its tile size.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from forenscope.data.augment import augment, random_crop
from forenscope.nets.npr import NPRNet
from forenscope.methods import get_method

AUGMENT = {"blur_prob": 0.1, "blur_sigma": (0.0, 2.0), "resize_prob": 0.2, "resize_scale": (0.6, 1.4),
           "jpeg_prob": 0.6, "jpeg_quality": (60, 100)}


def fit_npr(images: list[np.ndarray], labels: np.ndarray, *, steps: int = 600, batch: int = 64, crop: int = 64,
            lr: float = 1e-3, seed: int = 0, network: dict | None = None,
            log: Callable[[str], None] = lambda m: None) -> NPRNet:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = NPRNet(**{"width": 64, "blocks": (2, 2), **(network or {})})
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    by_class = [np.flatnonzero(labels == c) for c in (0, 1)]
    net.train()
    start = time.time()
    for step in range(steps):
        xs, ys = [], []
        for c in (0, 1):
            for i in rng.choice(by_class[c], batch // 2):
                img = augment(images[i], rng, **AUGMENT)
                if rng.random() < 0.5:
                    img = img[:, ::-1]
                xs.append(get_method("npr").prepare(random_crop(np.ascontiguousarray(img), crop, rng), {}))
                ys.append(c)
        x = torch.from_numpy(np.stack([_pad(v, crop) for v in xs]))
        loss = F.binary_cross_entropy_with_logits(net(x)[:, 0], torch.tensor(ys, dtype=torch.float32))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0:
            log(f"    npr step {step + 1}/{steps}: loss {loss.item():.3f} ({time.time() - start:.0f} s)")
    return net.eval()


def _pad(x: np.ndarray, crop: int) -> np.ndarray:
    """Reflect-pad a crop smaller than ``crop`` (images below 64 px) to the batch shape."""
    h, w = x.shape[1:]
    if (h, w) == (crop, crop):
        return x
    return np.pad(x, ((0, 0), (0, crop - h), (0, crop - w)), mode="reflect")


def npr_logits(net: NPRNet, images: list[np.ndarray]) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for img in images:
            out.append(float(net(torch.from_numpy(get_method("npr").prepare(img, {}))[None])[0, 0]))
    return np.array(out)
