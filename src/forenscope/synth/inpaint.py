"""Inpainting (object removal) methods: OpenCV's Telea (fast marching) and Navier-Stokes
diffusion, an exemplar-based patch fill that copies whole patches of the photo's own texture
into the hole (the family PatchMatch / Criminisi belong to), and a learned one (a U-Net trained
here by ``forenscope train configs/inpainter.toml``, nets/inpainter.py). Each changes only the
pixels under the mask."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

METHODS = ("telea", "ns", "patch", "learned")
LEARNED_WEIGHTS = "inpainter"  # synth/weights/<this>.safetensors + .json (its card)


def learned_weights_path() -> Path:
    return Path(__file__).resolve().parent / "weights" / f"{LEARNED_WEIGHTS}.safetensors"


@lru_cache(maxsize=1)
def learned_inpainter():
    """The shipped learned inpainter, loaded once per process."""
    import json

    from safetensors.torch import load_file

    from forenscope.nets.inpainter import InpaintNet

    weights = learned_weights_path()
    card = weights.with_suffix(".json")
    if not weights.is_file() or not card.is_file():
        raise FileNotFoundError(f"no learned inpainter at {weights} (+ its card {card.name}): train one with "
                                "`forenscope train configs/inpainter.toml --ship`")
    net = InpaintNet(**json.loads(card.read_text(encoding="utf-8"))["network"])
    net.load_state_dict(load_file(str(weights)))
    return net.eval()


def inpaint(rgb: np.ndarray, mask: np.ndarray, method: str, rng: np.random.Generator,
            radius: int = 5) -> np.ndarray:
    if method in ("telea", "ns"):
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        out = cv2.inpaint(np.ascontiguousarray(rgb), mask.astype(np.uint8), radius, flag)
    elif method == "patch":
        out = patch_fill(rgb, mask, rng)
    elif method == "learned":
        from forenscope.nets.inpainter import fill

        out = fill(learned_inpainter(), rgb, mask)  # deterministic: rng is not drawn
    else:
        raise ValueError(f"unknown inpainting method {method!r}; choose from {', '.join(METHODS)}")
    out = out.copy()
    out[~mask] = rgb[~mask]  # guarantee: nothing outside the mask changes
    return out


def patch_fill(rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator, patch: int = 11,
               candidates: int = 200) -> np.ndarray:
    """Fill the hole patch by patch, from the edge inwards (most-known patch first). Each step
    picks, among random source patches lying wholly outside the hole, the one whose known
    pixels match best (SSD), and copies its pixels into the unknown part of the target patch."""
    h, w = mask.shape
    half = patch // 2
    if h < 3 * patch or w < 3 * patch:
        raise ValueError(f"image {w}x{h} too small for a {patch}x{patch} patch fill")
    out = rgb.astype(np.float32).copy()
    unknown = mask.copy()
    valid = cv2.erode((~mask).astype(np.uint8), np.ones((patch, patch), np.uint8), borderValue=0) > 0
    valid[:half], valid[h - half:], valid[:, :half], valid[:, w - half:] = False, False, False, False
    sources = np.argwhere(valid)
    if len(sources) == 0:
        raise ValueError("the hole leaves no whole source patch to copy from")
    # the front is searched only inside the hole's box (plus a margin): cheap per step
    ys, xs = np.nonzero(mask)
    y0, y1 = max(0, ys.min() - patch), min(h, ys.max() + patch + 1)
    x0, x1 = max(0, xs.min() - patch), min(w, xs.max() + patch + 1)
    offsets = np.arange(-half, half + 1)
    ring = np.ones((3, 3), np.uint8)
    while unknown.any():
        box = unknown[y0:y1, x0:x1]
        known = (~box).astype(np.float32)
        known_frac = cv2.boxFilter(known, -1, (patch, patch), borderType=cv2.BORDER_CONSTANT)
        front = box & (cv2.dilate(known.astype(np.uint8), ring) > 0)
        fy, fx = np.nonzero(front if front.any() else box)
        best = int(np.argmax(known_frac[fy, fx]))
        cy = int(np.clip(fy[best] + y0, half, h - half - 1))
        cx = int(np.clip(fx[best] + x0, half, w - half - 1))
        ty, tx = cy + offsets[:, None], cx + offsets[None, :]
        target = out[ty, tx]
        known_here = ~unknown[ty, tx]
        near = np.stack([rng.integers(cy - 4 * patch, cy + 4 * patch + 1, candidates),
                         rng.integers(cx - 4 * patch, cx + 4 * patch + 1, candidates)], 1)
        near = near[(near[:, 0] >= 0) & (near[:, 0] < h) & (near[:, 1] >= 0) & (near[:, 1] < w)]
        near = near[valid[near[:, 0], near[:, 1]]]  # nearby texture is the likeliest match
        pick = np.concatenate([sources[rng.integers(0, len(sources), candidates)], near])
        py = pick[:, 0, None, None] + offsets[None, :, None]
        px = pick[:, 1, None, None] + offsets[None, None, :]
        cand = out[py, px]  # (n, patch, patch, 3)
        ssd = (((cand - target) ** 2).sum(-1) * known_here).sum((1, 2))
        src = cand[int(np.argmin(ssd))]
        fill = unknown[ty, tx]
        region = out[ty, tx]
        region[fill] = src[fill]
        out[ty, tx] = region
        unknown[ty, tx] = False
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
