"""Small image auto-encoders, one per up-sampling kind, used to simulate generator traces.

The encoder halves the resolution once; the decoder must rebuild full resolution through the
chosen up-sampling layer, the component whose fingerprint (nearest/bilinear interpolation,
transposed-conv checkerboard, pixel-shuffle phase pattern) generated images carry and NPR-style
detectors learn. Over-complete latents (``latent`` channels at half resolution) let a decoder
reach >= 30 dB PSNR, so fakes differ from their source by the trace, not by blur.
"""

from __future__ import annotations

import torch
from torch import nn

UPSAMPLING_KINDS = ("nearest", "bilinear", "transposed", "pixelshuffle")


def _upsample(kind: str, ch: int) -> nn.Module:
    if kind == "nearest":
        return nn.Upsample(scale_factor=2, mode="nearest")
    if kind == "bilinear":
        return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    if kind == "transposed":
        return nn.ConvTranspose2d(ch, ch, 4, stride=2, padding=1)
    if kind == "pixelshuffle":
        return nn.Sequential(nn.Conv2d(ch, ch * 4, 3, padding=1), nn.PixelShuffle(2))
    raise ValueError(f"unknown up-sampling kind {kind!r}; choose from {', '.join(UPSAMPLING_KINDS)}")


class Autoencoder(nn.Module):
    """RGB in [0, 1] -> RGB (unclamped). ``width`` channels inside, ``latent`` at half size."""

    def __init__(self, upsampling: str, width: int = 48, latent: int = 32):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.1, inplace=True)  # noqa: E731
        self.encoder = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), act(),
            nn.Conv2d(width, width, 3, stride=2, padding=1), act(),
            nn.Conv2d(width, latent, 3, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(latent, width, 3, padding=1), act(),
            _upsample(upsampling, width), act(),
            nn.Conv2d(width, width, 3, padding=1), act(),
            nn.Conv2d(width, 3, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class PatchDiscriminator(nn.Module):
    """A small PatchGAN critic: one realism logit per ~22 x 22 receptive field."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, width * 2, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width * 2, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
