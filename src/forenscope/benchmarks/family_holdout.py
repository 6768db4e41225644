"""``forenscope benchmark generator-holdout``: leave-family-out over the real generator families.

Generator families are grouped by decoder (``data/families.py``) and the groups dealt into K
folds; each fold's families are held out in turn. For every fold and seed each method is fitted
on the other folds' fakes and the real TRAIN split, its hyperparameters are chosen by
leave-one-fold-out CV inside those training folds, its threshold flags 5 % of the real VAL
split, and it is scored on the held-out families against the real TEST split (never used to
choose anything). Seeds change the fold deal, the real split and the augmented views.

Rows: the lite-probe on several tap sets, the shipped npr and pelee-hpf as they are, a logistic
regression on simple image statistics (what a shortcut could reach), fusions, and the trivial
baselines. Headline per method: mean over left-out families of ROC-AUC, AP and fake recall at
the threshold, the test-real false-positive rate, and faces_dev (StyleGAN faces vs FFHQ, scored
by the fold model that never saw StyleGAN2); mean +- std over seeds.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from forenscope.benchmarks.family_report import headline, markdown, per_family, plot, summarise
from forenscope.benchmarks.pool_audit import cached_array, image_stats, items_key, pool_audit
from forenscope.data.families import Item, assign_folds, leak_check, load_item, pool_items, report_family
from forenscope.evaluate.metrics import average_precision, roc_auc

Log = Callable[[str], None]


class Pool:
    """Items, their cached features (all taps; clean and augmented views), image statistics
    and the shipped detectors' logits, for the pool and for faces_dev."""

    def __init__(self, data: Path, art: Path | None, seeds: list[int], views: int, cache: Path, log: Log,
                 detectors: list[str], residual_views: tuple[int, ...] = ()):
        from forenscope.train.probe_features import HALF_SCALE, features

        self.cache, self.log, self._images = cache, log, None
        self.items = pool_items(data, art)
        self.faces = faces_items(data)
        whole = [(0, HALF_SCALE)] + [(0, v) for v in residual_views]  # views LiteProbe sets side by side
        self.view_list = [(0, 0)] + [(s, v) for s in seeds for v in range(1, views + 1)] + whole
        log(f"{sum(i.label for i in self.items)} fakes, {sum(1 - i.label for i in self.items)} reals; "
            f"{len(self.faces)} faces_dev images; {len(self.view_list)} views per pool image")
        self.feats = features(self.items, self.view_list, cache, log)
        self.face_view_list = [(0, 0)] + whole
        self.face_feats = features(self.faces, self.face_view_list, cache, log) if self.faces else None
        self.stats = cached_array(cache / f"stats-{items_key(self.items)}.npy",
                             lambda: np.array([image_stats(load_item(i)) for i in self.items]))
        self.face_stats = (cached_array(cache / f"stats-{items_key(self.faces)}.npy",
                                   lambda: np.array([image_stats(load_item(i)) for i in self.faces]))
                           if self.faces else None)
        self.det = {}
        for name in detectors:
            log(f"  scoring with the shipped {name}")
            self.det[name] = (cached_array(cache / f"{name}-{items_key(self.items)}.npy", lambda: _detector_logits(name, self.items)),
                              cached_array(cache / f"{name}-{items_key(self.faces)}.npy", lambda: _detector_logits(name, self.faces))
                              if self.faces else None)

    def npr_retrained(self, train: np.ndarray, seed: int, steps: int):
        """NPR trained from scratch on this fold's training images; logits cached by fold."""
        from forenscope.train.pool_npr import fit_npr, npr_logits

        tag = f"{items_key(self.items)}-{hashlib.sha256(train.tobytes()).hexdigest()[:12]}-s{seed}-{steps}"
        path = self.cache / f"npr-retrained-{tag}.npz"
        if not path.is_file():
            if self._images is None:
                self._images = [load_item(i) for i in self.items]
            labels = np.array([i.label for i in self.items])
            keep = np.flatnonzero(train)
            net = fit_npr([self._images[i] for i in keep], labels[keep], steps=steps, seed=seed, log=self.log)
            faces = npr_logits(net, [load_item(i) for i in self.faces]) if self.faces else np.zeros(0)
            np.savez(path, pool=npr_logits(net, self._images), faces=faces)
        z = np.load(path)
        return z["pool"], (z["faces"] if self.faces else None), {}

    def finetuned(self, train: np.ndarray, seed: int, method: dict):
        """Lite0's later blocks trained from their ImageNet weights (earlier ones frozen, their
        activations cached); logits cached by fold."""
        from forenscope.train.finetune import finetune_top, top_logits

        tag = f"{items_key(self.items)}-{hashlib.sha256(train.tobytes()).hexdigest()[:12]}-s{seed}-" \
              f"{hashlib.sha256(json.dumps(method, sort_keys=True).encode()).hexdigest()[:8]}"
        path = self.cache / f"finetune-{tag}.npz"
        if not path.is_file():
            frozen = int(method.get("frozen", 11))
            maps = self.frozen_maps(frozen)
            keep = np.flatnonzero(train)
            labels = np.array([i.label for i in self.items])
            net = finetune_top([maps[0][i] for i in keep], labels[keep], frozen=frozen, seed=seed,
                               epochs=int(method.get("epochs", 6)), lr=float(method.get("lr", 3e-4)), log=self.log)
            np.savez(path, pool=top_logits(net, maps[0]), faces=top_logits(net, maps[1]) if self.faces else np.zeros(0))
        z = np.load(path)
        return z["pool"], (z["faces"] if self.faces else None), {}

    def frozen_maps(self, frozen: int):
        if getattr(self, "_maps", None) is None or self._maps[0] != frozen:
            from forenscope.train.finetune import frozen_activations

            self.log(f"  caching block-{frozen - 1} activations for partial fine-tuning")
            self._maps = (frozen, frozen_activations([load_item(i) for i in self.items], frozen),
                          frozen_activations([load_item(i) for i in self.faces], frozen) if self.faces else [])
        return self._maps[1], self._maps[2]

    def view_idx(self, seed: int) -> list[int]:
        """The clean view and this seed's augmented views (not the half-scale or residual ones)."""
        return [k for k, (s, v) in enumerate(self.view_list) if v == 0 or (v > 0 and s == seed)]

    def encoder_features(self, encoder: str, taps, side_by_side: list[int]):
        """Another encoder's features of the probe's views (view ids, e.g. the served image, its
        half-scale copy, a residual), side by side: (pool (n, 1, d), faces (n, d)); no augmented views."""
        from forenscope.train.probe_features import tap_features

        views = [(0, v) for v in side_by_side]
        pool = tap_features(self.items, views, self.cache, self.log, encoder, taps).reshape(len(self.items), 1, -1)
        faces = (tap_features(self.faces, views, self.cache, self.log, encoder, taps).reshape(len(self.faces), -1)
                 if self.faces else None)
        return pool, faces

    def probe_features(self, cols: np.ndarray, side_by_side: list[int]):
        """(pool features (n, views, d), faces features (n, d)) for a probe of these columns;
        several view ids (half scale, residual): their features side by side, as LiteProbe
        computes them (no augmented views)."""
        if side_by_side == [0]:
            faces = self.face_feats[:, 0, cols] if self.face_feats is not None else None
            return self.feats[..., cols], faces
        at = [self.view_list.index((0, v)) for v in side_by_side]
        pool = np.concatenate([self.feats[:, k, cols] for k in at], -1)[:, None]
        faces = None
        if self.face_feats is not None:
            fat = [self.face_view_list.index((0, v)) for v in side_by_side]
            faces = np.concatenate([self.face_feats[:, k, cols] for k in fat], -1)
        return pool, faces


def _detector_logits(name: str, items: list[Item]) -> np.ndarray:
    """Raw logits of a shipped generated-image detector (uncalibrated, so every fold sets its
    own threshold on validation reals, as for the fitted methods)."""
    from forenscope.detectors.registry import get_detector_class

    det = get_detector_class(name)()
    out = []
    for it in items:
        s = float(np.clip(det._analyze(load_item(it), None).score, 1e-12, 1 - 1e-12))
        out.append(np.log(s / (1 - s)))
    return np.array(out)


def faces_items(data: Path) -> list[Item]:
    from forenscope.data.inputs import iter_image_files

    root = data / "faces_dev"
    out = []
    for sub, label in (("0_real", 0), ("1_fake", 1)):
        if (root / sub).is_dir():
            out += [Item(str(p), label, "faces_dev", "faces_dev", (str(p),), 256, True)
                    for p in iter_image_files(root / sub)]
    return out


def _fit_scores(method: dict, pool: Pool, train: np.ndarray, val_real: np.ndarray, inner_folds: dict,
                seed: int, fake: np.ndarray, train_real: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Logits of one method for every pool image and every faces_dev image, fitted on ``train``."""
    from forenscope.train.logistic import fit_logistic, probe_logits
    from forenscope.nets.lite_probe import stage_end_taps
    from forenscope.train.probe import choose_l2, training_rows
    from forenscope.train.probe_features import L2_GRID, network_views, tap_columns, with_downscaled_reals

    kind = method["kind"]
    if kind == "probe":
        encoder = method.get("encoder", "lite0")
        side_by_side = network_views(method)
        augment = method.get("augment", True) and side_by_side == [0]
        if encoder != "lite0" or set(method["taps"]) - set(stage_end_taps(encoder)):
            if augment:  # encoder_features loads the plain views only
                raise ValueError(f"method {method['name']!r}: augmented views are cached for Lite0 stage-end "
                                 "probes only; set augment = false or give it views")
            feats, face_feats = pool.encoder_features(encoder, method["taps"], side_by_side)
        else:
            feats, face_feats = pool.probe_features(tap_columns(method["taps"]), side_by_side)
        views = pool.view_idx(seed) if augment else [0]
        if method.get("downscaled_reals"):  # the reals shrunk and re-saved, as extra real training rows
            feats = with_downscaled_reals(feats, pool.items, side_by_side, encoder, method["taps"], pool.cache, pool.log)
            views = [0, 1]
        balance = bool(method.get("balance_families", False))
        l2, cv = choose_l2(feats, pool.items, fake & train, train_real, val_real, inner_folds,
                           method.get("l2", L2_GRID), views, balance)
        x, y, families = training_rows(feats, pool.items, train, views)
        model = fit_logistic(x, y, l2, groups=families if balance else None)
        faces = probe_logits(model, face_feats) if face_feats is not None else None
        return probe_logits(model, feats[:, 0]), faces, {"l2": l2}
    if kind == "stats":
        x = np.log1p(np.abs(pool.stats))
        model = fit_logistic(x[train], np.array([it.label for it in pool.items])[train], 1e-2)
        faces = probe_logits(model, np.log1p(np.abs(pool.face_stats))) if pool.face_stats is not None else None
        return probe_logits(model, x), faces, {}
    if kind == "detector":
        return pool.det[method["detector"]][0], pool.det[method["detector"]][1], {}
    if kind == "npr":
        return pool.npr_retrained(train, seed, int(method.get("steps", 600)))
    if kind == "finetune":
        return pool.finetuned(train, seed, method)
    raise ValueError(f"unknown method kind {kind!r}")


def _fuse(parts: list[tuple[np.ndarray, np.ndarray | None]], val_real: np.ndarray):
    """Mean of logits standardised on the validation reals (no fitting on fakes)."""
    z, zf = [], []
    for s, f in parts:
        mu, sd = s[val_real].mean(), s[val_real].std() + 1e-9
        z.append((s - mu) / sd)
        zf.append(None if f is None else (f - mu) / sd)
    faces = None if any(f is None for f in zf) else np.mean(zf, 0)
    return np.mean(z, 0), faces


def evaluate_fold(scores: np.ndarray, faces: np.ndarray | None, pool: Pool, held: np.ndarray, val_real: np.ndarray,
                  test_real: np.ndarray, target: float, counts: dict) -> dict:
    from forenscope.train.logistic import threshold_for_fpr

    thr = threshold_for_fpr(scores[val_real], target)
    real = scores[test_real]
    out = {"threshold_logit": thr, "test_real_fpr": float((real >= thr).mean()), "families": {}}
    fam = np.array([report_family(it.family, counts) for it in pool.items])
    for name in sorted(set(fam[held])):
        s = scores[held & (fam == name)]
        y = np.r_[np.ones(len(s)), np.zeros(len(real))]
        both = np.r_[s, real]
        out["families"][name] = {"roc_auc": roc_auc(y, both), "ap": average_precision(y, both),
                                 "fake_recall": float((s >= thr).mean()), "n_fake": int(len(s))}
    if faces is not None:
        yf = np.array([it.label for it in pool.faces])
        out["faces_dev"] = {"roc_auc": roc_auc(yf, faces), "ap": average_precision(yf, faces),
                            "fake_recall": float((faces[yf == 1] >= thr).mean()),
                            "real_fpr": float((faces[yf == 0] >= thr).mean())}
    srcs = np.array([it.family for it in pool.items])
    out["real_fpr_by_source"] = {src: float((scores[test_real & (srcs == src)] >= thr).mean())
                                 for src in sorted(set(srcs[test_real]))}
    return out


def run_family_holdout(proto: dict, out: Path, data: Path, log: Log = print, cache: Path | None = None) -> dict:
    from forenscope.benchmarks.results import write_benchmark_results
    from forenscope.records import environment, git_commit
    from forenscope.train.probe import masks

    start = time.time()
    seeds = [int(s) for s in proto.get("seeds", [0, 1, 2])]
    k, target = int(proto.get("folds", 5)), float(proto.get("target_fpr", 0.05))
    art = Path(proto["art"]) if proto.get("art") else None
    if art is not None and not (art / "manifest.tsv").is_file():
        raise FileNotFoundError(f"{art}/manifest.tsv not found: run `python scripts/fetch_real_art.py --out {art}` first")
    methods = proto["methods"]
    detectors = [m["detector"] for m in methods if m["kind"] == "detector"]
    from forenscope.train.probe_features import HALF_SCALE, network_views

    extra = sorted({v for m in methods if m["kind"] == "probe" for v in network_views(m) if v not in (0, HALF_SCALE)})
    pool = Pool(data, art, seeds, int(proto.get("views", 2)), cache or Path("work/probe-features"), log, detectors,
                residual_views=tuple(extra))
    counts: dict[str, int] = {}
    for it in pool.items:
        if it.label:
            counts[it.family] = counts.get(it.family, 0) + 1
    per_seed, leaks, folds_by_seed = {}, [], {}
    for seed in seeds:
        folds = assign_folds(pool.items, k, seed)
        folds_by_seed[seed] = folds
        fake, tr, va, te = masks(pool.items, seed)
        fold_of = np.array([folds.get(it.group, -1) for it in pool.items])
        active = [m for m in methods if seed in m.get("seeds", seeds)
                  and all(seed in _method(methods, p).get("seeds", seeds) for p in m.get("of", []))]
        runs: dict[str, list] = {m["name"]: [] for m in active}
        for f in range(k):
            held = fake & (fold_of == f)
            train = (fake & (fold_of != f)) | tr
            bad = leak_check([it for it, t in zip(pool.items, train) if t],
                             [it for it, h in zip(pool.items, held | te) if h])
            leaks += [f"seed {seed} fold {f}: {k}" for k in bad]
            inner = {g: (j if j < f else j - 1) for g, j in folds.items() if j != f}
            saw_stylegan = any(it.group == "stylegan2" for it, t in zip(pool.items, train) if t and it.label)
            fitted = {}
            for m in active:
                if m["kind"] == "fusion":
                    s, fc = _fuse([fitted[p] for p in m["of"]], va)
                    info = {}
                else:
                    s, fc, info = _fit_scores(m, pool, train, va, inner, seed, fake, tr)
                fitted[m["name"]] = (s, fc)
                r = evaluate_fold(s, None if saw_stylegan else fc, pool, held, va, te, target, counts)
                runs[m["name"]].append(r | info | {"fold": f})
            names = sorted({it.family for it, h in zip(pool.items, held) if h})
            best = max(active, key=lambda m: np.mean([v["roc_auc"] for v in runs[m["name"]][-1]["families"].values()]))
            log(f"seed {seed} fold {f} ({', '.join(names)}): best {best['name']}")
        per_seed[seed] = {name: summarise(rs) for name, rs in runs.items()} | {"_folds": runs}
    result = {
        "protocol": {k_: v for k_, v in proto.items() if not k_.startswith("_")},
        "counts": {"fake_by_family": counts, "real_by_source": _real_counts(pool.items), "faces_dev": len(pool.faces)},
        "folds": {str(s): {g: int(f) for g, f in fb.items()} for s, fb in folds_by_seed.items()},
        "leaks": leaks,
        "per_seed": {str(s): {n: v for n, v in r.items() if n != "_folds"} for s, r in per_seed.items()},
        "per_fold": {str(s): r["_folds"] for s, r in per_seed.items()},
        "headline": headline(per_seed, methods),
        "per_family": per_family(per_seed, methods),
        "audit": pool_audit(pool.items, pool.stats),
        "seconds": round(time.time() - start),
        "git": git_commit(), "environment": environment(),
        "data_manifest_sha256": items_key(pool.items),
    }
    return write_benchmark_results(result, out, markdown, plot)


def _method(methods: list[dict], name: str) -> dict:
    return next(m for m in methods if m["name"] == name)


def _real_counts(items: list[Item]) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        if not it.label:
            out[it.family] = out.get(it.family, 0) + 1
    return out


