"""The co-occurrence input and network of "No one can escape" (METHODS.md 4.11 checks)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from forenscope.nets.cooc import CoocNet
from forenscope.signals.cooccurrence import chroma_edges, cooc_input, cooccurrence


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3)).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_constant_image_puts_every_pair_in_one_cell():
    x = cooc_input(np.full((40, 60, 3), (200, 30, 90), np.uint8), norm="none")
    assert x.shape == (8, 192, 192)
    expected = [40 * 59, 39 * 59, 39 * 60, 39 * 59] * 2  # right, down-right, down, down-left
    assert x[:, 0, 0].tolist() == expected and np.count_nonzero(x) == 8
    assert np.all(cooc_input(np.full((40, 60, 3), 7, np.uint8))[:, 0, 0] == 1.0)


def test_counts_match_skimage_graycomatrix():
    from skimage.feature import graycomatrix

    v = np.random.default_rng(1).integers(0, 9, (23, 31))
    ref = graycomatrix(v, [1], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=9)[:, :, 0, :]
    assert np.array_equal(cooccurrence(v, 9), ref.transpose(2, 0, 1))


def test_edges_are_clipped_scharr_magnitudes_of_the_chroma():
    rgb = photo(32, 48)
    e = chroma_edges(rgb, levels=64)
    assert e.shape == (2, 32, 48) and e.min() >= 0 and e.max() <= 63
    cr = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 1].astype(np.float64)
    gx, gy = cv2.Scharr(cr, cv2.CV_64F, 1, 0), cv2.Scharr(cr, cv2.CV_64F, 0, 1)
    assert np.abs(e[0] - np.clip(np.round(0.5 * np.abs(gx) + 0.5 * np.abs(gy)), 0, 63)).max() <= 1


def test_normalised_input_does_not_encode_image_size():
    """Raw counts of a 2x upscale are ~4x the original's (the size leak of the original code);
    normalised, both sum to 1 per plane and differ only by the edge statistics."""
    rgb = photo(96, 128)
    up = cv2.resize(rgb, (256, 192), interpolation=cv2.INTER_LINEAR)
    raw_ratio = cooc_input(up, norm="none").sum() / cooc_input(rgb, norm="none").sum()
    assert 3.9 < raw_ratio < 4.1
    a, b = cooc_input(rgb), cooc_input(up)
    assert np.allclose(a.sum(axis=(1, 2)), 1.0) and np.allclose(b.sum(axis=(1, 2)), 1.0)
    assert not np.allclose(a, b)  # the edge statistics of an upscale do differ
    with pytest.raises(ValueError):
        cooc_input(rgb, norm="max")


def test_network_sizes():
    net = CoocNet().eval()
    assert sum(p.numel() for p in net.parameters()) == 18_721_667  # METHODS.md 4.11, affine BN
    x = torch.rand(1, 8, 192, 192)
    b1 = net.block1(x)
    b2 = net.block2(b1, net.r1(b1))
    b3 = net.block3(b2, net.r2(b2))
    assert b1.shape[1:] == (256, 48, 48) and b2.shape[1:] == (256, 24, 24) and b3.shape[1:] == (512, 12, 12)
    assert net(x).shape == (1, 3)
    small = CoocNet(width=0.25, block5=False, block6_convs=1)
    assert sum(p.numel() for p in small.parameters()) == 656_355  # the CPU profile of METHODS.md 4.9
    assert small.eval()(torch.rand(2, 8, 64, 64)).shape == (2, 3)
