"""What the trained localisers' networks take as input: the tile grid of Bappy et al.'s
networks and each family's pixel scaling (the detector, its trainer and the ONNX exporter all
build inputs here, so they cannot drift apart)."""

from __future__ import annotations

import numpy as np
import torch

# Bappy et al.'s networks work on a fixed grid: H-LSTM on 256x256 images (64 patches of 32x32),
# J-LSTM on 64x64 patches. Images are padded to whole tiles of that size.
FIXED_TILE = {"hlstm": 256, "jlstm": 64}


def network_input(rgb: np.ndarray, family: str) -> np.ndarray:
    """C x H x W float32 as the family expects it (IID-Net: RGB in [-1, 1]; H-LSTM: RGB / 127,
    as the original)."""
    if family == "iidnet":
        return (rgb.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
    if family == "effunet":
        return (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)
    if family == "jlstm":  # centred, unit-ish scale: with [0, 1] input the LSTM saw near-constant steps
        return ((rgb.astype(np.float32) - 127.5) / 64.0).transpose(2, 0, 1)
    if family == "hlstm":
        return (rgb.astype(np.float32) / 127.0).transpose(2, 0, 1)
    raise ValueError(f"no localiser input defined for family {family!r}")


def network_batch(crops: list[np.ndarray], family: str):
    """The network's input for equal-sized RGB crops: a tensor, or for H-LSTM a tuple (images,
    Hilbert-curve resampling features of their 32x32 patches)."""
    x = torch.from_numpy(np.stack([network_input(np.ascontiguousarray(c), family) for c in crops]))
    if family == "hlstm":
        from forenscope.signals.resampling import image_resampling_features

        return x, torch.from_numpy(np.stack([image_resampling_features(c) for c in crops]))
    return x
