"""One image of a scan into one result line: every detector's evidence, the verdict, the
provenance panel, file facts and the pictures of the report (``analyse_file``). Used by the
local scan (``scan.job``) and by the Ray actors (``scan.ray_engine``) alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forenscope import DEFAULT_DETECTORS
from forenscope.data.datasets import file_sha256
from forenscope.imageio import DEFAULT_MAX_PIXELS, ImageError, read_image
from forenscope.verdict import DEFAULT_BAND, analysis_row, fuse

ASSETS = "assets"
VIEW_SIDE = 1024   # long side of the overlay / ELA / noise pictures in the report
THUMB_SIDE = 192


@dataclass
class ScanConfig:
    detectors: list[str] = field(default_factory=lambda: list(DEFAULT_DETECTORS))
    band: float = DEFAULT_BAND
    max_pixels: int = DEFAULT_MAX_PIXELS
    views: bool = True  # ELA and noise pictures


class _FolderError:
    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason


def _key(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def analyse_file(path: Path, folder: Path, out: Path, detectors: list, cfg: ScanConfig, first_of: dict) -> dict:
    """One result line; writes the image's pictures first."""
    if isinstance(path, _FolderError):
        return {"path": path.path.relative_to(folder).as_posix() + "/", "sha256": None, "verdict": None,
                "error": f"{path.path}: cannot read folder: {path.reason}"}
    t0 = time.time()
    row = {"path": _key(path, folder), "sha256": None, "verdict": None, "error": None}
    try:
        row["sha256"] = file_sha256(path)
    except OSError as exc:
        row["error"] = f"{path}: cannot read: {exc}"
        return row
    if row["sha256"] in first_of:
        row |= {"duplicate_of": first_of[row["sha256"]], "verdict": "duplicate"}
        return row
    try:
        rgb, meta = read_image(path, max_pixels=cfg.max_pixels)
    except ImageError as exc:
        row["error"] = str(exc)
        return row
    from forenscope.report.views import file_facts

    evidences, maps = [], []
    for det in detectors:
        try:
            a = det.analyze(rgb, meta)
        except Exception as exc:  # one detector failing on one image never stops the scan
            row["error"] = f"{path}: {det.name} failed: {type(exc).__name__}: {exc}"
            return row
        evidences.append(analysis_row(a, det.threshold, compact=True))
        if a.heatmap is not None:
            maps.append(a)
        if "evidence" in a.extras:  # provenance: its items, notes and watermark read, for the report's panel
            row["provenance"] = {k: a.extras.get(k) for k in ("evidence", "notes", "watermark")}
    row |= fuse(evidences, cfg.band)
    row |= {"evidence": evidences, "facts": file_facts(path, meta),
            "assets": write_assets(rgb, maps, out / ASSETS / row["sha256"][:16], cfg),
            "seconds": round(time.time() - t0, 3)}
    first_of[row["sha256"]] = row["path"]
    return row


def write_assets(rgb: np.ndarray, maps: list, folder: Path, cfg: ScanConfig) -> dict:
    """Pictures for the report, names relative to the report folder."""
    from forenscope.report.maps import overlay
    from forenscope.report.views import ela_view, fit, noise_view, save

    rel = f"{ASSETS}/{folder.name}"
    small = fit(rgb, VIEW_SIDE)
    assets = {"thumb": f"{rel}/{save(fit(rgb, THUMB_SIDE), folder / 'thumb.jpg')}",
              "image": f"{rel}/{save(small, folder / 'image.jpg', 90)}"}
    for a in maps:
        heat = _resize(a.heatmap, small.shape[:2])
        mask = _resize(a.mask.astype(np.float32), small.shape[:2]) > 0.5 if a.mask is not None else None
        assets[f"overlay:{a.detector}"] = f"{rel}/{save(overlay(small, heat, mask), folder / f'overlay-{a.detector}.jpg', 90)}"
        if mask is not None:
            assets[f"mask:{a.detector}"] = f"{rel}/{save(np.where(mask, 255, 0).astype(np.uint8), folder / f'mask-{a.detector}.png')}"
    if cfg.views:
        assets["ela"] = f"{rel}/{save(ela_view(small), folder / 'ela.png')}"
        assets["noise"] = f"{rel}/{save(noise_view(small), folder / 'noise.png')}"
    return assets


def _resize(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    if m.shape == shape:
        return m
    return cv2.resize(m.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
