"""``forenscope benchmark PROTOCOL``: published evaluation protocols rebuilt from the data that
can be had here, as YAML files in ``forenscope/protocols/`` (or any path).

A protocol names its kind, seed, a training config (the keys of a ``configs/*.toml`` of that
kind), the test sets (each a list of sources with their class) and the substitutions it makes
for data that cannot be had. The command trains (resumable: a rerun continues or reuses the
model), evaluates every test set and writes ``results.json`` (numbers, protocol, commit, data
hash), ``results.md`` and ``results.png`` into the output folder.

Kind ``triage`` (authentic / tampered / generated, "No one can escape"): Case 1, 2 and 3.
Kind ``generated`` (several real-vs-generated models, each tested on what it never saw):
``generator-holdout`` and ``category-holdout``, run by :mod:`forenscope.benchmarks.holdout`.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np

from forenscope.benchmarks.results import write_benchmark_results
from forenscope.records import write_card

Log = Callable[[str], None]
KINDS = ("triage", "generated", "families")
REQUIRED = {"triage": ("tests",), "generated": ("base", "runs"), "families": ("methods", "folds")}
SOURCE_TYPES = ("forgeries", "generated", "folder", "cvip")


class ProtocolError(ValueError):
    pass


def protocol_names() -> list[str]:
    folder = resources.files("forenscope") / "protocols"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_protocol(name_or_path: str) -> dict:
    """A shipped protocol by name (``case1``) or a YAML file by path, checked."""
    import yaml

    path = Path(name_or_path)
    if not path.is_file():
        shipped = resources.files("forenscope") / "protocols" / f"{name_or_path}.yaml"
        if not shipped.is_file():
            import difflib

            close = difflib.get_close_matches(name_or_path, protocol_names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ProtocolError(f"no protocol {name_or_path!r} (shipped: {', '.join(protocol_names())}){hint}")
        path = Path(str(shipped))
    try:
        proto = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{path}: {exc}") from None
    for key in ("name", "kind", "seed"):
        if key not in (proto or {}):
            raise ProtocolError(f"{path}: missing `{key}`")
    if proto["kind"] not in KINDS:
        raise ProtocolError(f"{path}: kind must be one of {', '.join(KINDS)}, got {proto['kind']!r}")
    for key in REQUIRED[proto["kind"]]:
        if key not in proto:
            raise ProtocolError(f"{path}: missing `{key}` (protocols of kind {proto['kind']} need "
                                f"{', '.join(REQUIRED[proto['kind']])})")
    proto["_path"] = str(path)
    if proto["kind"] == "triage" and "train" not in proto:
        if "pretrain" not in proto:
            raise ProtocolError(f"{path}: a triage protocol needs `train` (or `pretrain`: the protocol whose model it starts from)")
        proto["train"] = load_protocol(proto["pretrain"])["train"]
    if proto["kind"] == "families":
        names = [m.get("name") for m in proto["methods"]]
        if None in names or len(set(names)) != len(names):
            raise ProtocolError(f"{path}: every method needs a distinct `name`")
        for m in proto["methods"]:
            if m.get("kind") not in ("probe", "stats", "detector", "fusion", "npr", "finetune"):
                raise ProtocolError(f"{path}: method {m['name']!r}: kind must be probe, finetune, stats, detector, "
                                    f"npr or fusion")
            if m["kind"] == "fusion" and not set(m.get("of", [])) <= set(names[: names.index(m["name"])]):
                raise ProtocolError(f"{path}: fusion {m['name']!r} must name methods listed before it")
        return proto
    if proto["kind"] == "generated":
        from forenscope.benchmarks.holdout import check_runs

        try:
            check_runs(proto)
        except ValueError as exc:
            raise ProtocolError(str(exc)) from None
        return proto
    for test in proto["tests"]:
        for src in test.get("sources", []):
            if src.get("source") not in SOURCE_TYPES:
                raise ProtocolError(f"{path}: test {test.get('name')!r}: source must be one of "
                                    f"{', '.join(SOURCE_TYPES)}, got {src.get('source')!r}")
    return proto


def training_config(proto: dict, forgeries: Path) -> dict:
    """The protocol's ``train`` table as a full config of its kind, seed from the protocol."""
    from forenscope.train.config import TRIAGE_DEFAULTS, ConfigError, _merge

    # a protocol that starts from another's model trains exactly that model (same name too)
    raw = {"task": "triage", "name": proto.get("pretrain", proto["name"]), **proto["train"]}
    raw.setdefault("data", {})["forgeries"] = str(forgeries)
    raw.setdefault("train", {})["seed"] = int(proto["seed"])
    try:
        return _merge(TRIAGE_DEFAULTS, raw, "train.")
    except ConfigError as exc:
        raise ProtocolError(f"{proto['_path']}: {exc}") from None


# ------------------------------------------------------------------ test sets (triage)

def test_items(test: dict, data: Path, forgeries: Path):
    """Items of one test set; labels from each source."""
    from forenscope.data.inputs import iter_image_files
    from forenscope.train.triage import CLASSES, Item, cvip_items, forgery_items, generated_items

    items = []
    for src in test["sources"]:
        kind = src["source"]
        if kind == "forgeries":  # kinds: "authentic" and / or forgery kinds
            wanted = src.get("kinds") or ["authentic"]
            rows = forgery_items(forgeries, src.get("split", "test"), [])
            items += [r for r in rows if r.group in wanted]
        elif kind == "generated":
            items += generated_items(data, src.get("split", "test"), src["generators"], 1)
        elif kind == "cvip":
            items += cvip_items(data, src.get("half", "all"))
        elif kind == "folder":
            label = CLASSES.index(src["label"])
            folder = data / src["path"]
            if not folder.is_dir():
                raise ProtocolError(f"test {test['name']!r}: folder {folder} not found")
            files = list(iter_image_files(folder))
            if src.get("limit"):
                files = files[: int(src["limit"])]
            items += [Item(p, label, src.get("group", Path(src["path"]).name)) for p in files]
    if not items:
        raise ProtocolError(f"test {test['name']!r} has no images")
    return items


def run_benchmark(proto: dict, out: Path, data: Path, forgeries: Path, log: Log = print,
                  model_dir: Path | None = None, base: Path | None = None) -> dict:
    """Train (or reuse) the protocol's model(s) in ``model_dir`` (default ``out/model``), test
    on every set, write the results into ``out``. ``base``: where relative source paths of
    generated-kind protocols start (default the working directory)."""
    if proto["kind"] == "families":
        from forenscope.benchmarks.family_holdout import run_family_holdout

        return run_family_holdout(proto, out, data, log, cache=Path(model_dir) if model_dir else None)
    if proto["kind"] == "generated":
        from forenscope.benchmarks.holdout import run_holdout

        return run_holdout(proto, out, data, Path(base or Path.cwd()), log, model_dir)
    return run_triage_benchmark(proto, out, data, forgeries, log, model_dir)


def run_triage_benchmark(proto: dict, out: Path, data: Path, forgeries: Path, log: Log = print,
                         model_dir: Path | None = None) -> dict:
    from forenscope.data.datasets import manifest_hash
    from forenscope.detectors import load_detector
    from forenscope.records import environment, git_commit
    from forenscope.train.triage import (build_inputs, evaluate_triage, forgery_post_processing, train_triage,
                                         trained_classes)

    out = Path(out)
    cfg = training_config(proto, forgeries)
    model_dir = Path(model_dir or out / "model")
    if (model_dir / "card.json").is_file() and json.loads((model_dir / "card.json").read_text()).get(
            "training", {}).get("config") == cfg:
        log(f"reusing the model trained in {model_dir}")
    else:
        train_triage(cfg, model_dir, data, log=log)
    det = load_detector("cooc3", run=str(model_dir))
    allowed = trained_classes(det.card)
    finetuned = finetuned_models(proto, cfg, model_dir, data, log)
    nets = {"pretrained": det.net} | {name: net for name, (net, _) in finetuned.items()}
    post = forgery_post_processing(forgeries)
    rows, all_files = {}, []
    for test in proto["tests"]:
        items = test_items(test, data, forgeries)
        all_files += [it.path for it in items]
        inputs = build_inputs(items, cfg, post, log, test["name"])
        for model in test.get("models", ["pretrained"]):
            if model not in nets:
                raise ProtocolError(f"test {test['name']!r}: no model {model!r} (models: {', '.join(nets)})")
            name = test["name"] if model == "pretrained" and "models" not in test else f"{test['name']} · {model}"
            m = evaluate_triage(nets[model], items, inputs, allowed)
            m["images"] = len(items)
            m["note"] = test.get("note", "")
            m["model"] = model
            rows[name] = m
            log(f"{name}: macro-F1 {m['macro_f1']:.3f} on {len(items)} images")
    result = {
        "protocol": {k: v for k, v in proto.items() if not k.startswith("_")},
        "metrics": rows,
        "model": {"weights_sha256": det.card.get("weights_sha256"), "best_step": det.card["training"]["best_step"],
                  "validation": det.card["metrics"]["validation"],
                  "finetuned_weights_sha256": {name: sha for name, (_, sha) in finetuned.items()}},
        "data_manifest_sha256": manifest_hash(all_files, data.resolve().parent),
        "git": git_commit(), "environment": environment(),
    }
    return write_benchmark_results(result, out, markdown, plot)


def finetuned_models(proto: dict, cfg: dict, model_dir: Path, data: Path, log: Log) -> dict:
    """{name: (network, weights sha256)} of the protocol's ``finetune`` runs, each started from
    the model in ``model_dir`` and kept in ``model_dir/finetune/<protocol>/<name>`` (reused
    when unchanged)."""
    from safetensors.torch import load_file

    from forenscope.benchmarks.holdout import slug
    from forenscope.methods import get_method
    from forenscope.train.triage import cvip_items, finetune_triage

    spec = proto.get("finetune") or {}
    settings = {k: v for k, v in spec.items() if k != "runs"}
    nets = {}
    for run in spec.get("runs", []):
        items = []
        for src in run["sources"]:
            if src.get("source") != "cvip":
                raise ProtocolError(f"fine-tune {run['name']!r}: only cvip sources can be fine-tuned on")
            items += cvip_items(data, src.get("half", "all"), int(settings.get("variants", 1)))
        ft_dir = model_dir / "finetune" / proto["name"] / slug(run["name"])
        log(f"fine-tuning on {run['name']}: {len(items)} items")
        card = finetune_triage(cfg, model_dir, items, settings, ft_dir, data, log)
        net = get_method(cfg["family"]).build(cfg["network"])
        net.load_state_dict(load_file(ft_dir / "model.safetensors"))
        nets[run["name"]] = (net, card["weights_sha256"])
    return nets


def update_matching_cards(result: dict, results_path: str) -> list[str]:
    """Write this protocol's test metrics into every shipped card whose weights are the
    protocol's model (byte for byte, by sha256); returns their names."""
    weights = resources.files("forenscope") / "weights"
    updated = []
    if "model" not in result:  # generated-kind protocols train throw-away models
        return updated
    for card_file in weights.iterdir():
        if not card_file.name.endswith(".json"):
            continue
        card = json.loads(card_file.read_text(encoding="utf-8"))
        if card.get("weights_sha256") != result["model"]["weights_sha256"]:
            continue
        keep = ("macro_f1", "balanced_accuracy", "recall", "images")
        card.setdefault("metrics", {}).setdefault("test", {})[result["protocol"]["name"]] = {
            **{name: {k: m[k] for k in keep} for name, m in result["metrics"].items()
               if m.get("model", "pretrained") == "pretrained"},  # not the fine-tuned models' rows
            "source": results_path, "git": result["git"]}
        write_card(Path(str(card_file)), card)
        updated.append(card["name"])
    return updated


def markdown(result: dict) -> str:
    p = result["protocol"]
    lines = [f"# Benchmark `{p['name']}`: {p.get('title', '')}", "", p.get("description", "").strip(), ""]
    if p.get("substitutions"):
        lines += ["Substitutions for data that cannot be had here:", ""]
        lines += [f"- {s}" for s in p["substitutions"]] + [""]
    if p.get("counts"):
        lines += [f"Counts: {p['counts']}", ""]
    lines += ["| test set | images | macro-F1 | balanced acc. | recall authentic | recall tampered | recall generated |",
              "|---|---|---|---|---|---|---|"]
    for name, m in result["metrics"].items():
        rec = [m["recall"].get(c) for c in ("authentic", "tampered", "generated")]
        lines.append(f"| {name} | {m['images']} | {m['macro_f1']:.3f} | {m['balanced_accuracy']:.3f} | "
                     + " | ".join("–" if r is None else f"{r:.3f}" for r in rec) + " |")
    git = result["git"]
    lines += ["", f"Model: best step {result['model']['best_step']}, validation macro-F1 "
              f"{result['model']['validation']['macro_f1']:.3f}; weights sha256 "
              f"`{str(result['model']['weights_sha256'])[:16]}`; commit `{str(git.get('commit'))[:10]}`"
              f"{' (dirty)' if git.get('dirty') else ''}; data manifest `{result['data_manifest_sha256'][:16]}`.", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    """Grouped bars: per test set, macro-F1 and the recall of each class present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["metrics"])
    series = ["macro-F1", "authentic", "tampered", "generated"]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(names) + 2), 3.6), dpi=110)
    width = 0.8 / len(series)
    for k, s in enumerate(series):
        vals = [result["metrics"][n]["macro_f1"] if s == "macro-F1" else result["metrics"][n]["recall"].get(s, np.nan)
                for n in names]
        ax.bar(np.arange(len(names)) + (k - 1.5) * width, vals, width, label=s if s == "macro-F1" else f"recall {s}")
    import textwrap

    ax.set_xticks(np.arange(len(names)), [textwrap.fill(n, 18) for n in names], fontsize=8)
    ax.set_ylim(0, 1.18)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.axhline(1 / 3, color="grey", lw=0.8, ls=":")  # chance for three balanced classes
    ax.set_title(f"{result['protocol']['name']}: {result['protocol'].get('title', '')}", fontsize=9)
    ax.legend(fontsize=7, ncol=4, loc="upper center", frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
