"""The real-vs-generated trainer: balanced pairs (``train/pairs.py``) through the shared step
engine (``train/engine.py``), the best checkpoint chosen on validation, the threshold calibrated
on validation real images, a shortcut check of the training inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file

from forenscope.data.datasets import manifest_hash
from forenscope.data.sources import ImageCache, Unit, build_units
from forenscope.data.splits import real_photos, split_of
from forenscope.evaluate.metrics import image_metrics, threshold_at_fpr
from forenscope.methods import get_method
from forenscope.train.distributed import current_world
from forenscope.train.engine import model_card, open_run, run_steps, save_checkpoint
from forenscope.train.pairs import UnitSampler, center_crop, unit_images
from forenscope.records import write_card

Log = Callable[[str], None]


def _tensor(arrays: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays))


def scores_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """P(generated): sigmoid of one logit, or softmax class 1 of two."""
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0])
    return torch.softmax(logits, 1)[:, 1]


def val_set(units: list[Unit], cache: ImageCache, cfg: dict) -> tuple[list, list[int], list[str]]:
    """A fixed validation set (seeded processing, centre crops), built once."""
    images, labels, groups = [], [], []
    seed = cfg["train"]["seed"]
    for i, unit in enumerate(units):
        rng = np.random.default_rng([seed, 1_000_000 + i])
        real, fake = unit_images(unit, cache, cfg, rng, crop=None, train=False)
        for img, label in ((real, 0), (fake, 1)):
            images.append(get_method(cfg["family"]).prepare(center_crop(img, cfg["data"]["val_crop"]), cfg["input"]))
            labels.append(label)
            groups.append(unit.group)
    return images, labels, groups


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
    val = val_set(units["val"], caches["val"], cfg)

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
    write_card(out / "card.json", card)
    current_world().barrier()
    log(f"best step {state['best']['step']}: validation AP {calibrated['ap']:.4f}, threshold {threshold:.4f} "
        f"(acc {calibrated['acc']:.4f}, real acc {calibrated['real_acc']:.4f}, fake acc {calibrated['fake_acc']:.4f})")
    return card

