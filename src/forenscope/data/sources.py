"""Training sources for real-vs-generated detectors, as lists of (real, fake) units.

A unit pairs one real image with one fake. For simulated generators the real half is the fake's
own source crop (same content, size and processing); for real generators and CIFAKE, whose
fakes have no source photo, it is a real image drawn from the same split (a real photo
processed as in the wild, or a CIFAKE real). Splits are by source photo, prompt or file, never
mixed: see :mod:`forenscope.data.splits`.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from forenscope.data.splits import real_photos, split_of
from forenscope.data.augment import fit_long_side, random_crop, wild_rescale
from forenscope.imageio import decode_image, read_image

SOURCE_KINDS = ("synth", "generated", "cifake")
GENERATED_FOLDER = "generated_train"
CIFAKE_ZIP = "cifake_subset.zip"
# CIFAR-10 classes in label order; a CIFAKE file "0123 (k).jpg" is of class k (no "(k)": class 1)
CIFAKE_CATEGORIES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class Ref:
    """Where one image comes from: a file, a zip member, or a real photo to process on the fly."""

    kind: str  # "file" | "zip" | "photo"
    where: str  # path, "zip!member", or "photo" (any real photo of the split)


@dataclass(frozen=True)
class Unit:
    group: str
    real: Ref
    fake: Ref
    paired: bool  # True: same content; crop both halves identically


class SourceError(ValueError):
    pass


def build_units(spec: dict, split: str, data: Path, base: Path) -> list[Unit]:
    """Units of one source entry of a training config for one split."""
    kind = spec.get("source")
    if kind == "synth":
        return _synth_units(base / spec["path"], split, spec.get("generators"))
    if kind == "generated":
        return _generated_units(data, split, spec.get("generators"))
    if kind == "cifake":
        return _cifake_units(data, split, spec.get("limit"), spec.get("categories"), spec.get("per_category"))
    raise SourceError(f"unknown source {kind!r}; choose from {', '.join(SOURCE_KINDS)}")


def _synth_units(root: Path, split: str, generators: list[str] | None) -> list[Unit]:
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        raise SourceError(f"{manifest} not found: run `forenscope synth generators --out {root}` first")
    units = []
    with open(manifest, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["split"] == split and (generators is None or row["generator"] in generators):
                units.append(Unit(row["generator"], Ref("file", str(root / row["real"])),
                                  Ref("file", str(root / row["fake"])), True))
    if generators:
        missing = set(generators) - {u.group for u in units}
        if missing:
            raise SourceError(f"{root}: no {split} pairs for generator(s) {sorted(missing)}")
    return units


def generated_files(data: Path, generator: str) -> list[tuple[Path, str]]:
    """(file, prompt) of one generator in generated_train; the prompt is the split key."""
    table = data / GENERATED_FOLDER / "manifest.tsv"
    if not table.is_file():
        raise SourceError(f"{table} not found")
    with open(table, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    out = [(data / GENERATED_FOLDER / r["file"], r["prompt_slug"]) for r in rows
           if r["file"].split("/")[0] == generator]
    if not out:
        raise SourceError(f"no images of generator {generator!r} in {table}")
    return out


def _generated_units(data: Path, split: str, generators: list[str] | None) -> list[Unit]:
    units = []
    for gen in generators or ["latent_diffusion", "glid3"]:
        for path, prompt in generated_files(data, gen):
            # split by prompt: images of one prompt are near-duplicates
            if split == "all" or split_of(f"{gen}/{prompt}") == split:
                units.append(Unit(gen, Ref("photo", "photo"), Ref("file", str(path)), False))
    return units


def cifake_category(member: str) -> str:
    """The CIFAR-10 class of a CIFAKE zip member, from the "(k)" in its file name."""
    m = re.search(r"\((\d+)\)", member.rsplit("/", 1)[-1])
    return CIFAKE_CATEGORIES[int(m.group(1)) - 1 if m else 0]


def _cifake_units(data: Path, split: str, limit: int | None, categories: list[str] | None = None,
                  per_category: int | None = None) -> list[Unit]:
    """(real, fake) pairs of the split; with ``categories``, only those CIFAR-10 classes, at
    most ``per_category`` pairs of each (the group is then the category)."""
    zpath = data / CIFAKE_ZIP
    if not zpath.is_file():
        raise SourceError(f"{zpath} not found")
    unknown = sorted(set(categories or []) - set(CIFAKE_CATEGORIES))
    if unknown:
        raise SourceError(f"unknown CIFAKE categor{'y' if len(unknown) == 1 else 'ies'} {unknown}; "
                          f"choose from {', '.join(CIFAKE_CATEGORIES)}")
    with zipfile.ZipFile(zpath) as z:
        names = sorted(n for n in z.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png")))
    units = []
    for cat in categories or [None]:
        reals = [n for n in names if n.startswith("0_real/") and split_of(n) == split
                 and (cat is None or cifake_category(n) == cat)]
        fakes = [n for n in names if n.startswith("1_fake/") and split_of(n) == split
                 and (cat is None or cifake_category(n) == cat)]
        cap = limit if cat is None else per_category
        if cap:
            reals, fakes = reals[:cap], fakes[:cap]
        # pair the i-th fake with the i-th real: a fixed, balanced pairing
        units += [Unit(cat or "cifake", Ref("zip", f"{zpath}!{r}"), Ref("zip", f"{zpath}!{f}"), False)
                  for r, f in zip(reals, fakes)]
    return units


class ImageCache:
    """Decoded images in memory (training data is small); real photos shrunk to ``long_side``;
    images whose short side is below ``min_side`` enlarged (bicubic) to it, so a network whose
    stride needs more pixels can learn from CIFAKE's 32x32 (both classes alike)."""

    def __init__(self, data: Path, split: str, long_side: int = 768, min_side: int = 0):
        self.data, self.split, self.long_side, self.min_side = data, split, long_side, min_side
        self._files: dict[str, np.ndarray] = {}
        self._photos: list[np.ndarray] | None = None

    def get(self, ref: Ref) -> np.ndarray:
        if ref.kind == "photo":
            raise ValueError("photo refs are drawn with draw_photo")
        if ref.where not in self._files:
            if ref.kind == "zip":
                zpath, member = ref.where.split("!", 1)
                self._files[ref.where] = decode_image(_zip(zpath).read(member), source=ref.where)[0]
            else:
                self._files[ref.where] = read_image(ref.where)[0]
            self._files[ref.where] = _at_least(self._files[ref.where], self.min_side)
        return self._files[ref.where]

    def photos(self) -> list[np.ndarray]:
        if self._photos is None:
            self._photos = [fit_long_side(read_image(p)[0], self.long_side)
                            for key, p in real_photos(self.data) if split_of(key) == self.split]
        return self._photos

    def draw_photo(self, rng: np.random.Generator, size, min_side: int) -> np.ndarray:
        """A real photo as met in the wild: rescaled 0.25-1 with a random kernel (never below
        ``min_side``), then cropped to ``size`` (an int, or (height, width))."""
        photos = self.photos()
        photo = photos[int(rng.integers(len(photos)))]
        scaled, _ = wild_rescale(photo, rng, min_side=min_side)
        return random_crop(scaled, size, rng)


def _at_least(img: np.ndarray, min_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    if not min_side or min(h, w) >= min_side:
        return img
    f = min_side / min(h, w)
    return cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_CUBIC)


@lru_cache(maxsize=4)
def _zip(path: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)
