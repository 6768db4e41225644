"""Benchmark protocols of kind ``generated``: several real-vs-generated models, each trained
from the protocol's ``base`` config with its own overrides, each tested on images of a kind it
never trained on (an unseen generator, an unseen content category).

A run is ``{name, set, tests}``: ``set`` maps dotted config keys to values (``input.colour:
hsv``, ``data.sources: [...]``); ``tests`` are the run's own test sets, evaluated besides the
protocol-wide ``tests``. A test set lists sources as training configs do (``generated``,
``synth``, ``cifake``; split ``test`` unless given) plus ``folder`` (a ``0_real`` / ``1_fake``
folder used whole, e.g. faces_dev, which no training config may list). Test images are processed
as the validation set is (seeded, centre crop ``data.val_crop``); scores are read at the run's
calibrated threshold and at 0.5. Runs are trained into ``<model_dir>/<run slug>`` and reused
when their config is unchanged, so a killed benchmark resumes.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Callable

import numpy as np

Log = Callable[[str], None]
TEST_SOURCES = ("synth", "generated", "cifake", "folder")
KEEP = ("acc", "real_acc", "fake_acc", "ap", "roc_auc", "acc_at_0.5", "n_real", "n_fake")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def set_dotted(cfg: dict, key: str, value) -> None:
    *path, last = key.split(".")
    node = cfg
    for part in path:
        node = node.setdefault(part, {})
    node[last] = copy.deepcopy(value)


def run_config(proto: dict, run: dict) -> dict:
    """The full training config of one run: defaults < protocol base < the run's ``set``."""
    from forenscope.train.config import DEFAULTS, ConfigError, _merge

    raw = copy.deepcopy(proto["base"])
    for key, value in (run.get("set") or {}).items():
        set_dotted(raw, key, value)
    raw["name"] = f"{proto['name']}-{slug(run['name'])}"
    raw.setdefault("train", {})["seed"] = int(proto["seed"])
    try:
        cfg = _merge(DEFAULTS, raw, "")
    except ConfigError as exc:
        raise ValueError(f"{proto['_path']}: run {run['name']!r}: {exc}") from None
    if not cfg["data"]["sources"]:
        raise ValueError(f"{proto['_path']}: run {run['name']!r} lists no training source")
    return cfg


def check_runs(proto: dict) -> None:
    """Loading-time checks: every run builds a config, no run trains on a folder source, and
    every test source is known."""
    names = [r.get("name") for r in proto["runs"]]
    if None in names or len(set(map(slug, names))) != len(names):
        raise ValueError(f"{proto['_path']}: every run needs a distinct `name`")
    for run in proto["runs"]:
        run_config(proto, run)
        for test in proto.get("tests", []) + run.get("tests", []):
            for src in test.get("sources", []):
                if src.get("source") not in TEST_SOURCES:
                    raise ValueError(f"{proto['_path']}: test {test.get('name')!r}: source must be one of "
                                     f"{', '.join(TEST_SOURCES)}, got {src.get('source')!r}")


def folder_units(folder: Path):
    """``0_real`` / ``1_fake`` files paired by sorted order (the shorter side sets the count)."""
    from forenscope.data.inputs import iter_image_files
    from forenscope.data.sources import Ref, Unit

    reals, fakes = (sorted(iter_image_files(folder / sub)) if (folder / sub).is_dir() else []
                    for sub in ("0_real", "1_fake"))
    if not reals or not fakes:
        raise FileNotFoundError(f"{folder}: expected images in 0_real/ and 1_fake/")
    return [Unit(folder.name, Ref("file", str(r)), Ref("file", str(f)), False) for r, f in zip(reals, fakes)]


def test_set(test: dict, cfg: dict, data: Path, base: Path):
    """(images, labels, groups) of one test set, processed as the run's validation set."""
    from forenscope.data.sources import ImageCache, build_units
    from forenscope.train.generated import val_set

    images, labels, groups = [], [], []
    for src in test["sources"]:
        spec = {k: v for k, v in src.items() if k != "split"}
        split = src.get("split", "test")
        units = (folder_units(data / src["path"]) if src["source"] == "folder"
                 else build_units(spec, split, data, base))
        if src.get("limit"):
            units = units[: int(src["limit"])]
        cache = ImageCache(data, split if split in ("train", "val", "test") else "test",
                           cfg["data"]["photo_long_side"], cfg["data"]["min_side"])
        i, l, g = val_set(units, cache, cfg)
        images, labels, groups = images + i, labels + l, groups + g
    if not images:
        raise ValueError(f"test {test['name']!r} has no images")
    return images, labels, groups


def run_model(cfg: dict, run_dir: Path, data: Path, base: Path, log: Log) -> dict:
    """Train the run (or reuse the finished one with this exact config); its card."""
    from forenscope.train.generated import train

    card_file = run_dir / "card.json"
    if card_file.is_file() and json.loads(card_file.read_text()).get("training", {}).get("config") == cfg:
        log(f"reusing {run_dir}")
        return json.loads(card_file.read_text())
    return train(cfg, run_dir, data, base, log=log)


def evaluate_run(cfg: dict, card: dict, run_dir: Path, tests: list[dict], data: Path, base: Path) -> dict:
    from safetensors.torch import load_file

    from forenscope.evaluate.metrics import image_metrics
    from forenscope.methods import get_method
    from forenscope.train.generated import predict

    net = get_method(cfg["family"]).build(cfg["network"])
    net.load_state_dict(load_file(run_dir / "model.safetensors"))
    out = {}
    for test in tests:
        images, labels, _ = test_set(test, cfg, data, base)
        m = image_metrics(np.array(labels), predict(net, images), card["threshold"])
        m.setdefault("acc_at_0.5", m["acc"])
        out[test["name"]] = {k: m[k] for k in KEEP}
    return out


def run_holdout(proto: dict, out: Path, data: Path, base: Path, log: Log = print,
                model_dir: Path | None = None) -> dict:
    from forenscope.records import environment, git_commit

    check_runs(proto)
    out, model_dir = Path(out), Path(model_dir or Path(out) / "models")
    start = time.time()
    runs = {}
    for k, run in enumerate(proto["runs"]):
        cfg = run_config(proto, run)
        run_dir = model_dir / slug(run["name"])
        log(f"[{k + 1}/{len(proto['runs'])}] {run['name']}")
        card = run_model(cfg, run_dir, data, base, log)
        metrics = evaluate_run(cfg, card, run_dir, run.get("tests", []) + proto.get("tests", []), data, base)
        for name, m in metrics.items():
            log(f"  {name}: AP {m['ap']:.3f}, acc {m['acc']:.3f} (real {m['real_acc']:.3f}, fake {m['fake_acc']:.3f})")
        runs[run["name"]] = {"tests": metrics, "validation": card["metrics"]["validation"],
                             "best_step": card["training"]["best_step"],
                             "train_seconds": card["training"]["train_seconds"],
                             "weights_sha256": card["weights_sha256"],
                             "data_manifest_sha256": card["training"]["data_manifest_sha256"]}
    result = {
        "protocol": {k: v for k, v in proto.items() if not k.startswith("_")},
        "runs": runs, "mean": mean_over_runs(runs),
        "seconds": round(time.time() - start),
        "git": git_commit(), "environment": environment(),
    }
    from forenscope.benchmarks.results import write_benchmark_results

    return write_benchmark_results(result, out, markdown, plot)


def mean_over_runs(runs: dict) -> dict:
    """Per test name, the unweighted mean over the runs that have it (NPR's headline mean)."""
    names = list(dict.fromkeys(n for r in runs.values() for n in r["tests"]))
    out = {}
    for name in names:
        rows = [r["tests"][name] for r in runs.values() if name in r["tests"]]
        out[name] = {k: float(np.mean([m[k] for m in rows])) for k in ("acc", "ap", "acc_at_0.5")} | {"runs": len(rows)}
    return out


def markdown(result: dict) -> str:
    p = result["protocol"]
    tests = list(result["mean"])
    lines = [f"# Benchmark `{p['name']}`: {p.get('title', '')}", "", p.get("description", "").strip(), ""]
    if p.get("substitutions"):
        lines += ["Substitutions for data that cannot be had here:", ""] + [f"- {s}" for s in p["substitutions"]] + [""]
    if p.get("counts"):
        lines += [f"Counts: {p['counts']}", ""]
    lines += ["Each cell: AP / accuracy at the run's calibrated threshold (accuracy at 0.5 in brackets).", "",
              "| run | " + " | ".join(tests) + " | val AP | train s |",
              "|---|" + "---|" * (len(tests) + 2)]

    def cell(m):
        return "–" if m is None else f"{m['ap']:.3f} / {m['acc']:.3f} ({m['acc_at_0.5']:.3f})"

    for name, r in result["runs"].items():
        lines.append(f"| {name} | " + " | ".join(cell(r["tests"].get(t)) for t in tests)
                     + f" | {r['validation']['ap']:.3f} | {r['train_seconds']} |")
    if p.get("mean_over_runs"):
        lines.append("| **mean over runs** | " + " | ".join(cell(result["mean"][t]) for t in tests) + " | | |")
    git = result["git"]
    lines += ["", f"Commit `{str(git.get('commit'))[:10]}`{' (dirty)' if git.get('dirty') else ''}; "
              f"seed {p['seed']}; {result['seconds'] / 60:.0f} min in all. Weights and data hashes per run "
              "in results.json.", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    """AP per run, one bar per test set."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs, tests = list(result["runs"]), list(result["mean"])
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(runs) * max(1, len(tests)) / 2 + 2), 3.8), dpi=110)
    width = 0.8 / max(1, len(tests))
    for k, t in enumerate(tests):
        vals = [result["runs"][r]["tests"].get(t, {}).get("ap", np.nan) for r in runs]
        ax.bar(np.arange(len(runs)) + (k - (len(tests) - 1) / 2) * width, vals, width, label=t)
    ax.set_xticks(np.arange(len(runs)), [textwrap.fill(r, 14) for r in runs], fontsize=7)
    ax.set_ylim(0.4, 1.08)
    ax.set_ylabel("AP")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")  # chance AP with balanced classes
    ax.set_title(f"{result['protocol']['name']}: {result['protocol'].get('title', '')}", fontsize=9)
    ax.legend(fontsize=7, ncol=min(4, len(tests)), loc="upper center", frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
