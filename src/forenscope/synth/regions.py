"""Region shapes for synthetic forgeries: natural segments (superpixels grown from a seed),
ellipses, and free-form strokes (the irregular masks of DeepFill-style inpainting data).

Every function returns a bool mask of the requested shape whose area is close to
``area`` (a fraction of the image), and is a pure function of its rng.
"""

from __future__ import annotations

import cv2
import numpy as np

SHAPES = ("segment", "ellipse", "strokes")


def region_mask(kind: str, rgb: np.ndarray, area: float, rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    if kind == "segment":
        return segment_region(rgb, area, rng)
    if kind == "ellipse":
        return ellipse_region((h, w), area, rng)
    if kind == "strokes":
        return stroke_region((h, w), area, rng)
    raise ValueError(f"unknown region shape {kind!r}; choose from {', '.join(SHAPES)}")


def ellipse_region(shape: tuple[int, int], area: float, rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    target = area * h * w
    aspect = float(rng.uniform(0.4, 1.0))
    a = np.sqrt(target / (np.pi * aspect))  # semi-axes a and aspect * a
    a = min(a, 0.45 * max(h, w))
    b = max(2.0, min(aspect * a, 0.45 * min(h, w)))
    cy = int(rng.integers(int(b), max(int(b) + 1, h - int(b))))
    cx = int(rng.integers(int(a), max(int(a) + 1, w - int(a))))
    mask = np.zeros((h, w), np.uint8)
    angle = float(rng.uniform(0, 180))
    cv2.ellipse(mask, (cx, cy), (max(2, round(a)), max(2, round(b))), angle, 0, 360, 1, -1)
    return mask.astype(bool)


def stroke_region(shape: tuple[int, int], area: float, rng: np.random.Generator) -> np.ndarray:
    """Thick random polylines, added until the area is reached (at most 12 strokes)."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    side = min(h, w)
    for _ in range(12):
        thickness = int(rng.integers(max(3, side // 40), max(4, side // 12)))
        y, x = float(rng.uniform(0, h)), float(rng.uniform(0, w))
        for _ in range(int(rng.integers(2, 7))):
            angle = float(rng.uniform(0, 2 * np.pi))
            length = float(rng.uniform(side / 12, side / 4))
            ny = float(np.clip(y + length * np.sin(angle), 0, h - 1))
            nx = float(np.clip(x + length * np.cos(angle), 0, w - 1))
            cv2.line(mask, (round(x), round(y)), (round(nx), round(ny)), 1, thickness)
            cv2.circle(mask, (round(nx), round(ny)), thickness // 2, 1, -1)
            y, x = ny, nx
        if mask.mean() >= area:
            break
    return mask.astype(bool)


def segment_region(rgb: np.ndarray, area: float, rng: np.random.Generator) -> np.ndarray:
    """Superpixels (SLIC) nearest to a random seed, added until the area is reached; keeps the
    connected piece holding the seed, so the shape follows the photo's own edges."""
    from skimage.segmentation import slic

    h, w = rgb.shape[:2]
    labels = slic(rgb, n_segments=150, compactness=10, start_label=0)  # deterministic (grid init)
    n = int(labels.max()) + 1
    counts = np.bincount(labels.ravel(), minlength=n).astype(float)
    ys, xs = np.indices((h, w))
    cy = np.bincount(labels.ravel(), ys.ravel(), n) / np.maximum(counts, 1)
    cx = np.bincount(labels.ravel(), xs.ravel(), n) / np.maximum(counts, 1)
    seed = int(rng.integers(n))
    order = np.argsort((cy - cy[seed]) ** 2 + (cx - cx[seed]) ** 2, kind="stable")
    taken = order[: int(np.searchsorted(np.cumsum(counts[order]), area * h * w)) + 1]
    mask = np.isin(labels, taken).astype(np.uint8)
    _, comp = cv2.connectedComponents(mask, connectivity=4)
    seed_pixel = np.argwhere(labels == seed)[0]
    return comp == comp[tuple(seed_pixel)]


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1), half-open, of the True pixels."""
    ys, xs = np.nonzero(mask)
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
