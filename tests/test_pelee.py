import numpy as np
import pytest
import torch
import torch.nn.functional as F

from forenscope.nets.pelee import PeleeHPF
from forenscope.signals.colour import convert_colour
from forenscope.signals.highpass import KV, kv_weight


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_parameter_count_matches_lee_and_park():
    assert n_params(PeleeHPF()) == 2_240_994


def test_dense_layer_code_rebuilds_the_original_peleenet():
    original = PeleeHPF(hpf=False, in_channels=3, num_classes=1000, bottleneck="peleenet")
    assert n_params(original) == 2_802_248


def test_shapes_and_logits_by_default():
    net = PeleeHPF().eval()
    x = torch.rand(1, 3, 256, 256)
    hp = F.conv2d(x, net.hpf)
    assert hp.shape == (1, 1, 252, 252)
    assert net.stem(hp).shape == (1, 32, 63, 63)
    assert net.features(net.stem(hp)).shape == (1, 704, 7, 7)
    out = net(x)
    assert out.shape == (1, 2)
    assert not torch.allclose(out.sum(1), torch.ones(1))  # logits, no softmax inside


def test_faithful_softmax_flag():
    net = PeleeHPF(growth=8, blocks=(1, 1, 1, 1), softmax=True).eval()
    out = net(torch.rand(2, 3, 64, 64))
    assert torch.allclose(out.sum(1), torch.ones(2), atol=1e-6)


def test_hpf_is_a_buffer_and_zero_on_constant_and_ramp_images():
    net = PeleeHPF(growth=8, blocks=(1, 1, 1, 1))
    assert "hpf" in dict(net.named_buffers()) and "hpf" not in dict(net.named_parameters())
    assert abs(float(KV.sum())) < 1e-6
    const = torch.full((1, 3, 16, 16), 0.3)
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    ramp = (0.01 * xx + 0.02 * yy).expand(1, 3, 16, 16)
    for img in (const, ramp):
        assert F.conv2d(img, kv_weight()).abs().max() < 1e-5


def test_hpf_sums_channels():
    x = torch.rand(1, 3, 12, 12)
    summed = F.conv2d(x.sum(1, keepdim=True), KV[None, None])
    assert torch.allclose(F.conv2d(x, kv_weight()), summed, atol=1e-5)


@pytest.mark.parametrize("where", ["head", "dense"])
def test_dropout_placement_changes_train_mode_only(where):
    torch.manual_seed(0)
    net = PeleeHPF(growth=8, blocks=(1, 1, 1, 1), dropout=0.5, dropout_where=where)
    x = torch.rand(2, 3, 64, 64)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    for m in net.modules():  # freeze BN statistics so only dropout differs
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    assert not torch.equal(net(x), net(x))


def test_bad_dropout_place_is_rejected():
    with pytest.raises(ValueError, match="dropout_where"):
        PeleeHPF(dropout_where="everywhere")


def test_colour_spaces():
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 255
    assert np.allclose(convert_colour(red, "hsv")[0, 0], [1, 1, 0])  # (V, S, H)
    assert np.allclose(convert_colour(red, "rgb")[0, 0], [1, 0, 0])
    y, cb, cr = convert_colour(red, "ycbcr")[0, 0]
    assert np.isclose(y, 0.299) and np.isclose(cb, (0 - 0.299) * 0.564 + 0.5) and np.isclose(cr, (1 - 0.299) * 0.713 + 0.5)
    grey = np.full((2, 2, 3), 128, np.uint8)
    assert np.allclose(convert_colour(grey, "ycbcr")[..., 1:], 0.5)
    with pytest.raises(ValueError, match="colour space"):
        convert_colour(red, "lab")
