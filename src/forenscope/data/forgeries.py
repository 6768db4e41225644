"""A forgery set made by ``forenscope synth forgeries``: its split manifests (``<split>.csv``:
image, mask, subset) read into rows, and the decoded (image, mask) pairs kept in memory. Read by
the localiser trainer and the robustness suite alike."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from forenscope.imageio import read_image, read_truth_mask


def read_rows(forgeries: Path, split: str, kinds: list[str] | None, authentic: bool) -> list[dict]:
    """Rows of ``<split>.csv``: image path, mask path or None, kind."""
    path = Path(forgeries) / f"{split}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `forenscope synth forgeries --out {forgeries}` first")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [{"image": Path(forgeries) / r["image"], "mask": (Path(forgeries) / r["mask"]) if r["mask"] else None,
                 "kind": r["subset"]} for r in csv.DictReader(fh)]
    return [r for r in rows if (r["mask"] is None and authentic) or (r["mask"] is not None and (not kinds or r["kind"] in kinds))]


class PairCache:
    """Decoded (image, mask) pairs, kept in memory (a few thousand small images)."""

    def __init__(self):
        self._items: dict[Path, tuple[np.ndarray, np.ndarray]] = {}

    def get(self, row: dict) -> tuple[np.ndarray, np.ndarray]:
        key = row["image"]
        if key not in self._items:
            rgb, _ = read_image(row["image"])
            if row["mask"] is None:
                mask = np.zeros(rgb.shape[:2], bool)
            else:
                mask = read_truth_mask(row["mask"])
            self._items[key] = (rgb, mask)
        return self._items[key]
