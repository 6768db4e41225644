"""Generator-artifact simulation: train small decoders on real photos, then pass real photos
through them. Each fake keeps its source crop as its real partner, so content, size and
sharpness cannot separate the classes; only the decoder's up-sampling trace can.

Layout written under ``out``::

    decoders/<generator>.safetensors     the trained decoders (and a JSON with their PSNR)
    <split>/<generator>/0_real/*.png     source crops (after in-the-wild rescaling)
    <split>/<generator>/1_fake/*.png     the same crops passed through the decoder
    manifest.jsonl                       one row per pair: source photo, generator, seed, recipe, PSNR
    generators.json                      decoders, held-out PSNR, config, commit, data manifest hash
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, asdict
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from forenscope.data.splits import real_photos, split_of
from forenscope.data.augment import random_crop, wild_rescale
from forenscope.nets.decoders import Autoencoder, PatchDiscriminator
from forenscope.synth.inputs import load_photos, sample_seed


@dataclass(frozen=True)
class GeneratorSpec:
    name: str
    upsampling: str
    adversarial: bool = False


GENERATORS = {
    s.name: s
    for s in (
        GeneratorSpec("ae-nearest", "nearest"),
        GeneratorSpec("ae-bilinear", "bilinear"),
        GeneratorSpec("ae-transposed", "transposed"),
        GeneratorSpec("ae-pixelshuffle", "pixelshuffle"),
        GeneratorSpec("gan-nearest", "nearest", adversarial=True),  # ProGAN-style up-sampling
    )
}


@dataclass
class SynthConfig:
    steps: int = 1200
    batch: int = 16
    crop: int = 64
    lr: float = 2e-3
    width: int = 48
    latent: int = 32
    adversarial_weight: float = 0.01
    long_side: int = 768          # photos are first shrunk to this (camera JPEGs are 12 MP+)
    sample_size: int = 256        # size of each written crop
    samples_per_photo: dict = None  # per split; default train 2, val 1, test 1
    min_psnr: float = 30.0
    seed: int = 0

    def __post_init__(self):
        if self.samples_per_photo is None:
            self.samples_per_photo = {"train": 2, "val": 1, "test": 1}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float().div_(255)


def run_decoder(model: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
    """Pass an RGB uint8 image through a decoder; odd sizes are cropped to even first."""
    h, w = rgb.shape[:2]
    rgb = rgb[: h - h % 2, : w - w % 2]
    with torch.no_grad():
        y = model(_to_tensor(rgb)[None])[0].clamp_(0, 1)
    return (y.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def _batch(photos: list[np.ndarray], rng: np.random.Generator, n: int, crop: int) -> torch.Tensor:
    crops = []
    for _ in range(n):
        im = photos[int(rng.integers(len(photos)))]
        y = int(rng.integers(0, im.shape[0] - crop + 1))
        x = int(rng.integers(0, im.shape[1] - crop + 1))
        crops.append(im[y:y + crop, x:x + crop])
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255)


def train_decoder(spec: GeneratorSpec, photos: list[np.ndarray], cfg: SynthConfig, seed: int,
                  log: Callable[[str], None] = print) -> Autoencoder:
    """Reconstruction (L1 + MSE) training; GAN variants add a PatchGAN term after a warm-up."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Autoencoder(spec.upsampling, cfg.width, cfg.latent)
    opt = torch.optim.Adam(model.parameters(), cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    critic = PatchDiscriminator() if spec.adversarial else None
    critic_opt = torch.optim.Adam(critic.parameters(), 2e-4, betas=(0.5, 0.999)) if critic else None
    warmup = cfg.steps // 3
    t0 = time.time()
    for step in range(cfg.steps):
        x = _batch(photos, rng, cfg.batch, cfg.crop)
        y = model(x)
        loss = (y - x).abs().mean() + ((y - x) ** 2).mean()
        if critic is not None and step >= warmup:
            # non-saturating GAN loss; the critic is updated on detached fakes below
            loss = loss + cfg.adversarial_weight * F.softplus(-critic(y)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if critic is not None and step >= warmup:
            d_loss = F.softplus(-critic(x)).mean() + F.softplus(critic(y.detach())).mean()
            critic_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            critic_opt.step()
        if step % 200 == 0 or step == cfg.steps - 1:
            log(f"  {spec.name} step {step + 1}/{cfg.steps} loss {loss.item():.4f} ({time.time() - t0:.0f} s)")
    return model.eval()


def synthesize_generators(data: Path, out: Path, names: list[str] | None = None,
                          cfg: SynthConfig | None = None, log: Callable[[str], None] = print,
                          provenance: dict | None = None) -> dict:
    """Train each decoder on train-split photos, report held-out PSNR, write paired fakes."""
    cfg = cfg or SynthConfig()
    names = names or list(GENERATORS)
    unknown = [n for n in names if n not in GENERATORS]
    if unknown:
        raise ValueError(f"unknown generator(s) {unknown}; choose from {', '.join(GENERATORS)}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "decoders").mkdir(exist_ok=True)
    items = real_photos(data)
    splits = {key: split_of(key) for key, _ in items}
    log(f"loading {len(items)} real photos (long side <= {cfg.long_side})")
    photos = load_photos(items, cfg.long_side, log)
    train = [im for k, im in photos.items() if splits[k] == "train" and min(im.shape[:2]) >= cfg.crop]
    val_keys = [k for k in photos if splits[k] == "val"]
    summary = {}
    manifest_rows = []
    for index, name in enumerate(names):
        spec = GENERATORS[name]
        weights = out / "decoders" / f"{name}.safetensors"
        model = Autoencoder(spec.upsampling, cfg.width, cfg.latent)
        if weights.is_file():  # resumable: a finished decoder is reused
            model.load_state_dict(load_file(weights))
            model.eval()
            log(f"{name}: reusing {weights}")
        else:
            log(f"{name}: training on {len(train)} photos")
            model = train_decoder(spec, train, cfg, seed=cfg.seed + index, log=log)
            save_file(model.state_dict(), weights)
        held_out = [psnr(photos[k][: photos[k].shape[0] // 2 * 2, : photos[k].shape[1] // 2 * 2],
                         run_decoder(model, photos[k])) for k in val_keys]
        summary[name] = {"upsampling": spec.upsampling, "adversarial": spec.adversarial,
                         "heldout_psnr_db": round(float(np.mean(held_out)), 2),
                         "heldout_psnr_min_db": round(float(np.min(held_out)), 2),
                         "heldout_photos": len(held_out),
                         "passes_min_psnr": bool(np.mean(held_out) >= cfg.min_psnr)}
        log(f"{name}: held-out PSNR {summary[name]['heldout_psnr_db']} dB on {len(held_out)} val photos")
        manifest_rows += _write_pairs(model, name, photos, splits, out, cfg)
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as fh:
        for row in manifest_rows:
            fh.write(json.dumps(row) + "\n")
    report = {"generators": summary, "config": asdict(cfg), "pairs": len(manifest_rows),
              "source_photos": {s: sum(1 for k in photos if splits[k] == s) for s in ("train", "val", "test")}}
    report.update(provenance or {})
    (out / "generators.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _write_pairs(model, name: str, photos: dict, splits: dict, out: Path, cfg: SynthConfig) -> list[dict]:
    rows = []
    for key, photo in photos.items():
        split = splits[key]
        for k in range(cfg.samples_per_photo.get(split, 0)):
            seed = sample_seed(cfg.seed, key, name, k)
            rng = np.random.default_rng(seed)
            scaled, recipe = wild_rescale(photo, rng, min_side=min(cfg.sample_size, 128))
            crop = random_crop(scaled, cfg.sample_size, rng)
            crop = crop[: crop.shape[0] // 2 * 2, : crop.shape[1] // 2 * 2]
            fake = run_decoder(model, crop)
            stem = f"{Path(key).stem}_{hashlib.sha256(key.encode()).hexdigest()[:6]}_{k}"
            folder = out / split / name
            for sub, img in (("0_real", crop), ("1_fake", fake)):
                (folder / sub).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / sub / f"{stem}.png"), img[..., ::-1])
            rows.append({"split": split, "generator": name, "source": key, "seed": seed, **recipe,
                         "size": list(crop.shape[:2]), "psnr_db": round(psnr(crop, fake), 2),
                         "real": f"{split}/{name}/0_real/{stem}.png", "fake": f"{split}/{name}/1_fake/{stem}.png"})
    return rows
