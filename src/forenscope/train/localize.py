"""Training loop for pixel localisers on synthetic forgeries (``forenscope synth forgeries``):
seeded, resumable, best checkpoint on validation pixel F1, image threshold calibrated on the
validation authentic images.

Batch ``step`` draws from ``default_rng([seed, step])`` and torch is reseeded per step, so a
run killed and resumed makes the same batches as an uninterrupted one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file

from forenscope.data.augment import add_noise
from forenscope.data.datasets import manifest_hash
from forenscope.methods import get_method
from forenscope.methods.image_head import (HEAD_STATISTICS, MAP_STATISTICS, head_probability, image_score,
                                           map_statistics)
from forenscope.evaluate.metrics import image_metrics, pixel_auc, pixel_f1_at, threshold_at_fpr
from forenscope.data.forgeries import PairCache, read_rows
from forenscope.train.engine import model_card, open_run, run_steps, save_checkpoint
from forenscope.records import write_card

Log = Callable[[str], None]


# ------------------------------------------------------------------ data

# data.mask_padding -> how the mask of an image smaller than the crop is padded (its pixels are mirrored)
MASK_PADDING = {"zero": "constant", "reflect": "reflect"}


def sample_crop(rgb: np.ndarray, mask: np.ndarray, size: int, rng: np.random.Generator,
                positive: float, mask_padding: str = "zero") -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` crop; with probability ``positive`` centred near a manipulated pixel. Images
    smaller than ``size`` are padded by reflection; ``mask_padding`` "reflect" mirrors the mask
    with them, "zero" pads it authentic (the shipped weights' recipe)."""
    h, w = mask.shape
    if h < size or w < size:
        py, px = max(0, size - h), max(0, size - w)
        rgb = np.pad(rgb, ((0, py), (0, px), (0, 0)), mode="reflect")
        mask = np.pad(mask, ((0, py), (0, px)), mode=MASK_PADDING[mask_padding])
        h, w = mask.shape
    if mask.any() and rng.random() < positive:
        ys, xs = np.nonzero(mask)
        i = int(rng.integers(len(ys)))
        y = int(np.clip(ys[i] - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, h - size))
        x = int(np.clip(xs[i] - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, w - size))
    else:
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return rgb[y:y + size, x:x + size], mask[y:y + size, x:x + size]


def make_batch(rows: list[dict], cache: PairCache, cfg: dict, rng: np.random.Generator):
    d = cfg["data"]
    method = get_method(cfg["family"])
    size = method.fixed_tile or d["crop"]
    crops, ms = [], []
    for _ in range(cfg["train"]["batch"]):
        rgb, mask = cache.get(rows[int(rng.integers(len(rows)))])
        rgb, mask = sample_crop(rgb, mask, size, rng, d["positive_fraction"], d["mask_padding"])
        if rng.random() < 0.5:
            rgb, mask = rgb[:, ::-1], mask[:, ::-1]
        if rng.random() < 0.5:
            rgb, mask = rgb[::-1], mask[::-1]
        noise = cfg.get("augment", {})
        if noise.get("noise_prob") and rng.random() < noise["noise_prob"]:
            rgb = add_noise(rgb, noise["noise_sigma"], rng)[0]
        crops.append(rgb)
        ms.append(mask[None].astype(np.float32))
    return method.batch(crops, cfg["input"]), torch.from_numpy(np.stack(ms))


def validate(net, family: str, rows: list[dict], cache: PairCache, tile: int, statistics: bool = False) -> dict:
    """Validation metrics; ``statistics``: also each map's ``map_statistics`` (``_stats``), which
    only the final image head needs, not every checkpoint."""
    f1s, aucs, scores, labels, stats = [], [], [], [], []
    for r in rows:
        rgb, mask = cache.get(r)
        prob = get_method(family).predict_map(net, rgb, tile)
        scores.append(image_score(prob))
        if statistics:
            stats.append(map_statistics(prob))
        labels.append(int(mask.any()))
        if mask.any():
            f1s.append(pixel_f1_at(mask, prob))
            auc = pixel_auc(mask, prob)
            if auc is not None:
                aucs.append(auc)
    im = image_metrics(labels, scores, 0.5) if 0 < sum(labels) < len(labels) else {}
    return {"f1_mean_per_image": float(np.mean(f1s)) if f1s else 0.0,
            "auc_mean_per_image": float(np.mean(aucs)) if aucs else None,
            "image_roc_auc": im.get("roc_auc"), "_scores": np.array(scores), "_labels": np.array(labels),
            "_stats": np.array(stats)}


# ------------------------------------------------------------------ the image head

HEAD_L2_GRID = (1e-3, 1e-2, 1e-1, 1.0)


def fit_image_head(stats: np.ndarray, labels: np.ndarray, statistics=HEAD_STATISTICS, folds: int = 5,
                   seed: int = 0) -> tuple[dict, dict]:
    """A logistic image head on the named ``statistics`` of ``map_statistics`` rows (one per
    image; label 1 = tampered). Its L2 strength is the one with the best out-of-fold image ROC-AUC over
    ``folds`` stratified folds; the head is then fitted on every row. Returns the head (as
    stored in a card) and the out-of-fold AUC of each L2."""
    from forenscope.evaluate.metrics import roc_auc
    from forenscope.train.logistic import fit_logistic, out_of_fold_logits

    labels = np.asarray(labels).astype(int)
    folds = min(folds, int(labels.sum()), int((labels == 0).sum()))
    if folds < 2:
        raise ValueError("an image head needs at least two authentic and two tampered validation images")
    stats = np.asarray(stats)[:, [MAP_STATISTICS.index(n) for n in statistics]]
    cv = {l2: float(roc_auc(labels, out_of_fold_logits(stats, labels, l2, folds, seed))) for l2 in HEAD_L2_GRID}
    l2 = max(HEAD_L2_GRID, key=lambda v: (round(cv[v], 4), v))  # ties: the stronger prior
    m = fit_logistic(stats, labels, l2)
    head = {"statistics": list(statistics), "mean": m["mean"].tolist(), "scale": m["scale"].tolist(),
            "weight": m["weight"].tolist(), "bias": m["bias"], "l2": l2,
            "fitted_on": f"{int((labels == 0).sum())} authentic + {int(labels.sum())} tampered validation images"}
    return head, {str(k): v for k, v in cv.items()}


# ------------------------------------------------------------------ the loop

def forgery_folders(value) -> list[Path]:
    """``data.forgeries``: one folder of `forenscope synth forgeries` output, or a list of them
    (e.g. both recipes) whose rows are pooled, validation included."""
    folders = [value] if isinstance(value, (str, Path)) else list(value)
    if not folders:
        raise ValueError("data.forgeries names no folder")
    return [Path(f) for f in folders]


def common_root(folders: list[Path]) -> Path:
    """The folder the manifest's relative paths start from: the one folder, or the folders' common parent."""
    return folders[0] if len(folders) == 1 else Path(os.path.commonpath([f.resolve() for f in folders]))


def train_localizer(cfg: dict, out: Path, log: Log = print, restart: bool = False,
                    stop_after: int | None = None) -> dict | None:
    from forenscope.train.distributed import current_world

    if current_world().size > 1:
        raise ValueError("several processes (torchrun) train only task 'generated' configs so far; run this one in one process")
    t, d = cfg["train"], cfg["data"]
    if t["class_weights"] not in ("published", "balanced"):
        raise ValueError(f"train.class_weights must be 'published' or 'balanced', got {t['class_weights']!r}")
    if d["mask_padding"] not in MASK_PADDING:
        raise ValueError(f"data.mask_padding must be one of {', '.join(MASK_PADDING)}, got {d['mask_padding']!r}")
    if t["init"] and t["init_from"]:
        raise ValueError("set train.init (ImageNet encoder) or train.init_from (an earlier run's weights), not both")
    earlier = None
    if t["init_from"]:  # checked before any data is read
        from forenscope.train.pretrained import earlier_weights

        earlier = earlier_weights(t["init_from"], t["seed"])
    method = get_method(cfg["family"])
    if method.task != "localize":
        raise ValueError(f"family {cfg['family']!r} is not a localiser (its task is {method.task!r})")
    folders = forgery_folders(d["forgeries"])
    train_rows = [r for f in folders for r in read_rows(f, "train", d["kinds"], d["authentic"])]
    val_rows = [r for f in folders for r in read_rows(f, "val", d["val_kinds"] or d["kinds"], True)]
    rng = np.random.default_rng([t["seed"], 7])
    if len(val_rows) > d["max_val_images"]:
        val_rows = [val_rows[i] for i in sorted(rng.choice(len(val_rows), d["max_val_images"], replace=False))]
    if not train_rows or not val_rows:
        raise ValueError(f"no training or validation images for kinds {d['kinds']} in {', '.join(map(str, folders))}")
    log(f"{len(train_rows)} training images ({', '.join(d['kinds'] or ['all kinds'])}), {len(val_rows)} validation images")
    cache, val_cache = PairCache(), PairCache()

    torch.manual_seed(t["seed"])
    net = method.build(cfg["network"])
    if t["init"]:
        from forenscope.train.pretrained import initialise

        log(initialise(net, t["init"]))
    if earlier:
        from forenscope.train.pretrained import initialise_from_weights

        log(initialise_from_weights(net, earlier))
    opt = torch.optim.Adam(net.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    state = open_run(cfg, out, net, opt, log, restart)
    if earlier and state["step"] == 0:  # hashed now: the file may be replaced (a ship) before the run ends
        state["initialised_from"] = _initial_weights(cfg)
    state = run_steps(cfg, out, net, opt, state,
                      lambda rng: make_batch(train_rows, cache, cfg, rng),
                      lambda output, mask: method.loss(output, mask, cfg),
                      lambda st, step, elapsed: _checkpoint(net, opt, cfg, out, st, step, elapsed,
                                                            val_rows, val_cache, log),
                      log, stop_after)
    return None if state is None else _finish(cfg, out, state, train_rows, val_rows, val_cache, log)


def _checkpoint(net, opt, cfg, out, state, step, elapsed, val_rows, val_cache, log) -> dict:
    metrics = validate(net, cfg["family"], val_rows, val_cache, cfg["input"]["tile"])
    record = {"step": step, **{k: v for k, v in metrics.items() if not k.startswith("_")}}
    best = state["best"]
    save_checkpoint(net, opt, out, state, record, elapsed,
                    best is None or record["f1_mean_per_image"] > best["f1_mean_per_image"])
    auc = record["auc_mean_per_image"]
    log(f"validation at step {step}: pixel F1 {record['f1_mean_per_image']:.4f}, pixel AUC "
        f"{auc if auc is None else round(auc, 4)} (best F1 {state['best']['f1_mean_per_image']:.4f} "
        f"at step {state['best']['step']})")
    return state


def _initial_weights(cfg: dict) -> dict:
    """What ``init_from`` names now (runs begun before the state recorded it at their start)."""
    from forenscope.nets.weights import weights_sha256
    from forenscope.train.pretrained import earlier_weights

    earlier = earlier_weights(cfg["train"]["init_from"], cfg["train"]["seed"])
    return {"weights": str(earlier), "sha256": weights_sha256(earlier)}


def _finish(cfg, out, state, train_rows, val_rows, val_cache, log) -> dict:
    from forenscope.records import environment, git_commit

    net = get_method(cfg["family"]).build(cfg["network"])
    net.load_state_dict(load_file(out / "best.safetensors"))
    metrics = validate(net, cfg["family"], val_rows, val_cache, cfg["input"]["tile"], statistics=True)
    scores, labels, stats = metrics.pop("_scores"), metrics.pop("_labels"), metrics.pop("_stats")
    target = cfg["calibration"]["target_fpr"]
    both_classes = 0 < labels.sum() < len(labels)
    head, rule = None, "mean of the top 1% of the map"
    if cfg["calibration"]["image_head"] and min(labels.sum(), len(labels) - labels.sum()) >= 2:
        head, cv = fit_image_head(stats, labels, seed=cfg["train"]["seed"])
        scores, rule = head_probability(head, stats), "image head on map statistics"
        metrics |= {"image_roc_auc_top1pct": metrics["image_roc_auc"], "image_head_cv_roc_auc": cv,
                    "image_roc_auc": image_metrics(labels, scores, 0.5)["roc_auc"]}
    threshold = float(threshold_at_fpr(labels, scores, target)) if both_classes else 0.5
    files = [r["image"] for r in train_rows + val_rows] + [r["mask"] for r in train_rows + val_rows if r["mask"]]
    card = model_card(net, cfg, state, out, task="localize", threshold=threshold,
                      threshold_note=f"image score ({rule}) flagging {target:.0%} of validation authentic images",
                      counts={"train_images": len(train_rows), "val_images": len(val_rows)},
                      data_sha256=manifest_hash(files, common_root(forgery_folders(cfg["data"]["forgeries"]))))
    if cfg["train"]["init_from"]:
        card["training"]["initialised_from"] = state.get("initialised_from") or _initial_weights(cfg)
    card |= ({"image_head": head} if head else {}) | {
        "metrics": {"validation": {k: v for k, v in metrics.items()}},
        "git": git_commit(), "environment": environment(),
        "licence": "Apache-2.0",
        "training_data_terms": "synthetic forgeries made from ../shared/data/real (research use with citation; see its README)",
    }
    write_card(out / "card.json", card)
    log(f"best step {state['best']['step']}: validation pixel F1 {metrics['f1_mean_per_image']:.4f}, "
        f"image threshold {threshold:.4f}")
    return card
