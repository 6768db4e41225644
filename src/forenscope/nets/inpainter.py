"""A small learned inpainter (object removal) for synthetic forgeries: a U-Net whose bottleneck
sees the whole hole through dilated convolutions, fed the photo with the hole blanked and the
hole's mask. Its fills carry what learned inpainters leave (a convolutional decoder's
up-sampling and smoothing), which the classical fills (Telea, Navier-Stokes, patch copies) do
not; ``synth forgeries --kind inpaint-learned`` uses it."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1, k: int = 3) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation), nn.ELU(inplace=True))


class InpaintNet(nn.Module):
    """(B, 3, H, W) in [0, 1] and (B, 1, H, W) mask (1 = hole) -> (B, 3, H, W) in [0, 1], the
    prediction everywhere (compose with ``fill`` to keep the known pixels). H and W: any
    multiple of 8 (``fill`` pads)."""

    def __init__(self, width: int = 32, dilations: tuple = (2, 4, 8, 16)):
        super().__init__()
        w1, w2, w3 = width, 2 * width, 4 * width
        self.enc0 = _conv(4, w1, k=5)
        self.enc1 = nn.Sequential(_conv(w1, w2, stride=2), _conv(w2, w2))
        self.enc2 = nn.Sequential(_conv(w2, w3, stride=2), _conv(w3, w3))
        self.enc3 = _conv(w3, w3, stride=2)
        self.context = nn.Sequential(*[_conv(w3, w3, dilation=d) for d in dilations])
        self.dec2 = _conv(w3 + w3, w3)
        self.dec1 = _conv(w3 + w2, w2)
        self.dec0 = _conv(w2 + w1, w1)
        self.out = nn.Conv2d(w1, 3, 3, padding=1)

    def forward(self, rgb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat([(rgb * 2 - 1) * (1 - mask), mask], 1)  # hole blanked to 0 (mid-grey)
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        z = self.context(self.enc3(e2))
        d2 = self.dec2(torch.cat([F.interpolate(z, scale_factor=2.0, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1], 1))
        d0 = self.dec0(torch.cat([F.interpolate(d1, scale_factor=2.0, mode="nearest"), e0], 1))
        return (torch.tanh(self.out(d0)) + 1) / 2


def compose(rgb: torch.Tensor, mask: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """Known pixels from ``rgb``, the hole from ``predicted``."""
    return rgb * (1 - mask) + predicted * mask


@torch.no_grad()
def fill(net: InpaintNet, rgb, mask):
    """Inpaint one image: ``rgb`` (H, W, 3) uint8, ``mask`` (H, W) bool -> (H, W, 3) uint8 that
    differs from ``rgb`` only under the mask. Any size: the image is padded by reflection to a
    multiple of 8 and cropped back."""
    import numpy as np

    h, w = mask.shape
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    ph, pw = -h % 8, -w % 8
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        m = F.pad(m, (0, pw, 0, ph), mode="constant", value=0.0)
    net.eval()
    y = compose(x, m, net(x, m))[..., :h, :w]
    out = (y[0].permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    out[~mask] = rgb[~mask]
    return out
