"""A small learned inpainter (object removal) for synthetic forgeries: a U-Net whose bottleneck
sees the whole hole through dilated convolutions, fed the photo with the hole blanked and the
hole's mask, and (``coarse = "telea"``) a coarse fill of the hole, which it refines (coarse to
fine, as DeepFill's two stages; here the coarse stage is Telea's fast marching, so that a
network trained for an hour on a CPU starts from a plausible fill instead of a grey hole). Its
fills carry what learned inpainters leave (a convolutional decoder's up-sampling and
smoothing), which the classical fills (Telea, Navier-Stokes, patch copies) do not;
``synth forgeries --kind inpaint-learned`` uses it."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1, k: int = 3) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation), nn.ELU(inplace=True))


COARSE = ("none", "telea")


def coarse_fill(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The coarse stage: Telea's fill of the hole (uint8 RGB in, uint8 RGB out)."""
    return cv2.inpaint(np.ascontiguousarray(rgb), mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)


class InpaintNet(nn.Module):
    """(B, 3, H, W) in [0, 1], (B, 1, H, W) mask (1 = hole) and, with ``coarse`` "telea", the
    coarse fill (B, 3, H, W) in [0, 1] -> (B, 3, H, W), the prediction everywhere (compose with
    ``fill`` to keep the known pixels; with a coarse fill: that fill plus a learned correction).
    H and W: any multiple of 8 (``fill`` pads)."""

    def __init__(self, width: int = 32, dilations: tuple = (2, 4, 8, 16), coarse: str = "none"):
        super().__init__()
        if coarse not in COARSE:
            raise ValueError(f"coarse must be one of {', '.join(COARSE)}, got {coarse!r}")
        self.coarse = coarse
        w1, w2, w3 = width, 2 * width, 4 * width
        self.enc0 = _conv(4 if coarse == "none" else 7, w1, k=5)
        self.enc1 = nn.Sequential(_conv(w1, w2, stride=2), _conv(w2, w2))
        self.enc2 = nn.Sequential(_conv(w2, w3, stride=2), _conv(w3, w3))
        self.enc3 = _conv(w3, w3, stride=2)
        self.context = nn.Sequential(*[_conv(w3, w3, dilation=d) for d in dilations])
        self.dec2 = _conv(w3 + w3, w3)
        self.dec1 = _conv(w3 + w2, w2)
        self.dec0 = _conv(w2 + w1, w1)
        self.out = nn.Conv2d(w1, 3, 3, padding=1)

    def forward(self, rgb: torch.Tensor, mask: torch.Tensor, coarse: torch.Tensor | None = None) -> torch.Tensor:
        x = torch.cat([(rgb * 2 - 1) * (1 - mask), mask], 1)  # hole blanked to 0 (mid-grey)
        if self.coarse != "none":
            if coarse is None:
                raise ValueError("this inpainter refines a coarse fill: pass coarse (nets.inpainter.coarse_fill)")
            x = torch.cat([x, coarse * 2 - 1], 1)
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        z = self.context(self.enc3(e2))
        d2 = self.dec2(torch.cat([F.interpolate(z, scale_factor=2.0, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1], 1))
        d0 = self.dec0(torch.cat([F.interpolate(d1, scale_factor=2.0, mode="nearest"), e0], 1))
        if self.coarse == "none":
            return (torch.tanh(self.out(d0)) + 1) / 2
        return coarse + torch.tanh(self.out(d0)) / 2  # a correction of at most half the range


def compose(rgb: torch.Tensor, mask: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """Known pixels from ``rgb``, the hole from ``predicted``."""
    return rgb * (1 - mask) + predicted * mask


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) or (B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    x = torch.from_numpy(np.array(rgb, np.float32)) / 255
    return (x[None] if x.dim() == 3 else x).permute(0, 3, 1, 2)


def net_inputs(rgbs: list[np.ndarray], masks: list[np.ndarray], coarse: str = "none") -> tuple[torch.Tensor, ...]:
    """Photos (B, 3, H, W) and holes (B, 1, H, W) as tensors, plus the coarse fills when
    ``coarse`` names one (an InpaintNet's ``coarse``): what ``InpaintNet.forward`` takes."""
    x, m = to_tensor(np.stack(rgbs)), torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]
    if coarse == "none":
        return x, m
    return x, m, to_tensor(np.stack([coarse_fill(c, h) for c, h in zip(rgbs, masks)]))


@torch.no_grad()
def fill(net: InpaintNet, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Inpaint one image: ``rgb`` (H, W, 3) uint8, ``mask`` (H, W) bool -> (H, W, 3) uint8 that
    differs from ``rgb`` only under the mask. Any size: the image is padded by reflection to a
    multiple of 8 and cropped back."""
    h, w = mask.shape
    inputs = net_inputs([rgb], [mask], net.coarse)
    ph, pw = -h % 8, -w % 8
    if ph or pw:
        mode, pad = ("reflect" if min(h, w) > max(ph, pw) else "replicate"), (0, pw, 0, ph)
        x, m, *coarse = inputs  # no hole in the padding
        inputs = (F.pad(x, pad, mode=mode), F.pad(m, pad, value=0.0), *(F.pad(c, pad, mode=mode) for c in coarse))
    net.eval()
    x, m = inputs[:2]
    y = compose(x, m, net(*inputs).clamp(0, 1))[..., :h, :w]
    out = (y[0].permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    out[~mask] = rgb[~mask]
    return out
