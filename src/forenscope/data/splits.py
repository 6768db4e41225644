"""Deterministic splits by source photo: the same photo always lands in the same split, so
fakes made from a photo and the photo itself can never straddle train and test."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from forenscope.data.inputs import iter_image_files

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)
REAL_PHOTO_FOLDERS = ("real/bsds500", "real/kodak24", "real/mcmaster", "real/camera")


def data_root(path: str | os.PathLike | None = None) -> Path:
    """The shared data folder: the argument, else $FORENSCOPE_DATA, else ../shared/data."""
    return Path(path or os.environ.get("FORENSCOPE_DATA") or "../shared/data")


def split_of(key: str, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> str:
    """The split of a photo, from a hash of its identity (its path relative to the data root)."""
    u = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2**64
    edge = 0.0
    for name, fraction in zip(SPLITS, fractions):
        edge += fraction
        if u < edge:
            return name
    return SPLITS[-1]


def real_photos(root: Path) -> list[tuple[str, Path]]:
    """(key, path) for every real photo under ``root``; the key is the path relative to root."""
    out = [item for folder in REAL_PHOTO_FOLDERS for item in _photos_in(root, folder)]
    if not out:
        raise FileNotFoundError(f"no real photos under {root} (expected {', '.join(REAL_PHOTO_FOLDERS)})")
    return out


def _photos_in(root: Path, folder: str) -> list[tuple[str, Path]]:
    """(key, path) of the images under ``root / folder`` (none when it is missing); the key is
    the path relative to root, which ``split_of`` hashes."""
    if not (root / folder).is_dir():
        return []
    return [(p.relative_to(root).as_posix(), p) for p in iter_image_files(root / folder)]


def extra_train_photos(root: Path, folders: tuple[str, ...] | list[str]) -> list[tuple[str, Path]]:
    """(key, path) for the photos under ``folders`` (relative to ``root``), which join the TRAIN
    split only: more host cameras and contents for training while validation and test stay the
    photos ``split_of`` deals. A folder that holds, or lies inside, one of the dealt folders is
    refused, since its validation and test photos would then be trained on."""
    out = []
    for folder in folders:
        name = Path(folder).as_posix().strip("/")
        clash = [f for f in REAL_PHOTO_FOLDERS if name in ("", ".") or f == name
                 or f.startswith(name + "/") or name.startswith(f + "/")]
        if clash:
            raise ValueError(f"{folder!r} overlaps the split photo folder(s) {', '.join(clash)}: "
                             "extra training photos must come from other folders")
        found = _photos_in(root, name)
        if not found:
            raise FileNotFoundError(f"no photos under {root / name} (an extra training photo folder)")
        out += found
    return out


def fitting_photos(root: Path, splits: tuple[str, ...] = ("train", "val")) -> list[Path]:
    """The real photos a threshold or calibration may be fitted on: train and validation only,
    so that the test photos (and every test forgery made from them) stay unseen."""
    return [p for key, p in real_photos(root) if split_of(key) in splits]
