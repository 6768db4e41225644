"""Evaluation datasets on disk.

Image level: ``0_real/`` + ``1_fake/`` folders, at the root or in per-generator subfolders at
any depth (NPR / CNNDetection layout); each folder holding them is one subset.

Pixel level: image + mask pairs, from
  * a CSV manifest with columns ``image,mask`` (paths relative to the CSV; an empty ``mask``
    means an authentic image) and an optional ``subset`` column; or
  * a folder with a tampered-image folder (``Tp``, ``forged``, ``tampered``, ``fake``,
    ``images``), a mask folder (``Gt``, ``masks``, ``mask``, ``gt``, ``groundtruth``) and
    optionally an authentic folder (``Au``, ``original``, ``authentic``, ``real``). A mask
    belongs to the image with the same stem, optionally followed by ``_mask``, ``_gt``,
    ``-mask`` or ``_groundtruth`` (CASIA, CVIP and COVERAGE names all fit).
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from forenscope.data.inputs import iter_image_files, natural_key

TAMPERED_DIRS = ("tp", "forged", "tampered", "fake", "images", "manipulated")
MASK_DIRS = ("gt", "masks", "mask", "groundtruth", "ground_truth")
AUTHENTIC_DIRS = ("au", "original", "originals", "authentic", "real")
MASK_SUFFIXES = ("_mask", "_gt", "-mask", "-gt", "_groundtruth")


class DatasetError(ValueError):
    """The dataset's layout cannot be understood (a message says what was expected)."""


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: int  # 0 real, 1 fake
    subset: str


@dataclass(frozen=True)
class PixelSample:
    image: Path
    mask: Path | None  # None: authentic, nothing manipulated
    subset: str
    error: str | None = None


def has_binary_layout(root: Path) -> bool:
    return any(d.name in ("0_real", "1_fake") for d in _walk_dirs(root))


def find_binary_subsets(root: Path) -> dict[str, list[LabelledImage]]:
    """Every folder that holds ``0_real`` and/or ``1_fake`` -> its labelled images."""
    root = Path(root)
    parents = sorted({d.parent for d in _walk_dirs(root) if d.name in ("0_real", "1_fake")}, key=natural_key)
    if not parents:
        raise DatasetError(f"{root}: no 0_real/ or 1_fake/ folder found at any depth")
    subsets = {}
    for parent in parents:
        name = parent.relative_to(root).as_posix() if parent != root else root.name
        items = []
        for label, sub in ((0, "0_real"), (1, "1_fake")):
            if (parent / sub).is_dir():
                items += [LabelledImage(p, label, name) for p in iter_image_files(parent / sub)]
        subsets[name] = items
    return subsets


def find_pixel_pairs(source: Path) -> list[PixelSample]:
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return _pairs_from_csv(source)
    if not source.is_dir():
        raise DatasetError(f"{source}: not a folder or a .csv manifest")
    children = {d.name.lower(): d for d in source.iterdir() if d.is_dir()}
    tampered = _first(children, TAMPERED_DIRS)
    masks = _first(children, MASK_DIRS)
    authentic = _first(children, AUTHENTIC_DIRS)
    if tampered is None or masks is None:
        raise DatasetError(
            f"{source}: expected a tampered folder ({'/'.join(TAMPERED_DIRS)}) and a mask folder "
            f"({'/'.join(MASK_DIRS)}), or a CSV manifest with columns image,mask; found "
            f"{sorted(children) or 'no folders'}"
        )
    mask_index: dict[str, Path] = {}
    for m in iter_image_files(masks):
        mask_index.setdefault(_mask_key(m.stem), m)
    samples = []
    for img in iter_image_files(tampered):
        mask = mask_index.get(img.stem.lower())
        err = None if mask else f"no mask found in {masks.name}/ for this image"
        samples.append(PixelSample(img, mask, source.name, err))
    if authentic is not None:
        samples += [PixelSample(img, None, source.name) for img in iter_image_files(authentic)]
    return samples


def manifest_hash(paths: list[Path], root: Path) -> str:
    """SHA-256 over sorted ``relative path <TAB> sha256 of content`` lines: names the exact data."""
    root = Path(root)
    lines = []
    for p in sorted({Path(p) for p in paths}, key=natural_key):
        rel = os.path.relpath(p, root)
        try:
            digest = file_sha256(p)
        except OSError:
            digest = "unreadable"
        lines.append(f"{Path(rel).as_posix()}\t{digest}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, read in chunks (raises OSError when it cannot be read)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _pairs_from_csv(path: Path) -> list[PixelSample]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if "image" not in fields or "mask" not in fields:
            raise DatasetError(f"{path}: CSV manifest needs columns image,mask; found {fields}")
        rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    base = path.parent
    return [
        PixelSample(base / r["image"], (base / r["mask"]) if r["mask"] else None,
                    r.get("subset") or path.stem)
        for r in rows
    ]


def _mask_key(stem: str) -> str:
    s = stem.lower()
    for suffix in MASK_SUFFIXES:
        if s.endswith(suffix):
            return s[: -len(suffix)]
    return s


def _first(children: dict[str, Path], names: tuple[str, ...]) -> Path | None:
    return next((children[n] for n in names if n in children), None)


def _walk_dirs(root: Path):
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in dirnames:
            yield Path(dirpath) / d
