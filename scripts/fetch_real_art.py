#!/usr/bin/env python3
"""Human-made non-photo images (clip art, paintings, game art, renders, screenshots with text),
all made before 2022, from Debian packages, for the REAL class of generated-image detection.

Without them a detector learns "not a photo = generated": the generator pool is full of art,
posters and text. Each image goes through the generator pool's own recipe (transparency
composited on white, centre crop of side min(320, short side) at native resolution, JPEG q95,
no metadata), so neither format nor size separates the classes.

    python scripts/fetch_real_art.py --out work/real-art     # ~450 MB of downloads, ~5 min

Writes ``OUT/<package>/<package>_NNN.jpg`` and ``OUT/manifest.tsv`` (file, package, version,
licence, source path inside the package, native size). Reruns skip packages already done.
Reserved for evaluation elsewhere, never fetched here: mate-backgrounds, lomiri-wallpapers*,
plasma-workspace-wallpapers, ukui-wallpapers.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

# package -> (what it is, path filter inside the package, at most this many images)
PACKAGES = {
    "openclipart-png": ("clip art (Open Clip Art Library 0.18, 2000s)", r"/usr/share/openclipart/png/", 150),
    "wesnoth-1.16-data": ("hand-painted portraits, units and scenery (Battle for Wesnoth 1.16, 2021)",
                          r"/images/(portraits|story|maps)/", 120),
    "freeciv-data": ("building and wonder illustrations, themes (Freeciv 3.0, 2021)",
                     r"/usr/share/games/freeciv/(buildings|wonders|misc|themes)/", 40),
    "lincity-ng-data": ("3D-rendered city buildings (LinCity-NG, 2005-2015)", r"/usr/share/games/lincity-ng/", 60),
    "pingus-data": ("cartoon game art (Pingus 0.7)", r"/usr/share/games/pingus/", 40),
    "gimp-help-en": ("screenshots with text and diagrams (GIMP 2.10 manual)", r"/images/", 120),
    "inkscape-tutorials": ("vector illustrations and text (Inkscape tutorials)", r"/usr/share/inkscape/", 30),
    "desktop-base": ("Debian desktop artwork, themes 2010-2019", r"/themes/(joy|lines|softwaves|spacefun|moonlight|futureprototype)/", 30),
    "xfdesktop4-data": ("Xfce desktop backgrounds", r"/backgrounds/", 10),
}
RESERVED = re.compile(r"^(mate-backgrounds|lomiri-wallpapers.*|plasma-workspace-wallpapers|ukui-wallpapers)$")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MIN_SIDE = 128   # icons and sprites smaller than this say little about an image met in the wild
SIDE = 320       # the generator pool's crop side
QUALITY = 95


def sh(*cmd: str, cwd: Path | None = None) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def licence_of(root: Path, package: str) -> str:
    copyright_file = root / "usr/share/doc" / package / "copyright"
    if not copyright_file.is_file():
        return "see the package's copyright file"
    names = re.findall(r"^License:\s*(\S.*)$", copyright_file.read_text(errors="replace"), re.M)
    return "; ".join(dict.fromkeys(n.strip() for n in names)) or "see the package's copyright file"


def as_recipe(img: Image.Image) -> Image.Image | None:
    """The pool's recipe: RGB (alpha over white), centre crop min(SIDE, short side); None for
    images too small or nearly uniform (blank sprites, masks)."""
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    img = img.convert("RGB")
    w, h = img.size
    if min(w, h) < MIN_SIDE or max(w, h) > 8 * min(w, h):
        return None
    side = min(SIDE, w, h)
    left, top = (w - side) // 2, (h - side) // 2
    crop = img.crop((left, top, left + side, top + side))
    if float(np.asarray(crop, dtype=np.float32).std()) < 8.0:
        return None
    return crop


def fetch(package: str, pattern: str, cap: int, out: Path, seed: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sh("apt-get", "download", package, cwd=tmp)
        deb = next(tmp.glob("*.deb"))
        version = sh("dpkg-deb", "-f", str(deb), "Version").strip()
        root = tmp / "root"
        sh("dpkg-deb", "-x", str(deb), str(root))
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                       and re.search(pattern, "/" + str(p.relative_to(root))))
        order = np.random.default_rng(seed).permutation(len(files))
        rows, seen = [], set()
        dest = out / package
        dest.mkdir(parents=True, exist_ok=True)
        for k in order:
            if len(rows) >= cap:
                break
            try:
                with Image.open(files[k]) as im:
                    im.seek(0)
                    native = im.size
                    crop = as_recipe(im)
            except Exception:  # a file the package ships but Pillow cannot read: skip it
                continue
            if crop is None:
                continue
            buf = io.BytesIO()
            crop.save(buf, "JPEG", quality=QUALITY)
            digest = hashlib.sha256(buf.getvalue()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            name = f"{package}/{package}_{len(rows):03d}.jpg"
            (out / name).write_bytes(buf.getvalue())
            rows.append({"file": name, "package": package, "version": version, "licence": licence_of(root, package),
                         "source_file": "/" + str(files[k].relative_to(root)), "native_size": f"{native[0]}x{native[1]}"})
        return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("work/real-art"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "manifest.tsv"
    fields = ["file", "package", "version", "licence", "source_file", "native_size"]
    rows = list(csv.DictReader(open(table), delimiter="\t")) if table.is_file() else []
    done = {r["package"] for r in rows}
    for package, (what, pattern, cap) in PACKAGES.items():
        assert not RESERVED.match(package), package
        if package in done:
            print(f"{package}: already fetched", file=sys.stderr)
            continue
        try:
            got = fetch(package, pattern, cap, args.out, args.seed)
        except (subprocess.CalledProcessError, StopIteration) as exc:
            print(f"{package}: not fetched ({exc})", file=sys.stderr)
            continue
        print(f"{package}: {len(got)} images ({what})", file=sys.stderr)
        rows += got
        with open(table, "w", newline="") as fh:  # after every package: a killed run keeps what it had
            w = csv.DictWriter(fh, fields, delimiter="\t")
            w.writeheader()
            w.writerows(rows)
    print(f"{len(rows)} images in {table}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
