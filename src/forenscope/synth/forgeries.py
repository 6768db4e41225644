"""Synthetic forgeries with exact masks, made from real photos: splicing, copy-move and
inpainting, each optionally resized and JPEG-compressed (once or twice, aligned or not) the
way real tampered images are, and authentic photos processed the same way, so format and
compression cannot tell the classes apart.

Layout written under ``out``::

    <split>/images/<id>.png|jpg     tampered and authentic images (JPEG when the recipe ends in one)
    <split>/masks/<id>.png          0/255, white = manipulated (none for authentic images)
    <split>.csv                     image,mask,subset (the pixel-level evaluation manifest)
    manifest.jsonl                  one row per image: recipe, seed, source photos, mask area
    forgeries.json                  config, counts, commit, data manifest hash

A sample is a pure function of (seed, photo, kind, index): a rerun makes identical files, and an
interrupted run resumes by skipping ids already in the manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from forenscope.data.splits import SPLITS, extra_train_photos, real_photos, split_of
from forenscope.data.augment import RESIZE_KERNELS, decode_jpeg, encode_jpeg, jpeg
from forenscope.synth.inputs import load_photos, sample_seed
from forenscope.synth.harmonise import match_noise, match_surroundings, noise_sigma, renoise, ring
from forenscope.synth.inpaint import inpaint
from forenscope.synth.regions import bounding_box, region_mask

KINDS = ("splice", "copymove", "inpaint-telea", "inpaint-ns", "inpaint-patch")  # the default set
OPT_IN_KINDS = ("inpaint-learned",)  # only when named (--kind): every set made before stays as it was
RECIPES = ("standard", "realistic", "unblended")
RING = 6  # pixels around a region that its light, colour and noise are matched to
AUTHENTIC = "authentic"


@dataclass
class ForgeryConfig:
    kinds: tuple = KINDS
    per_photo: dict = field(default_factory=lambda: {"train": 2, "val": 1, "test": 1})  # per kind
    authentic_per_photo: int = 1
    long_side: int = 512
    area: tuple = (0.02, 0.12)          # manipulated fraction of the image, before copy-move doubling
    copymove_mask: str = "both"         # "both": source and target (benchmark convention), or "target"
    resize_prob: float = 0.25           # after tampering: rescale by 0.5-0.9 with a random kernel
    # after tampering, before resizing: sharpen (unsharp mask) or denoise (bilateral) the whole
    # image, as photo editors do before saving; 0 draws nothing (both recipes' data stay as made)
    filter_prob: float = 0.0
    jpeg: dict = field(default_factory=lambda: {"none": 0.3, "single": 0.4, "double": 0.3})
    extra_train: tuple = ()  # folders (e.g. "real_scenes") whose photos join the TRAIN split only
    jpeg_quality: tuple = (60, 95)
    min_side: int = 128
    seed: int = 0
    # "standard": the recipe the shipped localisers trained on; "realistic": every splice's light,
    # colour and noise matched to where it lands and its edge feathered, copy-move regions drawn
    # at half the area (both copies are marked), sensor noise put back into diffusion fills
    # "unblended": Bappy et al.'s synthetic splices (the data behind bitmask93's patch F1 0.756):
    # an object-shaped donor region, randomly scaled / rotated, pasted with a hard edge, no colour
    # matching, and saved losslessly at its size (no resize, no JPEG)
    recipe: str = "standard"

    def __post_init__(self):
        unknown = [k for k in self.kinds if k not in KINDS + OPT_IN_KINDS]
        if unknown:
            raise ValueError(f"unknown forgery kind(s) {unknown}; choose from {', '.join(KINDS + OPT_IN_KINDS)}")
        if self.recipe not in RECIPES:
            raise ValueError(f"recipe must be one of {', '.join(RECIPES)}, got {self.recipe!r}")
        if self.copymove_mask not in ("both", "target"):
            raise ValueError(f"copymove_mask must be 'both' or 'target', got {self.copymove_mask!r}")
        if self.recipe == "unblended":
            if set(self.kinds) != {"splice"}:
                raise ValueError("the unblended recipe makes splices only: pass --kind splice")
            self.resize_prob, self.filter_prob, self.jpeg = 0.0, 0.0, {"none": 1.0}


@dataclass
class Forgery:
    image: np.ndarray               # RGB uint8, before post-processing
    mask: np.ndarray                # bool, same size
    recipe: dict


# ------------------------------------------------------------------ manipulations

def splice(target: np.ndarray, donor: np.ndarray, rng: np.random.Generator, area=(0.02, 0.12),
           recipe: str = "standard") -> Forgery:
    """Paste a region of ``donor`` into ``target``: natural shape, optional scale/rotation,
    colour matching and feathered edges. The mask is where the pasted alpha is >= 0.5; with
    hard edges (``feather`` 0) that is exactly the set of pixels taken from the donor.
    ``recipe`` "realistic": light, colour and noise always matched to the pixels around where it
    lands, edges always feathered; "unblended": an object-like segment pasted as it is (hard edge,
    no colour matching)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
    realistic, unblended = recipe == "realistic", recipe == "unblended"
    h, w = target.shape[:2]
    shape = "segment" if unblended else str(rng.choice(["segment", "segment", "ellipse", "strokes"]))
    frac = float(rng.uniform(*area))
    # drawn on the donor at the size it will have in the target
    region = region_mask(shape, donor, min(0.5, frac * h * w / (donor.shape[0] * donor.shape[1])), rng)
    patch, alpha, geo = _lift(donor, region, rng, rotate=0.3, scale=0.5, limit=(h, w))
    if realistic:
        return _harmonised_splice(target, patch, alpha, rng, {"kind": "splice", "shape": shape,
                                                             "area_target": round(frac, 4), **geo})
    colour = not unblended and bool(rng.random() < 0.5)
    if colour:
        # towards the whole target photo: spread fully, mean half-way (a plausible, not perfect, match)
        patch = match_surroundings(patch, alpha > 0.5, target.reshape(-1, 3), 0.5, spread=1.0)
    feather = 0.0 if unblended else float(rng.uniform(0.8, 2.5)) if rng.random() < 0.5 else 0.0
    y, x = int(rng.integers(0, h - patch.shape[0] + 1)), int(rng.integers(0, w - patch.shape[1] + 1))
    out, mask = _paste(target, patch, alpha, y, x, feather)
    return Forgery(out, mask, {"kind": "splice", "shape": shape, "area_target": round(frac, 4),
                               **geo, "colour_matched": colour, "feather_sigma": round(feather, 3),
                               "at": [y, x]})


def copy_move(image: np.ndarray, rng: np.random.Generator, area=(0.02, 0.12), mark: str = "both",
              realistic: bool = False) -> Forgery:
    """Copy a region to another place of the same photo (with rotation and scale). The mask
    marks source and target (``mark="both"``, the benchmarks' convention) or the target only.
    ``realistic``: with both marked, each copy is drawn at half the area (so the marked area
    has the other kinds' range), and the pasted copy's edge is feathered."""
    h, w = image.shape[:2]
    shape = str(rng.choice(["segment", "ellipse"]))
    frac = float(rng.uniform(*area)) * (0.5 if realistic and mark == "both" else 1.0)
    source = region_mask(shape, image, frac, rng)
    patch, alpha, geo = _lift(image, source, rng, rotate=0.5, scale=0.5, limit=(h // 2, w // 2))
    ph, pw = patch.shape[:2]
    best = None
    for _ in range(60):  # a place where the copy does not cover its own source
        y, x = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
        overlap = int((source[y:y + ph, x:x + pw] & (alpha > 0.5)).sum())
        if best is None or overlap < best[0]:
            best = (overlap, y, x)
        if overlap == 0:
            break
    _, y, x = best
    out, target = _paste(image, patch, alpha, y, x, feather=float(rng.uniform(0.5, 1.5)) if realistic else 0.0)
    mask = target | (source & ~target) if mark == "both" else target
    return Forgery(out, mask, {"kind": "copymove", "shape": shape, "area_target": round(frac, 4), **geo,
                               "at": [y, x], "mask_marks": mark,
                               "source_visible_px": int((source & ~target).sum())})


def inpainted(image: np.ndarray, method: str, rng: np.random.Generator, area=(0.02, 0.12),
              realistic: bool = False) -> Forgery:
    """Remove a region (free-form strokes, an object-like segment or an ellipse) and fill it.
    ``realistic``: the sensor noise of the surroundings is put back into fills that have none
    (Telea, Navier-Stokes, the learned one), as an editor's grain / noise tool would."""
    shape = str(rng.choice(["strokes", "strokes", "segment", "ellipse"]))
    frac = float(rng.uniform(*area))
    mask = region_mask(shape, image, frac, rng)
    radius = int(rng.integers(3, 8))
    out = inpaint(image, mask, method, rng, radius=radius)
    renoised = realistic and method != "patch"
    if renoised:
        out = renoise(out, mask, ring(mask, RING), rng)
    return Forgery(out, mask, {"kind": f"inpaint-{method}", "shape": shape, "area_target": round(frac, 4),
                               "radius": radius if method in ("telea", "ns") else None} | ({"renoised": True} if renoised else {}))


def _harmonised_splice(target: np.ndarray, patch: np.ndarray, alpha: np.ndarray, rng: np.random.Generator,
                       recipe: dict) -> Forgery:
    """The realistic splice: the patch's light and colour moved towards the pixels around where
    it lands (strength 0.8-1), its noise level matched to theirs, a feathered edge."""
    h, w = target.shape[:2]
    y, x = int(rng.integers(0, h - patch.shape[0] + 1)), int(rng.integers(0, w - patch.shape[1] + 1))
    placed = np.zeros((h, w), bool)
    placed[y:y + alpha.shape[0], x:x + alpha.shape[1]] = alpha > 0.5
    around = ring(placed, RING)
    strength = float(rng.uniform(0.8, 1.0))
    inside = alpha > 0.5
    patch = match_surroundings(patch, inside, target[around], strength)
    patch = match_noise(patch, inside, noise_sigma(target, around), rng)
    feather = float(rng.uniform(0.8, 2.5))
    out, mask = _paste(target, patch, alpha, y, x, feather)
    return Forgery(out, mask, recipe | {"harmonised": round(strength, 3), "noise_matched": True,
                                        "feather_sigma": round(feather, 3), "at": [y, x]})


def _lift(photo: np.ndarray, region: np.ndarray, rng: np.random.Generator, rotate: float, scale: float,
          limit: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, dict]:
    """Cut the region's bounding box out of ``photo`` and transform it: (patch, alpha in {0,1}, recipe).
    The patch is shrunk, if needed, to fit within ``limit``."""
    y0, y1, x0, x1 = bounding_box(region)
    patch, alpha = photo[y0:y1, x0:x1], region[y0:y1, x0:x1].astype(np.float32)
    angle = float(rng.uniform(-30, 30)) if rng.random() < rotate else 0.0
    factor = float(rng.uniform(0.7, 1.3)) if rng.random() < scale else 1.0
    ph, pw = patch.shape[:2]
    # rotated bounding box, then fit within the limit
    c, s = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
    bw, bh = pw * c + ph * s, pw * s + ph * c
    factor = min(factor, 0.95 * limit[0] / bh, 0.95 * limit[1] / bw)
    if angle or factor != 1.0:
        out_w, out_h = max(1, int(np.ceil(bw * factor))), max(1, int(np.ceil(bh * factor)))
        m = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, factor)
        m[:, 2] += (out_w / 2 - pw / 2, out_h / 2 - ph / 2)
        patch = cv2.warpAffine(patch, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        alpha = cv2.warpAffine(alpha, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = (alpha >= 0.5).astype(np.float32)
    if not alpha.any():
        raise ValueError("region vanished after the transform")
    return patch, alpha, {"rotation_deg": round(angle, 2), "scale": round(factor, 4),
                          "source_box": [y0, y1, x0, x1]}


def _paste(target: np.ndarray, patch: np.ndarray, alpha: np.ndarray, y: int, x: int,
           feather: float) -> tuple[np.ndarray, np.ndarray]:
    """Alpha-composite ``patch`` at (y, x). Returns the image and the mask (alpha >= 0.5)."""
    h, w = target.shape[:2]
    full = np.zeros((h, w), np.float32)
    full[y:y + alpha.shape[0], x:x + alpha.shape[1]] = alpha
    mask = full >= 0.5
    if feather > 0:
        full = cv2.GaussianBlur(full, (0, 0), feather)
    layer = target.astype(np.float32).copy()
    layer[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    a = full[..., None]
    out = np.where(a > 0, layer * a + target * (1 - a), target)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8) if feather > 0 else out.astype(np.uint8), mask


# ------------------------------------------------------------------ post-processing

def whole_image_filter(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Unsharp masking (amount 0.3-1.0 of a Gaussian sigma 0.8-2 residual) or a bilateral
    denoise (diameter 5-9): both smear or exaggerate the seams and noise a localiser looks for."""
    if rng.random() < 0.5:
        sigma, amount = float(rng.uniform(0.8, 2.0)), float(rng.uniform(0.3, 1.0))
        blur = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)
        out = np.clip(image + amount * (image - blur), 0, 255).astype(np.uint8)
        return out, {"kind": "sharpen", "sigma": round(sigma, 3), "amount": round(amount, 3)}
    d, sigma_colour = int(rng.choice([5, 7, 9])), float(rng.uniform(15, 40))
    out = cv2.bilateralFilter(image, d, sigma_colour, sigma_colour / 4 + d)
    return out, {"kind": "denoise", "diameter": d, "sigma_colour": round(sigma_colour, 2)}


def post_process(image: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator,
                 cfg: ForgeryConfig) -> tuple[np.ndarray, np.ndarray | None, bytes | None, dict]:
    """Optionally sharpen or denoise (``filter_prob``), resize, then JPEG none / single / double
    (the second on a grid shifted by 1-7 pixels when not aligned). Returns (pixels, mask, final
    JPEG bytes or None, recipe); the mask follows every geometric step (area-resampled and
    thresholded at 0.5 on resize, cropped on shift)."""
    recipe: dict = {}
    if cfg.filter_prob > 0 and rng.random() < cfg.filter_prob:
        image, recipe["filter"] = whole_image_filter(image, rng)
    if rng.random() < cfg.resize_prob:
        factor = float(rng.uniform(0.5, 0.9))
        kernel = str(rng.choice(list(RESIZE_KERNELS)))
        h, w = image.shape[:2]
        size = (max(cfg.min_side, round(w * factor)), max(cfg.min_side, round(h * factor)))
        image = cv2.resize(image, size, interpolation=RESIZE_KERNELS[kernel])
        if mask is not None:
            mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
        recipe["resize"] = {"factor": round(factor, 4), "kernel": kernel}
    names, probs = zip(*cfg.jpeg.items())
    mode = str(rng.choice(names, p=np.asarray(probs) / sum(probs)))
    recipe["jpeg"] = mode
    data = None
    lo, hi = cfg.jpeg_quality
    if mode == "double":
        q1 = int(rng.integers(lo, hi + 1))
        image = jpeg(image, q1)
        aligned = bool(rng.random() < 0.5)
        shift = (0, 0) if aligned else (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        image = image[shift[0]:, shift[1]:]
        if mask is not None:
            mask = mask[shift[0]:, shift[1]:]
        recipe.update({"quality_first": q1, "aligned": aligned, "grid_shift": list(shift)})
    if mode in ("single", "double"):
        q = int(rng.integers(lo, hi + 1))
        data = encode_jpeg(image, q)
        image = decode_jpeg(data)
        recipe["quality"] = q
    return image, mask, data, recipe


# ------------------------------------------------------------------ the data set

def make_sample(kind: str, photo: np.ndarray, donors: list[tuple[str, np.ndarray]],
                rng: np.random.Generator, cfg: ForgeryConfig) -> Forgery:
    """One sample of ``kind``; splices draw their donor from ``donors`` (key, pixels)."""
    realistic = cfg.recipe == "realistic"
    if kind == "splice":
        donor_key, donor = donors[int(rng.integers(len(donors)))]
        sample = splice(photo, donor, rng, cfg.area, cfg.recipe)
        sample.recipe["donor"] = donor_key
        return sample
    if kind == "copymove":
        return copy_move(photo, rng, cfg.area, cfg.copymove_mask, realistic)
    if kind.startswith("inpaint-"):
        return inpainted(photo, kind.split("-", 1)[1], rng, cfg.area, realistic)
    if kind == AUTHENTIC:
        return Forgery(photo, None, {"kind": AUTHENTIC})
    raise ValueError(f"unknown kind {kind!r}")


def synthesize_forgeries(data: Path, out: Path, cfg: ForgeryConfig | None = None,
                         log: Callable[[str], None] = print, provenance: dict | None = None,
                         progress: Callable = lambda it, total, desc: it) -> dict:
    cfg = cfg or ForgeryConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = real_photos(data)
    splits = {key: split_of(key) for key, _ in items}
    extra = dict(extra_train_photos(data, cfg.extra_train))  # key -> path: hosts and donors of TRAIN only
    items, splits = items + list(extra.items()), {**splits, **dict.fromkeys(extra, "train")}
    log(f"loading {len(items)} real photos (long side <= {cfg.long_side})")
    photos = {k: v for k, v in load_photos(items, cfg.long_side, log).items() if min(v.shape[:2]) >= cfg.min_side}
    by_split = {s: sorted(k for k in photos if splits[k] == s) for s in SPLITS}
    manifest_path = out / "manifest.jsonl"
    kept = _read_manifest(manifest_path)  # rewritten whole: drops a line a kill cut short
    manifest_path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    done = {r["id"] for r in kept}
    jobs = [(split, key, kind, i) for split in SPLITS for key in by_split[split]
            for kind in (*cfg.kinds, AUTHENTIC)
            for i in range(cfg.authentic_per_photo if kind == AUTHENTIC else cfg.per_photo.get(split, 0))]
    todo = [j for j in jobs if _sample_id(*j[1:]) not in done]
    log(f"{len(jobs)} samples ({len(jobs) - len(todo)} already made)")
    failures = []
    with open(manifest_path, "a", encoding="utf-8") as manifest:
        for split, key, kind, i in progress(todo, len(todo), "forgeries"):
            seed = sample_seed(cfg.seed, key, kind, i)
            rng = np.random.default_rng(seed)
            # dealt photos draw donors from dealt photos only: a grown set keeps every old sample
            donors = [(k, photos[k]) for k in by_split[split] if k != key and (key in extra or k not in extra)]
            try:
                row = _write_sample(out, split, key, kind, i, seed, photos[key], donors, rng, cfg)
            except ValueError as exc:  # a recipe that cannot be realised on this photo
                failures.append({"photo": key, "kind": kind, "index": i, "error": str(exc)})
                continue
            manifest.write(json.dumps(row) + "\n")
            manifest.flush()
    rows = _read_manifest(manifest_path)
    _write_csvs(out, rows)
    counts = {s: {} for s in SPLITS}
    for r in rows:
        counts[r["split"]][r["kind"]] = counts[r["split"]].get(r["kind"], 0) + 1
    report = {"config": asdict(cfg), "counts": counts, "failures": failures,
              "source_photos": {s: len(by_split[s]) for s in SPLITS}, **(provenance or {})}
    (out / "forgeries.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _sample_id(key: str, kind: str, index: int) -> str:
    return f"{Path(key).stem}_{hashlib.sha256(key.encode()).hexdigest()[:6]}_{kind}_{index}"


def _write_sample(out: Path, split: str, key: str, kind: str, index: int, seed: int, photo: np.ndarray,
                  donors: list[tuple[str, np.ndarray]], rng: np.random.Generator, cfg: ForgeryConfig) -> dict:
    sample = make_sample(kind, photo, donors, rng, cfg)
    if sample.mask is not None and not sample.mask.any():
        raise ValueError("empty mask")
    image, mask, jpeg_bytes, post = post_process(sample.image, sample.mask, rng, cfg)
    sid = _sample_id(key, kind, index)
    (out / split / "images").mkdir(parents=True, exist_ok=True)
    image_rel = f"{split}/images/{sid}.{'jpg' if jpeg_bytes else 'png'}"
    if jpeg_bytes:
        (out / image_rel).write_bytes(jpeg_bytes)
    else:
        cv2.imwrite(str(out / image_rel), image[..., ::-1])
    mask_rel = None
    if mask is not None:
        (out / split / "masks").mkdir(parents=True, exist_ok=True)
        mask_rel = f"{split}/masks/{sid}.png"
        cv2.imwrite(str(out / mask_rel), mask.astype(np.uint8) * 255)
    row = {"id": sid, "split": split, "kind": kind, "photo": key, "seed": seed, "index": index,
           "image": image_rel, "mask": mask_rel, "size": list(image.shape[:2]),
           "mask_fraction": round(float(mask.mean()), 5) if mask is not None else 0.0,
           "recipe": {**sample.recipe, "post": post}}
    return row


def _read_manifest(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a kill: that sample is made again
            continue
    return rows


def _write_csvs(out: Path, rows: list[dict]) -> None:
    """``<split>.csv`` per split: image,mask,subset (authentic images have an empty mask)."""
    for split in SPLITS:
        chosen = sorted((r for r in rows if r["split"] == split), key=lambda r: r["id"])
        if not chosen:
            continue
        lines = ["image,mask,subset"] + [f"{r['image']},{r['mask'] or ''},{r['kind']}" for r in chosen]
        (out / f"{split}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
