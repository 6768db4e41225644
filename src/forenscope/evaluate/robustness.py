"""``forenscope robustness CONFIG``: one seeded perturbation suite applied identically to a
real-vs-generated test set and a localisation test set, every detector scored at every
strength.

- Generated set: Latent Diffusion test prompts and GLID-3 images against test-split real photos
  processed as met in the wild (the protocol of docs/RESULTS.md); AP and accuracy at each
  detector's own threshold.
- Localisation set: the synthetic forgeries' test split (authentic images included); mean pixel
  F1 of the detector's mask over manipulated images, image-level AUC.

Image ``i`` under perturbation ``p`` at strength ``s`` is always the same pixels (its seed is
derived from the config seed, ``p``, ``s`` and ``i``), and every detector sees exactly those.
Writes results.json (metrics, config, commit, data hash), results.md and curves.png.
"""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path
from typing import Callable

import numpy as np
from forenscope.records import write_card, write_results

Log = Callable[[str], None]
DEFAULTS = {
    "seed": 0,
    "generated": {"detectors": ["npr", "pelee-hpf"], "generators": ["latent_diffusion", "glid3"], "limit": 120},
    "localize": {"detectors": ["effunet-cm"], "forgeries": "work/synth-forgeries", "split": "test", "limit": 60},
    "perturbation": [],
}


def toml_over_defaults(path: Path, defaults: dict, error: type[Exception] = ValueError) -> dict:
    """A TOML config laid over a copy of ``defaults`` (one level of tables); an unknown key,
    at the top or in a table, raises ``error`` naming it (a typo never falls back silently)."""
    raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    cfg = json.loads(json.dumps(defaults))
    for key, value in raw.items():
        if key not in cfg:
            raise error(f"{path}: unknown key {key!r}; known: {', '.join(cfg)}")
        if isinstance(cfg[key], dict):
            unknown = set(value) - set(cfg[key])
            if unknown:
                raise error(f"{path}: unknown key(s) {sorted(unknown)} in [{key}]")
            cfg[key] |= value
        else:
            cfg[key] = value
    return cfg


def load_config(path: Path) -> dict:
    cfg = toml_over_defaults(path, DEFAULTS)
    from forenscope.data.perturb import PERTURBATIONS

    for p in cfg["perturbation"]:
        if p.get("name") not in PERTURBATIONS:
            raise ValueError(f"{path}: unknown perturbation {p.get('name')!r}; known: {', '.join(PERTURBATIONS)}")
        if not p.get("strengths"):
            raise ValueError(f"{path}: perturbation {p['name']!r} lists no strengths")
    return cfg


def with_detectors(cfg: dict, specs: list[str]) -> dict:
    """The config with its detector lists replaced: each spec goes to the suite of its task
    (localisers to the localisation set, every other detector to the generated set)."""
    from forenscope.detectors.registry import get_detector_class

    cfg = json.loads(json.dumps(cfg))
    cfg["generated"]["detectors"], cfg["localize"]["detectors"] = [], []
    for spec in specs:
        task = get_detector_class(spec.partition("@")[0]).task
        cfg["localize" if task == "localize" else "generated"]["detectors"].append(spec)
    return cfg


def generated_set(cfg: dict, data: Path, split: str = "test",
                  generators: list[str] | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Fakes of the configured generators (prompts of ``split``; at most ``limit`` each) and as
    many real photos of that split processed in the wild, each cropped to its fake's size."""
    from forenscope.data.sources import ImageCache, generated_files
    from forenscope.data.splits import split_of
    from forenscope.imageio import read_image

    g = cfg["generated"]
    cache = ImageCache(data, split)
    fakes = []
    for gen in generators or g["generators"]:
        files = [p for p, prompt in generated_files(data, gen) if split_of(f"{gen}/{prompt}") == split]
        fakes += [read_image(p)[0] for p in files[: g["limit"]]]
    rng = np.random.default_rng([cfg["seed"], 7 if split == "test" else 8])
    reals = [cache.draw_photo(rng, f.shape[:2], min_side=max(f.shape[:2])) for f in fakes]
    return reals + fakes, np.r_[np.zeros(len(reals)), np.ones(len(fakes))]


def localize_set(cfg: dict, split: str | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Images and masks of the forgeries' split (the config's unless given): authentic images
    and an even spread of the manipulated ones, ``limit`` of each."""
    from forenscope.data.forgeries import PairCache, read_rows

    loc = cfg["localize"]
    rows = read_rows(Path(loc["forgeries"]), split or loc["split"], None, authentic=True)
    auth = [r for r in rows if r["mask"] is None][: loc["limit"]]
    manip = [r for r in rows if r["mask"] is not None]
    manip = [manip[i] for i in np.linspace(0, len(manip) - 1, min(loc["limit"], len(manip))).astype(int)]
    cache = PairCache()
    pairs = [cache.get(r) for r in auth + manip]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def points(cfg: dict) -> list[tuple[str, float]]:
    """("none", 0) first, then every (perturbation, strength) of the config."""
    return [("none", 0.0)] + [(p["name"], float(s)) for p in cfg["perturbation"] for s in p["strengths"]]


def perturbed(images, masks, name: str, strength: float, seed: int):
    from forenscope.data.perturb import perturb

    if name == "none":
        return images, masks
    out_i, out_m = [], []
    for i, img in enumerate(images):
        rng = np.random.default_rng([seed, _stable_id(name), int(round(strength * 1000)), i])
        im, m = perturb(name, img, None if masks is None else masks[i], strength, rng)
        out_i.append(im)
        out_m.append(m)
    return out_i, (None if masks is None else out_m)


def _stable_id(name: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def score_generated(det, images, y) -> dict:
    from forenscope.evaluate.metrics import image_metrics

    s = np.array([det.analyze(img).score for img in images])
    m = image_metrics(y, s, det.threshold)
    return {k: round(float(m[k]), 4) for k in ("ap", "acc", "real_acc", "fake_acc", "roc_auc")}


def score_localize(det, images, masks) -> dict:
    from forenscope.evaluate.metrics import pixel_f1_at, roc_auc

    f1s, scores, labels = [], [], []
    for img, m in zip(images, masks):
        a = det.analyze(img)
        manipulated = bool(m.any())
        labels.append(int(manipulated))
        scores.append(a.score)
        if manipulated:
            pred = a.mask if a.mask is not None else a.heatmap >= 0.5
            f1s.append(pixel_f1_at(m, pred.astype(np.float32), 0.5))
    return {"mean_pixel_f1": round(float(np.mean(f1s)), 4), "image_auc": round(float(roc_auc(labels, scores)), 4),
            "image_acc": round(float(np.mean([(s >= det.threshold) == bool(t) for s, t in zip(scores, labels)])), 4)}


def run_robustness(cfg: dict, out: Path, data: Path, log: Log = print, config_path: str = "") -> dict:
    from forenscope.records import environment, git_commit

    t0, git = time.time(), git_commit()  # the code that runs: taken before, not after
    out = Path(out)
    result = {"config": cfg, "config_path": config_path, "generated": {}, "localize": {}}
    suites = []
    if cfg["generated"]["detectors"]:
        images, y = generated_set(cfg, data)
        log(f"generated set: {int((y == 0).sum())} real, {int(y.sum())} generated")
        suites.append(("generated", images, None, y, cfg["generated"]["detectors"]))
    if cfg["localize"]["detectors"]:
        images, masks = localize_set(cfg)
        log(f"localisation set: {sum(not m.any() for m in masks)} authentic, {sum(m.any() for m in masks)} manipulated")
        suites.append(("localize", images, masks, None, cfg["localize"]["detectors"]))
    for kind, images, masks, y, names in suites:
        dets = {n: _detector(n) for n in names}
        for name, strength in points(cfg):
            imgs, ms = perturbed(images, masks, name, strength, cfg["seed"])
            key = "none" if name == "none" else f"{name}@{strength:g}"
            for dname, det in dets.items():
                m = score_generated(det, imgs, y) if kind == "generated" else score_localize(det, imgs, ms)
                result[kind].setdefault(dname, {})[key] = m
                log(f"{kind} {dname} {key}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()))
    result |= {"seconds": round(time.time() - t0), "git": git, "environment": environment()}
    write_results(out, result, markdown)
    plot(result, out / "curves.png")
    return result


def _detector(spec: str):
    """``name`` (shipped weights) or ``name@RUN_DIR`` (a `forenscope train` run, e.g. a candidate)."""
    from forenscope.detectors import load_detector

    name, _, run = spec.partition("@")
    if run and not Path(run, "card.json").is_file():
        raise FileNotFoundError(f"{spec}: no training run (card.json) in {run}")
    return load_detector(name, run=run) if run else load_detector(name, calibrated=False)  # raw, as runs are


HEADLINE = {"generated": "ap", "localize": "mean_pixel_f1"}


def markdown(result: dict) -> str:
    lines = [f"# Robustness: `{result['config_path']}`", ""]
    for kind, metric in HEADLINE.items():
        table = result[kind]
        if not table:
            continue
        dets = list(table)
        keys = list(next(iter(table.values())))
        lines += [f"## {kind}: {metric} (and {'accuracy at the threshold' if kind == 'generated' else 'image AUC'})", "",
                  "| perturbation | " + " | ".join(dets) + " |", "|---|" + "---|" * len(dets)]
        second = "acc" if kind == "generated" else "image_auc"
        for k in keys:
            lines.append(f"| {k} | " + " | ".join(f"{table[d][k][metric]:.3f} ({table[d][k][second]:.3f})" for d in dets) + " |")
        lines.append("")
    git = result["git"]
    lines.append(f"Seed {result['config']['seed']}; commit `{str(git.get('commit'))[:10]}`"
                 f"{' (dirty)' if git.get('dirty') else ''}; {result['seconds'] / 60:.0f} min.")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    """One panel per perturbation and kind: the headline metric vs strength, a line per detector
    (the unperturbed value dotted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(kind, p["name"], [float(s) for s in p["strengths"]]) for kind in HEADLINE if result[kind]
              for p in result["config"]["perturbation"]]
    if not panels:
        return
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), dpi=100, squeeze=False)
    for ax, (kind, name, strengths) in zip(axes.ravel(), panels):
        metric = HEADLINE[kind]
        for k, (dname, table) in enumerate(result[kind].items()):
            vals = [table[f"{name}@{s:g}"][metric] for s in strengths]
            line, = ax.plot(strengths, vals, marker="o", ms=3, label=dname)
            ax.axhline(table["none"][metric], color=line.get_color(), ls=":", lw=0.8)
        ax.set_title(f"{kind}: {name}", fontsize=8)
        ax.set_ylabel(metric, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=6)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def card_summary(result: dict, kind: str, name: str, source: str) -> dict:
    """A card's robustness block: the headline metric unperturbed, under the social-media chain
    and JPEG 70 when the suite has them, and the worst point of the suite."""
    metric = HEADLINE[kind]
    table = result[kind][name]
    values = {k: v[metric] for k, v in table.items()}
    worst = min((k for k in values if k != "none"), key=values.get, default="none")
    return {
        "test_set": ("real photos vs " + ", ".join(result["config"]["generated"]["generators"])
                     if kind == "generated" else f"{result['config']['localize']['forgeries']} "
                     f"({result['config']['localize']['split']} split)"),
        "metric": metric, "unperturbed": values["none"],
        **{k: values[k] for k in ("social@1", "jpeg@70", "resize-bilinear@0.5", "blur@1") if k in values},
        "worst": {"perturbation": worst, metric: values[worst]},
        "points": len(values), "seed": result["config"]["seed"],
        "source": f"{source}/results.json",
    }


def ship(result: dict, source: str, log: Log = print, weights: Path | None = None) -> list[str]:
    """Write each detector's robustness summary into its shipped card (weights/<name>.json)."""
    from forenscope.detectors.base import weights_dir

    written = []
    for kind in HEADLINE:
        for name in result[kind]:
            path = Path(weights or weights_dir()) / f"{name}.json"
            if "@" in name or not path.is_file():
                log(f"{name}: no shipped card; not written")
                continue
            card = json.loads(path.read_text(encoding="utf-8"))
            card.setdefault("robustness", {})[kind] = card_summary(result, kind, name, source)
            write_card(path, card)
            written.append(name)
    return written
