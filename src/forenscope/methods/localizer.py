"""Pixel localisers: a probability map over the whole image, from non-overlapping tiles.

Whole images of any size are analysed in tiles (the card's ``tile``, 256 by default; a fixed
grid for networks that have one) after reflection padding, so memory stays bounded and the map
is at the input's exact size. With the card's ``flip_average`` each tile is also read mirrored
left-right and the two maps averaged (test-time augmentation: twice the work; the trainer's
validation reads plainly). The image score is the card's ``image_head`` where it has one, else
the mean of the top 1 % of the map (``methods/image_head.py``). A card's ``map_threshold`` (chosen
on validation by scripts/map_threshold_sweep.py) moves the map's decision point: the map is
re-scaled monotonically so that this value becomes 0.5, where masks and metrics cut it; the image
score is read from the map before that.
"""

from __future__ import annotations

import numpy as np
import torch

from forenscope.methods.base import Method, Reading, Runner
from forenscope.methods.image_head import image_score

_BELOW_HALF = np.nextafter(np.float32(0.5), np.float32(0))


class Localizer(Method):
    task = "localize"

    def probabilities(self, output) -> torch.Tensor:
        """(B, 1, H, W) probability of manipulation from the network's output."""
        raise NotImplementedError

    def tile(self, settings: dict) -> int:
        return self.fixed_tile or int(settings.get("tile", 256))

    def describe(self, settings: dict) -> dict:
        return {"tile": self.tile(settings), **({"flip_average": True} if settings.get("flip_average") else {})}

    @torch.no_grad()
    def predict_map(self, run: Runner, rgb: np.ndarray, tile: int = 256, multiple: int = 16,
                    pixels_per_batch: int = 1 << 18, settings: dict | None = None) -> np.ndarray:
        """Probability map at the image's size, from non-overlapping ``tile`` tiles of the image
        padded (by reflection) to a multiple of ``multiple`` (of the tile for fixed-grid
        networks). Equal-sized tiles go through the network together, up to ``pixels_per_batch``."""
        if hasattr(run, "eval"):
            run.eval()
        if self.fixed_tile:
            tile = multiple = self.fixed_tile
        h, w = rgb.shape[:2]
        ph, pw = -h % multiple, -w % multiple
        padded = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else rgb
        H, W = padded.shape[:2]
        out = np.zeros((H, W), np.float32)
        groups: dict[tuple, list] = {}
        for y in range(0, H, tile):
            for x in range(0, W, tile):
                crop = padded[y:y + tile, x:x + tile]
                groups.setdefault(crop.shape, []).append((y, x, crop))
        for shape, items in groups.items():
            per_batch = max(1, pixels_per_batch // (shape[0] * shape[1]))
            for i in range(0, len(items), per_batch):
                chunk = items[i:i + per_batch]
                x = self.batch([c for _, _, c in chunk], settings or {})
                prob = self.tile_probabilities(run, x, bool((settings or {}).get("flip_average")))
                for (y0, x0, c), p in zip(chunk, prob):
                    out[y0:y0 + c.shape[0], x0:x0 + c.shape[1]] = p
        return out[:h, :w]

    def tile_probabilities(self, run: Runner, x: tuple[torch.Tensor, ...], flip_average: bool) -> np.ndarray:
        """(B, H, W) probabilities of a batch of tiles; with ``flip_average`` the mean of the tiles'
        map and their mirror image's map mirrored back (a localiser's evidence does not depend on
        which way the scene faces)."""
        prob = self.probabilities(run(*x))[:, 0]
        if flip_average:
            prob = (prob + self.probabilities(run(*(t.flip(-1) for t in x)))[:, 0].flip(-1)) / 2
        return prob.numpy()

    def read(self, run: Runner, rgb: np.ndarray, card: dict) -> Reading:
        if min(rgb.shape[:2]) < 16:
            raise ValueError(f"image too small for {self.detector_name}: {rgb.shape[1]}x{rgb.shape[0]}")
        settings = card.get("input", {})
        tile = self.tile(settings)
        heat = self.predict_map(run, rgb, tile, settings=settings)
        cut = card.get("map_threshold")
        return Reading(image_score(heat, card.get("image_head")), heatmap=recentre(heat, cut),
                       extras={"tile": tile, **({"flip_average": True} if settings.get("flip_average") else {}),
                               **({"map_threshold": cut} if cut is not None else {})})


def recentre(heat: np.ndarray, threshold: float | None) -> np.ndarray:
    """``heat`` re-scaled piecewise linearly so that ``threshold`` becomes 0.5 (0 and 1 stay put):
    the order of pixels, and so every AUC, is unchanged; ``heat >= threshold`` is the mask at 0.5."""
    if threshold is None or threshold == 0.5:
        return heat
    if not 0 < threshold < 1:
        raise ValueError(f"map_threshold must lie strictly between 0 and 1, got {threshold}")
    above = heat >= threshold
    low = np.minimum(heat * (0.5 / threshold), _BELOW_HALF)  # rounding must not move a pixel across 0.5
    high = np.maximum(0.5 + (heat - threshold) * (0.5 / (1 - threshold)), 0.5)
    return np.where(above, high, low).astype(np.float32)
