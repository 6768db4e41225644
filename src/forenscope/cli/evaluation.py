"""``forenscope eval``, ``models`` and ``audit``: scores on labelled data, the shipped cards, and
whether a dataset's labels can be told from file facts alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from forenscope import DEFAULT_DETECTOR
from forenscope.cli.common import DATA, MAXPIX, PROGRESS, app, exit_on, load, stderr
from forenscope.cli.progress import iter_progress
from forenscope.detectors import available_detectors, describe_detector
from forenscope.detectors.base import RESEARCH


@app.command("eval")
def eval_(
    dataset: Path = typer.Argument(..., help="0_real/1_fake tree, Tp/+Gt/ (or forged/+masks/) folder, or a CSV manifest image,mask."),
    detector: list[str] = typer.Option([], "--detector", "-d", help="Registry name(s). Repeatable."),
    out: Path = typer.Option(Path("forenscope-eval"), "--out", "-o", help="Folder for results.json, results.md, per_image.jsonl."),
    kind: str = typer.Option("auto", "--kind", help="auto | image | pixel"),
    run_dir: list[str] = typer.Option([], "--run", help="NAME=DIR: load detector NAME from a training run folder instead of shipped weights. Repeatable."),
    seed: int = typer.Option(0, "--seed", help="Recorded in results.json; seeds numpy."),
    max_pixels: int = MAXPIX,
    progress: Optional[bool] = PROGRESS,
) -> None:
    """Evaluate detectors on a labelled dataset; write results.json + results.md."""
    from forenscope.data.datasets import DatasetError
    from forenscope.evaluate.dataset_eval import EvalRun, evaluate, write_results

    if not dataset.exists():
        raise typer.BadParameter(f"{dataset}: no such file or folder", param_hint="DATASET")
    runs = {}
    for spec in run_dir:
        name, sep, folder = spec.partition("=")
        if not sep or not Path(folder).is_dir():
            raise typer.BadParameter(f"expected NAME=DIR with an existing DIR, got {spec!r}", param_hint="--run")
        runs[name] = folder
    dets = [load(name, {"run": runs[name]} if name in runs else {}) for name in (detector or [DEFAULT_DETECTOR])]
    run = EvalRun(dataset=dataset, detectors=dets, seed=seed, max_pixels=max_pixels,
                  progress=iter_progress(progress))
    with exit_on(DatasetError):
        result = evaluate(run, kind=kind)
    paths = write_results(result, run.per_image, out)
    Console().print(eval_summary(result))
    for e in run.errors:
        stderr.print(f"[red]error:[/] {escape(e['error'])}", highlight=False)
    stderr.print(f"wrote {paths['json']} and {paths['md']}", highlight=False)
    raise typer.Exit(1 if run.errors else 0)


EVAL_SUMMARY = {
    "image": {"ap": "AP", "roc_auc": "ROC-AUC", "acc": "acc"},
    "pixel": {"f1_mean_per_image": "pixel F1", "auc_mean_per_image": "pixel AUC",
              "false_positive_area_mean_per_authentic_image": "FP area", "image_roc_auc": "image AUC"},
}


def eval_summary(result: dict) -> Table:
    """Per detector and subset, the headline metrics, with the trivial baselines beside them."""
    cols = EVAL_SUMMARY[result["kind"]]
    table = Table(title=f"{result['dataset']['path']} ({result['kind']} level, {result['n_errors']} errors)",
                  title_justify="left")
    table.add_column("detector", overflow="fold")
    table.add_column("subset", overflow="fold")
    for label in cols.values():
        table.add_column(label, justify="right")
    rows = list(result["metrics"].items())
    rows += [(f"[italic]{name}[/]", t) for name, t in result.get("baselines", {}).items()]
    for det, subsets in rows:
        for subset, row in subsets.items():
            cells = [row.get(k) for k in cols]
            table.add_row(det, subset, *("–" if v is None or v != v else f"{v:.3f}" for v in cells))
    return table


@app.command()
def models(fmt: str = typer.Option("table", "--format", "-f", help="table | json")) -> None:
    """List detectors: task, input size, licence and the metrics on their cards."""
    cards = [describe_detector(n) for n in available_detectors()]
    if fmt == "json":
        sys.stdout.write(json.dumps(cards, indent=2) + "\n")
        return
    table = Table()
    for col in ("name", "task", "input size", "licence", "card metrics"):
        table.add_column(col, overflow="fold")
    for c in cards:
        name = c.get("name", "") + (" (research reproduction)" if c.get("status") == RESEARCH else "")
        table.add_row(name, c.get("task", ""), str(c.get("input_size") or "any"),
                      c.get("licence", ""), card_metrics(c))
    Console().print(table)


SHORT_METRIC_NAMES = {
    "f1_mean_per_image": "F1", "iou_mean_per_image": "IoU", "auc_mean_per_image": "pixel AUC",
    "false_positive_area_mean_per_authentic_image": "FP area", "image_roc_auc": "image AUC",
    "acc": "acc", "ap": "AP", "real_acc": "real acc", "fake_acc": "fake acc",
    "false_positive_rate": "FPR", "patch_f1_from_map_pooled_over_manipulated_images": "patch F1 (map)",
    "macro_f1": "macro-F1", "balanced_accuracy": "balanced acc",
    "fake_recall": "fake recall", "faces_dev_roc_auc": "faces AUC",
}


PER_CLASS = ("recall", "precision_balanced", "recall_per_group")  # triage cards: shown in full by --format json


def card_metrics(card: dict) -> str:
    """Short form for the table (`models --format json` has every name in full)."""
    parts = []
    entries = []
    for dataset, values in (card.get("metrics") or {}).items():
        if not isinstance(values, dict):  # e.g. "source": the JSON the numbers came from
            continue
        nested = {k: v for k, v in values.items() if isinstance(v, dict) and k not in PER_CLASS}
        if not nested:
            entries.append((dataset, values))
        for sub, sv in nested.items():  # e.g. test -> synthetic -> per kind + mean
            entries.append((f"{dataset} {sub}" + (" (mean)" if isinstance(sv.get("mean"), dict) else ""),
                            sv.get("mean") if isinstance(sv.get("mean"), dict) else sv))
    for dataset, values in entries:
        shown = ", ".join(f"{SHORT_METRIC_NAMES[k]} {v:.2f}" for k, v in values.items()
                          if k in SHORT_METRIC_NAMES and isinstance(v, (int, float)))
        if shown:
            parts.append(f"{dataset}: {shown}")
    cal = card.get("calibration")
    if cal and cal.get("not_calibrated"):
        parts.append(f"not calibrated ({cal['not_calibrated']})")
    elif cal and cal.get("test"):
        parts.append(f"calibrated: test ECE {cal['test']['ece_raw']:.2f} -> {cal['test']['ece']:.2f}")
    for kind, r in (card.get("robustness") or {}).items():
        social = f", social chain {r['social@1']:.2f}" if "social@1" in r else ""
        parts.append(f"robustness ({r['metric']}): unperturbed {r['unperturbed']:.2f}{social}, "
                     f"worst {r['worst'][r['metric']]:.2f} ({r['worst']['perturbation']})")
    return "; ".join(parts) or "none yet"


@app.command()
def audit(
    dataset: Path = typer.Argument(..., help="A 0_real/ + 1_fake/ tree, an image + mask folder, a CSV manifest image,mask, "
                                              "or `generator-pool` (the lite-probe's training pool)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write results.json and results.md here."),
    limit: float = typer.Option(0.6, "--limit", help="AUC above which a file fact counts as a shortcut."),
    data: Optional[Path] = DATA,
    art: Path = typer.Option(Path("work/real-art"), "--art", help="generator-pool: output of scripts/fetch_real_art.py."),
) -> None:
    """Can the labels be predicted from file facts alone (format, JPEG quality, EXIF, size,
    file size)? Warns when they can: scores on such a set may measure the format. On
    `generator-pool`: format, size and signal statistics, and each family's content confound."""
    from forenscope.data.datasets import DatasetError
    from forenscope.evaluate.audit import audit as run_audit, markdown, write

    if str(dataset) == "generator-pool":
        from forenscope.data.splits import data_root
        from forenscope.benchmarks.pool_audit import audit_markdown, audit_pool

        with exit_on(FileNotFoundError):
            report = audit_pool(data_root(data), art if (art / "manifest.tsv").is_file() else None, limit=limit)
        sys.stdout.write(audit_markdown(report))
        if out:
            write(report, out, lambda r: "# Shortcut audit of the generator pool\n\n" + audit_markdown(r))
        if not report["passes"]:
            stderr.print(f"[yellow]warning:[/] format and size separate the classes "
                         f"(AUC {report['cv_auc']['format_size']:.3f} > {limit})", highlight=False)
        return

    with exit_on(DatasetError, FileNotFoundError):
        report = run_audit(dataset, limit)
    sys.stdout.write(markdown(report))
    for w in report["warnings"]:
        stderr.print(f"[yellow]warning:[/] {w}", highlight=False)
    if out:
        write(report, out)

