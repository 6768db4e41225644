"""Training the 3-class triage model (authentic / tampered / generated) of "No one can escape"
on what can be had here: the authentic and tampered images of ``forenscope synth forgeries``
(split by source photo) and real generator outputs from ``../shared/data/generated_train``
(split by prompt).

The forgeries are resized and JPEG-compressed by their recipe; generated images are lossless
256x256 WebP. Left so, a model learns the format. So every generated image goes through the
same post-processing as the forgeries (``generated_variants`` seeded copies of each training
image, one of each validation / test image), and the co-occurrence input is normalised so the
image size does not leak (``input.norm``).

Inputs are computed once per item (a few thousand co-occurrence tensors) and batches hold one
third of each class. Seeded and resumable through ``train.engine``; best checkpoint on the
validation macro-F1 (the original chose it on the test set).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file

from forenscope.data.datasets import manifest_hash
from forenscope.data.sources import generated_files
from forenscope.data.splits import split_of
from forenscope.evaluate.metrics import multiclass_metrics
from forenscope.imageio import read_image
from forenscope.methods import get_method
from forenscope.methods.cooc3 import CLASSES
from forenscope.train.engine import model_card, open_run, run_steps, save_checkpoint
from forenscope.records import write_card

Log = Callable[[str], None]

@dataclass(frozen=True)
class Item:
    path: Path
    label: int
    group: str          # forgery kind, generator name or "authentic-extra"
    variant: int = -1   # >= 0: processed copy number (of a generated image or a real photo)
    long_side: int = 0  # > 0: shrink to this long side first (real photos, as the forgeries were)
    dihedral: int = 0   # 0-7: rotate by 90 degrees dihedral % 4 times, mirror when >= 4 (augmentation)


def forgery_items(forgeries: Path, split: str, tampered_kinds: list[str]) -> list[Item]:
    from forenscope.data.forgeries import read_rows

    rows = read_rows(forgeries, split, tampered_kinds, authentic=True)
    return [Item(r["image"], 0 if r["mask"] is None else 1, r["kind"]) for r in rows]


def generated_items(data: Path, split: str, generators: list[str], variants: int) -> list[Item]:
    """Split by prompt, as the generated-image detectors are (``split="all"``: every prompt)."""
    out = []
    for gen in generators:
        for path, prompt in generated_files(data, gen):
            if split == "all" or split_of(f"{gen}/{prompt}") == split:
                out += [Item(path, 2, gen, v) for v in range(variants)]
    return out


def extra_authentic_items(data: Path, split: str, variants: int, long_side: int) -> list[Item]:
    """Processed copies of the split's real photos: the forgeries hold one authentic image per
    photo but several tampered ones."""
    from forenscope.data.splits import real_photos

    if variants <= 0:
        return []
    return [Item(path, 0, "authentic-extra", v, long_side) for key, path in real_photos(data)
            if split_of(key) == split for v in range(variants)]


CVIP_FOLDER = "copymove_cvip"


def cvip_items(data: Path, half: str, variants: int = 1) -> list[Item]:
    """CVIP copy-moves (tampered) and the originals it ships (authentic), in halves by image
    number (``odd`` / ``even`` / ``all``): forgery imN_t of N <= 10 is made from original imN,
    so each half holds five originals and 25 forgeries, none shared. ``variants`` > 1: the
    dihedral transforms of each image (rotations and mirrors; at most 8)."""
    root = Path(data) / CVIP_FOLDER
    if not (root / "forged").is_dir():
        raise FileNotFoundError(f"{root / 'forged'} not found (../shared/data/copymove_cvip)")
    if half not in ("odd", "even", "all"):
        raise ValueError(f"CVIP half must be odd, even or all, got {half!r}")

    def number(p: Path) -> int:
        return int(p.stem.split("_")[0][2:])

    keep = {"odd": lambda n: n % 2 == 1, "even": lambda n: n % 2 == 0, "all": lambda n: True}[half]
    rows = [(p, 0, "cvip-original") for p in sorted((root / "original").glob("im*.png"))]
    rows += [(p, 1, "cvip-copymove") for p in sorted((root / "forged").glob("im*_t.png"))]
    return [Item(p, label, group, dihedral=d) for p, label, group in rows if keep(number(p))
            for d in range(min(8, max(1, variants)))]


def forgery_post_processing(forgeries: Path):
    """The resize / JPEG recipe the forgeries were made with (their forgeries.json)."""
    from forenscope.synth.forgeries import ForgeryConfig

    report = Path(forgeries) / "forgeries.json"
    if not report.is_file():
        raise FileNotFoundError(f"{report} not found: run `forenscope synth forgeries --out {forgeries}` first")
    meta = json.loads(report.read_text())["config"]
    keep = {k: (tuple(v) if isinstance(v, list) else v) for k, v in meta.items()
            if k in ("resize_prob", "jpeg", "jpeg_quality", "min_side", "long_side")}
    return ForgeryConfig(**keep)


def item_pixels(item: Item, post, seed: int) -> np.ndarray:
    """RGB of an item; a generated image processed as the forgeries were (seeded by its path
    and variant, so the same item is always the same pixels)."""
    from forenscope.synth.inputs import sample_seed
    from forenscope.synth.forgeries import post_process

    from forenscope.data.augment import fit_long_side

    rgb, _ = read_image(item.path)
    if item.long_side:
        rgb = fit_long_side(rgb, item.long_side)
    if item.dihedral:
        rgb = np.rot90(rgb, item.dihedral % 4)
        rgb = np.ascontiguousarray(rgb[:, ::-1] if item.dihedral >= 4 else rgb)
    if item.variant < 0:
        return rgb
    rng = np.random.default_rng(sample_seed(seed, item.path.name, "triage", item.variant))
    return post_process(rgb, None, rng, post)[0]


def build_inputs(items: list[Item], cfg: dict, post, log: Log, what: str) -> np.ndarray:
    inp, method = cfg["input"], get_method(cfg["family"])
    out = np.zeros((len(items), 8, inp["levels"], inp["levels"]), np.float32)
    for i, item in enumerate(items):
        out[i] = method.prepare(item_pixels(item, post, cfg["train"]["seed"]), inp)
        if (i + 1) % 500 == 0:
            log(f"{what}: {i + 1}/{len(items)} co-occurrence inputs")
    return out


def _cap(items: list[Item], cap: int, rng: np.random.Generator) -> list[Item]:
    by_class = [[it for it in items if it.label == c] for c in range(len(CLASSES))]
    out = []
    for group in by_class:
        if cap and len(group) > cap:
            group = [group[i] for i in sorted(rng.choice(len(group), cap, replace=False))]
        out += group
    return out


def triage_sets(cfg: dict, data: Path, log: Log = print) -> dict:
    """{split: (items, inputs)} for train and val."""
    d = cfg["data"]
    post = forgery_post_processing(d["forgeries"])
    rng = np.random.default_rng([cfg["train"]["seed"], 11])
    sets = {}
    for split in ("train", "val"):
        items = forgery_items(Path(d["forgeries"]), split, d["tampered_kinds"])
        items += generated_items(data, split, d["generated"], d["generated_variants"] if split == "train" else 1)
        if split == "train":
            items += extra_authentic_items(data, split, d["authentic_variants"], post.long_side)
        items = _cap(items, d["max_per_class"], rng)
        counts = np.bincount([it.label for it in items], minlength=3)
        if np.count_nonzero(counts) < 2:
            raise ValueError(f"{split}: images of fewer than two classes ({', '.join(f'{n} {c}' for c, n in zip(CLASSES, counts))})")
        log(f"{split}: " + ", ".join(f"{n} {c}" for c, n in zip(CLASSES, counts)))
        sets[split] = (items, build_inputs(items, cfg, post, log, split))
    return sets


@torch.no_grad()
def predict_classes(net, inputs: np.ndarray, batch: int = 64) -> np.ndarray:
    """(N, 3) class probabilities."""
    net.eval()
    out = [torch.softmax(net(torch.from_numpy(inputs[i:i + batch])), 1).numpy() for i in range(0, len(inputs), batch)]
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def trained_classes(card: dict) -> np.ndarray:
    """(3,) bool: the classes a model saw in training (Case 2 trains two); predictions never
    name the others."""
    return np.array([card["training"].get(f"train_{c}", 1) > 0 for c in CLASSES])


def evaluate_triage(net, items: list[Item], inputs: np.ndarray, allowed: np.ndarray | None = None) -> dict:
    probs = predict_classes(net, inputs)
    pred = (probs if allowed is None else np.where(allowed, probs, -np.inf)).argmax(1)
    y = np.array([it.label for it in items])
    m = multiclass_metrics(y, pred, CLASSES)
    groups = sorted({it.group for it in items})
    m["recall_per_group"] = {g: float(np.mean([p == t for p, t, it in zip(pred, y, items) if it.group == g]))
                             for g in groups}
    return m


def make_batch(train: tuple, cfg: dict, rng: np.random.Generator):
    """Equal shares of each class present."""
    items, inputs = train
    by_class = [c for c in (np.flatnonzero([it.label == k for it in items]) for k in range(len(CLASSES))) if len(c)]
    n = len(by_class)
    idx = [int(by_class[k % n][rng.integers(len(by_class[k % n]))]) for k in range(cfg["train"]["batch"])]
    return torch.from_numpy(inputs[idx]), torch.tensor([items[i].label for i in idx])


def train_triage(cfg: dict, out: Path, data: Path, log: Log = print, restart: bool = False,
                 stop_after: int | None = None) -> dict | None:
    from forenscope.train.distributed import current_world

    if current_world().size > 1:
        raise ValueError("several processes (torchrun) train only task 'generated' configs so far; run this one in one process")
    t = cfg["train"]
    sets = triage_sets(cfg, data, log)
    torch.manual_seed(t["seed"])
    net = get_method(cfg["family"]).build(cfg["network"])
    opt = torch.optim.Adam(net.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    state = open_run(cfg, out, net, opt, log, restart)

    allowed = np.isin(np.arange(len(CLASSES)), [it.label for it in sets["train"][0]])

    def checkpoint(st, step, elapsed):
        m = evaluate_triage(net, *sets["val"], allowed)
        record = {"step": step, "macro_f1": m["macro_f1"], "recall": m["recall"]}
        better = st["best"] is None or record["macro_f1"] > st["best"]["macro_f1"]
        save_checkpoint(net, opt, out, st, record, elapsed, better)
        log(f"validation at step {step}: macro-F1 {m['macro_f1']:.4f}, recall "
            + ", ".join(f"{c} {r:.3f}" for c, r in m["recall"].items()))
        return st

    state = run_steps(cfg, out, net, opt, state, lambda rng: make_batch(sets["train"], cfg, rng), lambda logits, y: get_method(cfg["family"]).loss(logits, y, cfg),
                      checkpoint, log, stop_after)
    if state is None:
        return None
    return _finish(cfg, out, state, sets, allowed, log)


def _finish(cfg: dict, out: Path, state: dict, sets: dict, allowed: np.ndarray, log: Log) -> dict:
    from forenscope.records import environment, git_commit

    net = get_method(cfg["family"]).build(cfg["network"])
    net.load_state_dict(load_file(out / "best.safetensors"))
    m = evaluate_triage(net, *sets["val"], allowed)
    files = [it.path for s in sets.values() for it in s[0]]
    card = model_card(net, cfg, state, out, task="triage", threshold=0.5,
                      threshold_note="label = the most probable class; score = 1 - P(authentic)",
                      counts={f"{s}_{c}": int(sum(it.label == k for it in sets[s][0]))
                              for s in sets for k, c in enumerate(CLASSES)},
                      data_sha256=manifest_hash(files, Path(cfg["data"]["forgeries"]).resolve().parent))
    card |= {
        "classes": list(CLASSES),
        "metrics": {"validation": {k: m[k] for k in ("macro_f1", "balanced_accuracy", "accuracy", "recall",
                                                      "precision_balanced", "recall_per_group", "confusion")}},
        "git": git_commit(), "environment": environment(), "licence": "Apache-2.0",
        "training_data_terms": "synthetic forgeries from ../shared/data/real and generated_train images "
                               "(research use with citation; see ../shared/data/README.md)",
    }
    write_card(out / "card.json", card)
    log(f"best step {state['best']['step']}: validation macro-F1 {m['macro_f1']:.4f}")
    return card


def finetune_triage(cfg: dict, init: Path, items: list[Item], settings: dict, out: Path, data: Path,
                    log: Log = print) -> dict:
    """Fine-tune the model in ``init`` (a finished triage run) on ``items`` for
    ``settings["steps"]`` steps at ``settings["lr"]`` with balanced batches, no model selection
    (too few images for a validation split): the last weights are the result. Resumable; a
    finished run with the same config is reused. Returns the fine-tune card."""
    import copy
    import hashlib

    from forenscope.records import git_commit

    init_weights = Path(init) / "model.safetensors"
    ft = copy.deepcopy(cfg)
    ft["finetune"] = {"init_sha256": hashlib.sha256(init_weights.read_bytes()).hexdigest(),
                      "items": manifest_hash([it.path for it in items], Path(data).resolve().parent),
                      "n_items": len(items), **settings}
    ft["train"] |= {"steps": settings["steps"], "lr": settings["lr"], "batch": settings.get("batch", cfg["train"]["batch"]),
                    "warmup": settings.get("warmup", 20), "val_every": settings["steps"], "max_minutes": settings.get("max_minutes", 20)}
    card_file = Path(out) / "card.json"
    if card_file.is_file() and json.loads(card_file.read_text()).get("training", {}).get("config") == ft:
        log(f"reusing the fine-tuned model in {out}")
        return json.loads(card_file.read_text())
    post = forgery_post_processing(cfg["data"]["forgeries"])
    train = (items, build_inputs(items, cfg, post, log, "fine-tune"))
    torch.manual_seed(ft["train"]["seed"])
    net = get_method(cfg["family"]).build(cfg["network"])
    net.load_state_dict(load_file(init_weights))
    opt = torch.optim.Adam(net.parameters(), lr=ft["train"]["lr"], weight_decay=ft["train"]["weight_decay"])
    state = open_run(ft, Path(out), net, opt, log)

    def checkpoint(st, step, elapsed):
        save_checkpoint(net, opt, Path(out), st, {"step": step}, elapsed, better=True)
        return st

    state = run_steps(ft, Path(out), net, opt, state, lambda rng: make_batch(train, ft, rng),
                      lambda logits, y: get_method(cfg["family"]).loss(logits, y, cfg), checkpoint, log)
    net.load_state_dict(load_file(Path(out) / "last.safetensors"))
    card = model_card(net, ft, state, Path(out), task="triage", threshold=0.5,
                      threshold_note="label = the most probable class; score = 1 - P(authentic)",
                      counts={f"train_{c}": int(sum(it.label == k for it in items)) for k, c in enumerate(CLASSES)},
                      data_sha256=ft["finetune"]["items"])
    # the classes the model can name: those of pretraining (fine-tuning on two keeps the third)
    init_card = json.loads((Path(init) / "card.json").read_text())
    for c in CLASSES:
        card["training"][f"train_{c}"] += init_card["training"].get(f"train_{c}", 0)
    card |= {"classes": list(CLASSES), "metrics": {}, "git": git_commit()}
    write_card(card_file, card)
    log(f"fine-tuned {len(items)} items for {state['step']} steps")
    return card
