"""Heatmap, mask and overlay PNGs, exactly at the input's size (after EXIF orientation)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def heatmap_to_uint8(heatmap: np.ndarray) -> np.ndarray:
    """[0, 1] float -> 8-bit grey, 255 = surely manipulated."""
    return np.rint(np.clip(heatmap, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_heatmap_png(heatmap: np.ndarray, path: Path) -> Path:
    return _write_grey(heatmap_to_uint8(heatmap), path)


def write_mask_png(mask: np.ndarray, path: Path) -> Path:
    return _write_grey(np.where(mask, 255, 0).astype(np.uint8), path)


def overlay(rgb: np.ndarray, heatmap: np.ndarray, mask: np.ndarray | None = None,
            strength: float = 0.6) -> np.ndarray:
    """The image with the heatmap in colour where it is high, and the mask outlined in white."""
    heat8 = heatmap_to_uint8(heatmap)
    colour = cv2.cvtColor(cv2.applyColorMap(heat8, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    alpha = (strength * heatmap.astype(np.float32))[..., None]
    out = (rgb.astype(np.float32) * (1.0 - alpha) + colour.astype(np.float32) * alpha)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if mask is not None and mask.any():
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        thickness = max(1, round(max(rgb.shape[:2]) / 400))
        cv2.drawContours(out, contours, -1, (255, 255, 255), thickness)
    return out


def write_overlay_png(rgb: np.ndarray, heatmap: np.ndarray, mask: np.ndarray | None, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(overlay(rgb, heatmap, mask)).save(path, compress_level=3)
    return path


def _write_grey(arr: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, compress_level=3)
    return path
