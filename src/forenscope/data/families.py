"""The labelled pool for generated-image detection across generator families.

Fakes: every real generator output in the shared data (``generators_pool`` and
``generated_train``), each tagged with its family and its DECODER GROUP: families that share a
decoder (the Stable Diffusion VAE is also Latent Diffusion's, GLID-3's and PixArt-alpha's;
SDXL's VAE is Kolors' and Hunyuan-DiT's) or a maker's lineage (Midjourney versions, Google's
image models, StyleGAN2 checkpoints) are one group, and folds hold out whole groups, so a
"left-out" family never shares a decoder with training.

Reals: photos of every real source (``real_scenes``, BSDS500, Kodak, McMaster, camera JPEGs)
and human-made non-photo images fetched from Debian packages (``scripts/fetch_real_art.py``).

Every image is served through the generator pool's recipe (centre crop of side min(side,
short side) at native resolution, JPEG q95) so that format and size cannot separate the
classes; the real crop side follows the fakes' mix of 256 and 320 (a per-image hash).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forenscope.data.splits import REAL_PHOTO_FOLDERS
from forenscope.data.augment import decode_jpeg, encode_jpeg

POOL = "generators_pool"
GENERATED = "generated_train"
SCENES = "real_scenes"
RECIPE_QUALITY = 95
# families that share a decoder or a lineage; every other family is a group of its own
DECODER_GROUPS = {
    "sd-vae": ("latent_diffusion", "glid3", "sd1", "sd2", "pixart_alpha"),
    "sdxl-vae": ("sdxl_base_and_turbo", "kolors", "hunyuan_dit"),
    "midjourney": ("midjourney_v7", "midjourney_kolors_cw"),
    "google": ("nano_banana_flash", "nano_banana_pro", "google_imagen"),
    "stylegan2": ("stylegan2_lsun_official", "stylegan2_community_domains"),
}
GROUP_OF = {f: g for g, fams in DECODER_GROUPS.items() for f in fams}
SMALL_FAMILY = 10  # families with fewer images are reported together as one row


@dataclass(frozen=True)
class Item:
    path: str          # absolute or relative to the data root / art folder
    label: int         # 1 = generated
    family: str        # generator family (fakes) or real source (reals)
    group: str         # decoder group (fakes) or "real"
    keys: tuple        # leak keys: prompt, source file; no key may straddle train and test
    side: int          # crop side of the recipe
    prepared: bool     # already in the recipe (pool, real_scenes, art): decode as is

    @property
    def split_key(self) -> str:
        return self.keys[0]


def group_of(family: str) -> str:
    return GROUP_OF.get(family, family)


def _rows(table: Path) -> list[dict]:
    with open(table, encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def unit_hash(key: str, salt: str = "") -> float:
    return int.from_bytes(hashlib.sha256(f"{salt}{key}".encode()).digest()[:8], "big") / 2**64


def fake_items(data: Path) -> list[Item]:
    items = []
    if (data / POOL / "manifest.tsv").is_file():
        for r in _rows(data / POOL / "manifest.tsv"):
            key = f"{r['source_repo']}/{r['source_file']}"
            items.append(Item(str(data / POOL / r["file"]), 1, r["family"], group_of(r["family"]),
                              (key,), 320, True))
    if (data / GENERATED / "manifest.tsv").is_file():
        for r in _rows(data / GENERATED / "manifest.tsv"):
            family = r["file"].split("/")[0]
            # the prompt is the key: both generators drew the same prompts (one group, one fold)
            items.append(Item(str(data / GENERATED / r["file"]), 1, family, group_of(family),
                              (f"prompt:{r['prompt_slug']}", r["file"]), 256, False))
    return items


def real_items(data: Path, art: Path | None, fake_sides: list[int]) -> list[Item]:
    """Every real image; crop sides drawn (by a hash of the file) from the fakes' sides."""
    from forenscope.data.inputs import iter_image_files

    sides = sorted(fake_sides) or [320]

    def side_for(key: str) -> int:
        return sides[min(len(sides) - 1, int(unit_hash(key, "side") * len(sides)))]

    items = []
    if (data / SCENES / "manifest.tsv").is_file():
        for r in _rows(data / SCENES / "manifest.tsv"):
            key = f"{r['source']}/{r['source_file']}"
            side = side_for(key)  # already in the recipe at 320: re-cut only for a smaller side
            items.append(Item(str(data / SCENES / r["file"]), 0, r["source"], "real", (key,), side, side >= 320))
    for folder in REAL_PHOTO_FOLDERS:
        if (data / folder).is_dir():
            for p in iter_image_files(data / folder):
                key = p.relative_to(data).as_posix()
                items.append(Item(str(p), 0, folder.split("/")[-1], "real", (key,), side_for(key), False))
    if art is not None and (art / "manifest.tsv").is_file():
        for r in _rows(art / "manifest.tsv"):
            key = f"{r['package']}:{r['source_file']}"
            side = side_for(key)
            items.append(Item(str(art / r["file"]), 0, f"art:{r['package']}", "real", (key,), side, side >= 320))
    return items


def pool_items(data: Path, art: Path | None) -> list[Item]:
    fakes = fake_items(data)
    if not fakes:
        raise FileNotFoundError(f"no generator outputs under {data} (expected {POOL}/ or {GENERATED}/)")
    reals = real_items(data, art, [f.side for f in fakes])
    return fakes + reals


def recipe(rgb: np.ndarray, side: int, quality: int = RECIPE_QUALITY) -> np.ndarray:
    """The generator pool's processing: centre crop of side min(side, short side) at native
    resolution, then one JPEG round trip at ``quality``."""
    h, w = rgb.shape[:2]
    s = min(side, h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return decode_jpeg(encode_jpeg(np.ascontiguousarray(rgb[y:y + s, x:x + s]), quality))


def load_item(item: Item) -> np.ndarray:
    """The item's pixels as the detector sees them in training and evaluation."""
    from forenscope.imageio import read_image

    rgb = read_image(item.path)[0]
    if item.prepared:
        return rgb
    return recipe(rgb, item.side)


def assign_folds(items: list[Item], k: int, seed: int) -> dict[str, int]:
    """Decoder group -> fold. The largest group (the SD VAE's, with Latent Diffusion and
    GLID-3) is a fold of its own; the others are dealt in a seeded random order, each to the
    smallest of the remaining k - 1 folds, so the seed changes which families share a fold
    while the folds stay similar in size."""
    sizes: dict[str, int] = {}
    for it in items:
        if it.label == 1:
            sizes[it.group] = sizes.get(it.group, 0) + 1
    if len(sizes) < k:
        raise ValueError(f"{len(sizes)} decoder groups cannot fill {k} folds")
    biggest = max(sizes, key=lambda g: (sizes[g], g))
    rng = np.random.default_rng(seed)
    rest = sorted(g for g in sizes if g != biggest)
    folds, load = {biggest: 0}, [sizes[biggest]] + [0] * (k - 1)
    for i in rng.permutation(len(rest)):
        f = 1 + int(np.argmin(load[1:]))
        folds[rest[i]] = f
        load[f] += sizes[rest[i]]
    return folds


def real_split(item: Item, seed: int, fractions=(0.6, 0.2, 0.2)) -> str:
    """train / val / test of a real image, by a seeded hash of its source key."""
    u = unit_hash(item.split_key, f"real-split-{seed}:")
    return "train" if u < fractions[0] else "val" if u < fractions[0] + fractions[1] else "test"


def report_family(family: str, counts: dict[str, int]) -> str:
    """The row a family is reported in: itself, or "small families" below SMALL_FAMILY images."""
    return family if counts.get(family, 0) >= SMALL_FAMILY else "small families"


def leak_check(train: list[Item], test: list[Item]) -> list[str]:
    """Leak keys (prompts, source files) found on both sides; empty when the split is clean."""
    seen = {k for it in train for k in it.keys}
    return sorted({k for it in test for k in it.keys if k in seen})
