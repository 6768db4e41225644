"""One training loop for real-vs-generated classifiers: seeded, resumable, balanced, with the
best checkpoint chosen on validation and the threshold calibrated on validation real images.

Determinism: batch ``step`` draws from ``default_rng([seed, step])`` and torch is reseeded per
step, so a run killed and resumed produces the same batches as an uninterrupted one.
Checkpoints are safetensors (model and optimiser) plus a JSON state; nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from safetensors.torch import load_file, save_file

from forenscope.data.datasets import manifest_hash
from forenscope.data.sources import ImageCache, Unit, build_units
from forenscope.data.splits import real_photos, split_of
from forenscope.data.wild import augment, gaussian_blur
from forenscope.evaluate.metrics import image_metrics, threshold_at_fpr
from forenscope.methods import get_method
from forenscope.train.config import config_hash
from forenscope.train.distributed import current_world

Log = Callable[[str], None]


# ------------------------------------------------------------------ data


def _crop_at(img: np.ndarray, size: int, y: int, x: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h < size or w < size:  # tiny inputs (CIFAKE): reflect-pad rather than fail
        img = np.pad(img, ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0)), mode="reflect")
    return img[y:y + size, x:x + size]


def _offset(img: np.ndarray, size: int, rng: np.random.Generator) -> tuple[int, int]:
    h, w = img.shape[:2]
    return int(rng.integers(0, max(h - size, 0) + 1)), int(rng.integers(0, max(w - size, 0) + 1))


def unit_images(unit: Unit, cache: ImageCache, cfg: dict, rng: np.random.Generator,
                crop: int | None, train: bool, infos: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The processed (real, fake) pair of a unit. Paired units get identical processing.
    ``infos`` receives one dict per image with the augmentation applied."""
    d, a = cfg["data"], cfg["augment"]
    fake = cache.get(unit.fake)
    if unit.real.kind == "photo":
        real = matched_photo(fake, cache, rng, d.get("match_candidates", 8))
    else:
        real = cache.get(unit.real)
    if unit.paired:
        real = _match_sharpness(real, fake, unit.real.where)
    aug = {k: v for k, v in a.items() if k != "hflip"}
    out = []
    shared = int(rng.integers(2**31))
    for img in (real, fake):
        sub = np.random.default_rng(shared if unit.paired else int(rng.integers(2**31)))
        info: dict = {}
        img = augment(img, sub, **aug, info=info)
        if infos is not None:
            infos.append(info)
        if crop is not None:
            img = _crop_at(img, crop, *_offset(img, crop, sub))
            if train and a["hflip"] and sub.random() < 0.5:
                img = img[:, ::-1]
        out.append(np.ascontiguousarray(img))
    return out[0], out[1]


def _sharpness(rgb: np.ndarray) -> float:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def matched_photo(fake: np.ndarray, cache: ImageCache, rng: np.random.Generator, candidates: int) -> np.ndarray:
    """A real crop of exactly the fake's size whose sharpness (mean |Laplacian|) is the closest
    of ``candidates`` draws: generator outputs are smoother than photos on average, and without
    this matching "sharp = real" separates the classes by itself (the shortcut check sees it)."""
    target = _sharpness(fake)
    draws = [cache.draw_photo(rng, fake.shape[:2], min_side=max(fake.shape[:2])) for _ in range(max(1, candidates))]
    return min(draws, key=lambda im: abs(_sharpness(im) - target))


_SIGMA_CACHE: dict[str, float] = {}
_SIGMAS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)


def _match_sharpness(real: np.ndarray, fake: np.ndarray, key: str) -> np.ndarray:
    """Blur a simulated fake's source crop just enough to be as sharp as the fake: the decoders
    lose a little fine detail (~34 dB PSNR), and "blurrier = fake" must not be learnable. The
    remaining difference is the up-sampling trace. The sigma is found once per pair."""
    if key not in _SIGMA_CACHE:
        target = _sharpness(fake)
        _SIGMA_CACHE[key] = min(_SIGMAS, key=lambda sg: abs(_sharpness(gaussian_blur(real, sg)) - target))
    return gaussian_blur(real, _SIGMA_CACHE[key])


def _center(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = min(size, h) // 2 * 2, min(size, w) // 2 * 2
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y:y + ch, x:x + cw]


class UnitSampler:
    """Balanced draws: a group (generator) uniformly, then a unit of it; each unit gives one
    real and one fake, so both classes and every generator weigh the same."""

    def __init__(self, units: list[Unit]):
        self.groups: dict[str, list[Unit]] = {}
        for u in units:
            self.groups.setdefault(u.group, []).append(u)
        self.names = sorted(self.groups)

    def draw(self, rng: np.random.Generator) -> Unit:
        group = self.groups[self.names[int(rng.integers(len(self.names)))]]
        return group[int(rng.integers(len(group)))]


# ------------------------------------------------------------------ model I/O


def _tensor(arrays: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays))


def scores_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """P(generated): sigmoid of one logit, or softmax class 1 of two."""
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0])
    return torch.softmax(logits, 1)[:, 1]


def save_optimizer(opt: torch.optim.Optimizer, path: Path) -> None:
    sd = opt.state_dict()
    tensors = {f"{i}.{k}": (v.cpu() if torch.is_tensor(v) else torch.tensor(v)).contiguous()
               for i, st in sd["state"].items() for k, v in st.items()}
    save_file(tensors, str(path), metadata={"param_groups": json.dumps(sd["param_groups"])})


def load_optimizer(opt: torch.optim.Optimizer, path: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        groups = json.loads(fh.metadata()["param_groups"])
        state: dict = {}
        for key in fh.keys():
            i, name = key.split(".", 1)
            state.setdefault(int(i), {})[name] = fh.get_tensor(key)
    opt.load_state_dict({"state": state, "param_groups": groups})


# ------------------------------------------------------------------ the loop


def _lr(cfg: dict, step: int) -> float:
    t = cfg["train"]
    if step < t["warmup"]:
        return t["lr"] * (step + 1) / t["warmup"]
    progress = (step - t["warmup"]) / max(1, t["steps"] - t["warmup"])
    return t["lr"] * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _val_set(units: list[Unit], cache: ImageCache, cfg: dict) -> tuple[list, list[int], list[str]]:
    """A fixed validation set (seeded processing, centre crops), built once."""
    images, labels, groups = [], [], []
    seed = cfg["train"]["seed"]
    for i, unit in enumerate(units):
        rng = np.random.default_rng([seed, 1_000_000 + i])
        real, fake = unit_images(unit, cache, cfg, rng, crop=None, train=False)
        for img, label in ((real, 0), (fake, 1)):
            images.append(get_method(cfg["family"]).prepare(_center(img, cfg["data"]["val_crop"]), cfg["input"]))
            labels.append(label)
            groups.append(unit.group)
    return images, labels, groups


def cpu_state(net: torch.nn.Module) -> dict:
    """The weights as CPU tensors (what safetensors files hold, whatever the training device)."""
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}


def _to(x, device: torch.device):
    return tuple(v.to(device) for v in x) if isinstance(x, tuple) else x.to(device)


@torch.no_grad()
def predict(net: torch.nn.Module, inputs: list[np.ndarray], batch: int = 32) -> np.ndarray:
    """Scores for a list of C x H x W inputs, batched by shape, on the network's device."""
    net.eval()
    device = next(net.parameters()).device
    scores = np.zeros(len(inputs), dtype=np.float64)
    by_shape: dict[tuple, list[int]] = {}
    for i, x in enumerate(inputs):
        by_shape.setdefault(x.shape, []).append(i)
    for idx in by_shape.values():
        for j in range(0, len(idx), batch):
            chunk = idx[j:j + batch]
            scores[chunk] = scores_from_logits(net(_tensor([inputs[k] for k in chunk]).to(device))).float().cpu().numpy()
    return scores


def _validate(net, val, cfg) -> dict:
    """Metrics of the validation set; under torchrun each rank scores its share and the
    scores are gathered back in order, so the metrics are one process's."""
    images, labels, groups = val
    world = current_world()
    scores = world.gather(predict(net, images[world.shard(len(images))]), len(images))
    y = np.array(labels)
    out = image_metrics(y, scores, 0.5)
    out["per_group_ap"] = {}
    for g in sorted(set(groups)):
        sel = np.array([gg == g for gg in groups])
        out["per_group_ap"][g] = image_metrics(y[sel], scores[sel], 0.5)["ap"]
    out["_scores"] = scores
    return out


def check_shortcuts(sampler: UnitSampler, cache: ImageCache, cfg: dict, n_units: int = 600) -> dict:
    """Simple statistics of training inputs exactly as the network gets them."""
    from forenscope.evaluate.shortcuts import image_features, shortcut_report

    rng = np.random.default_rng([cfg["train"]["seed"], 2**31])
    feats, labels = [], []
    for _ in range(n_units):
        infos: list = []
        unit = sampler.draw(rng)
        images = unit_images(unit, cache, cfg, rng, crop=cfg["data"]["train_crop"], train=True, infos=infos)
        for img, info, label, ref in zip(images, infos, (0, 1), (unit.real, unit.fake)):
            # on the crops the network is trained on; size: of the image the crop came from
            size = cache.get(ref if ref.kind != "photo" else unit.fake).shape[:2]  # photo crops match the fake
            feats.append(image_features(img, info["jpeg_quality"], size=size))
            labels.append(label)
    return shortcut_report(np.array(feats), np.array(labels))


def data_manifest(units: list[Unit], data: Path, base: Path, splits=("train", "val")) -> str:
    """:func:`manifest_hash` (content SHA-256 per file) over every file the units read, a zip
    counted once, plus the real photos of ``splits`` that photo references draw from."""
    files = {Path(r.where.split("!", 1)[0]) for u in units for r in (u.real, u.fake) if r.kind != "photo"}
    if any(u.real.kind == "photo" for u in units):
        files |= {p for key, p in real_photos(data) if split_of(key) in splits}
    return manifest_hash(sorted(files), base)


def open_run(cfg: dict, out: Path, net, opt, log: Log, restart: bool = False) -> dict:
    """Prepare ``out`` (``restart`` discards a previous run) and return the run's state: fresh,
    or that of the run already there, whose weights and optimiser are loaded into ``net`` and
    ``opt`` (it must come from the same config)."""
    world = current_world()
    torch.set_num_threads(cfg["train"]["threads"] or max(1, (os.cpu_count() or 1) // world.size))
    out.mkdir(parents=True, exist_ok=True)
    if restart and world.main:
        for f in ("state.json", "last.safetensors", "last-optim.safetensors", "best.safetensors"):
            (out / f).unlink(missing_ok=True)
    world.barrier()
    chash = config_hash(cfg)
    state_path = out / "state.json"
    if not (state_path.is_file() and (out / "last.safetensors").is_file()):
        return {"step": 0, "best": None, "history": [], "config_hash": chash, "seconds": 0.0}
    state = json.loads(state_path.read_text())
    if state.get("config_hash") != chash:
        raise ValueError(f"{out} holds a run of a different config; use --restart or another --out")
    net.load_state_dict(load_file(out / "last.safetensors"))
    load_optimizer(opt, out / "last-optim.safetensors")
    log(f"resuming at step {state['step']}")
    return state


def run_steps(cfg: dict, out: Path, net, opt, state: dict, make_batch: Callable, loss_fn: Callable,
              checkpoint: Callable, log: Log, stop_after: int | None = None) -> dict | None:
    """The seeded step loop both trainers share: batch ``step`` comes from
    ``make_batch(default_rng([seed, step]))`` with torch reseeded per step (so a resumed run
    equals an uninterrupted one); ``checkpoint(state, step, elapsed)`` validates and saves every
    ``val_every`` steps, at the end, when the time budget runs out and at ``stop_after`` (then
    None is returned: an interruption, for tests). Returns the final state."""
    t = cfg["train"]
    world = current_world()
    model = world.wrap(net)  # under torchrun: DDP, each rank on its share of every batch
    device = next(net.parameters()).device
    amp = bool(t.get("amp", True)) and device.type == "cuda"  # float16 autocast + loss scaling on GPUs
    scaler = torch.amp.GradScaler("cuda") if amp else None
    state["hardware"] = {"device": device.type, "world_size": world.size, "amp": amp}  # recorded in the card
    t0, seen, budget = time.time(), 0, t["max_minutes"] * 60
    step = state["step"]
    while step < t["steps"]:
        rng = np.random.default_rng([t["seed"], step])
        torch.manual_seed(t["seed"] * 1_000_003 + step)
        x, y = make_batch(rng)
        if world.size > 1:
            part = world.shard(len(y))
            share = len(y[part]) * world.size / len(y)  # DDP averages over ranks: weight by share
            x, y = (tuple(v[part] for v in x) if isinstance(x, tuple) else x[part]), y[part]
        else:
            share = 1.0
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        model.train()
        x, y = _to(x, device), y.to(device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            loss = loss_fn(model(*x) if isinstance(x, tuple) else model(x), y) * share  # tuple: several inputs
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        step += 1
        seen += len(x[0] if isinstance(x, tuple) else x) * world.size
        if step % 25 == 0 and world.main:
            rate = seen / (time.time() - t0)
            eta = (t["steps"] - step) * t["batch"] / max(rate, 1e-9)
            log(f"step {step}/{t['steps']} loss {loss.item() / share:.4f} {rate:.1f} img/s, ETA {eta / 60:.1f} min")
        out_of_time = world.any(state["seconds"] + time.time() - t0 > budget)
        if step % t["val_every"] == 0 or step == t["steps"] or out_of_time or step == stop_after:
            state = checkpoint(state, step, time.time() - t0)
            t0, seen = time.time(), 0
            if out_of_time:
                log(f"time budget of {t['max_minutes']} min reached at step {step}")
                state["stopped_early"] = True
                break
            if step == stop_after:
                return None
    if world.main:
        (out / "state.json").write_text(json.dumps(state, indent=1))
    world.barrier()
    return state


def train(cfg: dict, out: Path, data: Path, base: Path, log: Log = print, restart: bool = False,
          stop_after: int | None = None) -> dict | None:
    """Train (or resume) into ``out``; returns the card written to ``out/card.json``.
    ``stop_after``: checkpoint and return None at that step (an interruption, for tests).
    Under torchrun, every rank calls this; see :mod:`forenscope.train.distributed`."""
    t = cfg["train"]
    if not current_world().main:
        log = lambda m: None  # noqa: E731  (rank 0 speaks for all)
    units = {s: [u for spec in cfg["data"]["sources"] for u in build_units(spec, s, data, base)]
             for s in ("train", "val")}
    for split, us in units.items():
        if not us:
            raise ValueError(f"no {split} units from the configured sources")
    sampler = UnitSampler(units["train"])
    log(f"train units {len(units['train'])}, val units {len(units['val'])}; groups {', '.join(sampler.names)}")
    caches = {s: ImageCache(data, s, cfg["data"]["photo_long_side"], cfg["data"]["min_side"]) for s in ("train", "val")}

    torch.manual_seed(t["seed"])
    world = current_world()
    method = get_method(cfg["family"])
    net = method.build(cfg["network"]).to(world.device)
    opt = torch.optim.AdamW(net.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    state = open_run(cfg, out, net, opt, log, restart)

    if state["step"] == 0 and world.main:
        report = check_shortcuts(sampler, caches["train"], cfg)
        (out / "shortcuts.json").write_text(json.dumps(report, indent=2) + "\n")
        verdict = "passes" if report["passes"] else "FAILS"
        log(f"shortcut check {verdict}: simple statistics separate the training classes with AUC "
            f"{report['logistic_regression_cv_auc']} (logistic regression, 5-fold), single features "
            f"{report['single_feature_auc']}")
    log("building the validation set")
    val = _val_set(units["val"], caches["val"], cfg)

    def make_batch(rng):
        xs, ys = [], []
        for _ in range(t["batch"] // 2):
            real, fake = unit_images(sampler.draw(rng), caches["train"], cfg, rng,
                                     crop=cfg["data"]["train_crop"], train=True)
            xs += [method.prepare(real, cfg["input"]), method.prepare(fake, cfg["input"])]
            ys += [0, 1]
        return _tensor(xs), torch.tensor(ys)

    state = run_steps(cfg, out, net, opt, state, make_batch, lambda logits, y: method.loss(logits, y, cfg),
                      lambda st, step, elapsed: _checkpoint(net, opt, val, cfg, out, st, step, elapsed, log),
                      log, stop_after)
    if state is None:
        return None
    return finish(cfg, out, val, units, state, log, data, base)


def _checkpoint(net, opt, val, cfg, out: Path, state: dict, step: int, elapsed: float, log: Log) -> dict:
    metrics = _validate(net, val, cfg)
    metrics.pop("_scores")
    record = {"step": step, "val_ap": metrics["ap"], "val_acc": metrics["acc"],
              "val_roc_auc": metrics["roc_auc"], "per_group_ap": metrics["per_group_ap"]}
    best = state["best"]
    save_checkpoint(net, opt, out, state, record, elapsed,
                    best is None or (metrics["ap"], metrics["acc"]) > (best["val_ap"], best["val_acc"]))
    log(f"validation at step {step}: AP {metrics['ap']:.4f} acc@0.5 {metrics['acc']:.4f} "
        f"(best AP {state['best']['val_ap']:.4f} at step {state['best']['step']})")
    return state


def save_checkpoint(net, opt, out: Path, state: dict, record: dict, elapsed: float, better: bool) -> None:
    """last (+ optimiser) and, when ``better``, best weights; state.json and log.jsonl."""
    state["history"].append(record)
    state["seconds"] = state.get("seconds", 0.0) + elapsed
    if better:
        state["best"] = record
    state["step"] = record["step"]
    world = current_world()
    if world.main:  # every rank holds the same weights and state; one writes them
        save_file(cpu_state(net), str(out / "last.safetensors"))
        save_optimizer(opt, out / "last-optim.safetensors")
        if better:
            shutil.copyfile(out / "last.safetensors", out / "best.safetensors")
        (out / "state.json").write_text(json.dumps(state, indent=1))
        with open(out / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    world.barrier()


def model_card(net, cfg: dict, state: dict, out: Path, *, task: str, threshold: float, threshold_note: str,
               counts: dict, data_sha256: str) -> dict:
    """Write model.safetensors; the card fields every trained detector shares."""
    save_file(cpu_state(net), str(out / "model.safetensors"))
    return {
        "name": cfg["name"], "family": cfg["family"], "task": task,
        "network": cfg["network"], "input": cfg["input"],
        "threshold": threshold, "threshold_note": threshold_note,
        **{k: cfg[k] for k in ("status", "status_note") if cfg.get(k)},  # e.g. "research reproduction"
        "parameters": sum(p.numel() for p in net.parameters()),
        "weights_sha256": hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest(),
        "training": {"config": cfg, "config_hash": state["config_hash"], "best_step": state["best"]["step"],
                     "steps_run": state["step"], "stopped_early": state.get("stopped_early", False),
                     "train_seconds": round(state.get("seconds", 0.0)), **counts,
                     "data_manifest_sha256": data_sha256, "hardware": state.get("hardware")},
    }


def finish(cfg: dict, out: Path, val, units: dict, state: dict, log: Log, data: Path, base: Path) -> dict:
    """Best checkpoint -> model.safetensors; threshold at the target FPR on validation reals."""
    from forenscope.records import environment, git_commit

    net = get_method(cfg["family"]).build(cfg["network"])
    net.load_state_dict(load_file(out / "best.safetensors"))
    metrics = _validate(net, val, cfg)
    scores = metrics.pop("_scores")
    y = np.array(val[1])
    target = cfg["calibration"]["target_fpr"]
    threshold = float(threshold_at_fpr(y, scores, target))
    calibrated = image_metrics(y, scores, threshold)
    world = current_world()
    if not world.main:  # rank 0 writes the model and the card
        world.barrier()
        return json.loads((out / "card.json").read_text())
    card = model_card(net, cfg, state, out, task="generated", threshold=threshold,
                      threshold_note=f"flags {target:.0%} of the validation real images (calibrated, not 0.5)",
                      counts={"train_units": len(units["train"]), "val_units": len(units["val"])},
                      data_sha256=data_manifest(units["train"] + units["val"], data, base))
    card |= {
        "shortcut_check": json.loads((out / "shortcuts.json").read_text()) if (out / "shortcuts.json").is_file() else None,
        "metrics": {"validation": {k: calibrated[k] for k in ("acc", "real_acc", "fake_acc", "ap", "roc_auc")}
                    | {"acc_at_0.5": metrics["acc"]}},
        "git": git_commit(), "environment": environment(),
        "licence": "Apache-2.0",
        "training_data_terms": "see the sources in training.config and ../shared/data/README.md (research use with citation)",
    }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    current_world().barrier()
    log(f"best step {state['best']['step']}: validation AP {calibrated['ap']:.4f}, threshold {threshold:.4f} "
        f"(acc {calibrated['acc']:.4f}, real acc {calibrated['real_acc']:.4f}, fake acc {calibrated['fake_acc']:.4f})")
    return card
