"""Image classifiers (real vs generated): a logit per crop, crops spread over the image.

Images up to the card's ``tile`` are analysed whole (cropped to even sides); larger ones as up
to ``max_tiles`` evenly spread tiles whose logits are averaged, so a 12 MP photo costs about as
much as 16 small images.
"""

from __future__ import annotations

import numpy as np
import torch

from forenscope.methods.base import Method, Reading, Runner
from forenscope.nets.losses import classification_loss


def tile_origins(length: int, tile: int, count: int) -> list[int]:
    """``count`` evenly spread starts of tiles covering [0, length), even so that NPR's 2 x 2
    grid stays aligned with the image's."""
    if length <= tile:
        return [0]
    last = (length - tile) // 2 * 2
    n = max(1, min(count, -(-length // tile)))
    return sorted({int(round(i * last / max(1, n - 1))) // 2 * 2 for i in range(n)})


class ImageClassifier(Method):
    task = "generated"

    @staticmethod
    def tiling(settings: dict) -> tuple[int, int]:
        return int(settings.get("tile", 256)), int(settings.get("max_tiles", 16))

    def describe(self, settings: dict) -> dict:
        tile, max_tiles = self.tiling(settings)
        return {"tile": tile, "max_tiles": max_tiles}

    def tiles(self, rgb: np.ndarray, settings: dict) -> np.ndarray:
        """The N x C x H x W float32 batch of the image's tiles, as the network takes them."""
        tile, max_tiles = self.tiling(settings)
        h, w = rgb.shape[:2]
        th, tw = min(tile, h) // 2 * 2, min(tile, w) // 2 * 2
        side = max(1, int(np.sqrt(max_tiles)))
        crops = [rgb[y:y + th, x:x + tw] for y in tile_origins(h, th, side) for x in tile_origins(w, tw, side)]
        return np.stack([self.prepare(c, settings) for c in crops])

    def read(self, run: Runner, rgb: np.ndarray, card: dict) -> Reading:
        if min(rgb.shape[:2]) < 8:
            raise ValueError(f"image too small for {self.detector_name}: {rgb.shape[1]}x{rgb.shape[0]}")
        batch = self.tiles(rgb, card.get("input", {}))
        with torch.inference_mode():
            logits = run(torch.from_numpy(batch)).numpy().astype(np.float64)
        if logits.shape[1] == 1:
            score = float(1 / (1 + np.exp(-logits[:, 0].mean())))
        else:
            margin = (logits[:, 1] - logits[:, 0]).mean()  # mean two-class margin = mean logit
            score = float(1 / (1 + np.exp(-margin)))
        return Reading(score, extras={"tiles": int(batch.shape[0])})

    def loss(self, output, target: torch.Tensor, cfg: dict) -> torch.Tensor:
        return classification_loss(output, target)
