import pytest
import torch
import torch.nn.functional as F

from forenscope.nets.npr import NPRNet
from forenscope.signals.npr import crop_to_even, npr_residual


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_parameter_counts_match_the_published_model():
    assert n_params(NPRNet()) == 1_437_761  # resnet50(num_classes=1) cut after layer2
    assert n_params(NPRNet(width=32, blocks=(2, 2))) == 203_937


def test_shapes():
    net = NPRNet(width=8, blocks=(1, 1)).eval()
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 1)
    assert NPRNet().eval().features(torch.randn(1, 3, 224, 224)).shape == (1, 512, 28, 28)


def test_residual_of_nearest_upsampled_image_is_zero():
    y = torch.randn(2, 3, 16, 20)
    x = F.interpolate(y, scale_factor=2, mode="nearest")
    assert torch.equal(npr_residual(x), torch.zeros_like(x))
    assert torch.equal(npr_residual(torch.full((1, 3, 8, 8), 0.7)), torch.zeros(1, 3, 8, 8))


def test_residual_structure_and_bilinear_traces():
    x = torch.randn(1, 3, 32, 32)
    r = npr_residual(x)
    assert torch.equal(r[..., 0::2, 0::2], torch.zeros_like(r[..., 0::2, 0::2]))
    assert torch.allclose(r[..., 0::2, 1::2], x[..., 0::2, 1::2] - x[..., 0::2, 0::2])
    assert torch.allclose(r[..., 1::2, 1::2], x[..., 1::2, 1::2] - x[..., 0::2, 0::2])
    bilinear = F.interpolate(torch.randn(1, 3, 16, 16), scale_factor=2, mode="bilinear")
    assert npr_residual(bilinear).abs().mean() > 0.05


def test_odd_sizes_need_the_crop():
    x = torch.randn(1, 3, 33, 31)
    with pytest.raises(ValueError, match="even"):
        npr_residual(x)
    assert crop_to_even(x).shape[-2:] == (32, 30)
