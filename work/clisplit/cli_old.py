"""The command line: ``forenscope detect | localize | eval | models``.

Machine-readable output (``--format jsonl``) is a stable contract, documented in
docs/OUTPUT.md: one JSON object per input per line with ``path``, ``detector``, ``score``,
``label``, ``error`` (null on success), and for ``localize`` also ``heatmap`` and ``mask``.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from forenscope import DEFAULT_DETECTOR, DEFAULT_DETECTORS, DEFAULT_LOCALIZER
from forenscope.benchmarks.benchmark import protocol_names
from forenscope.data.inputs import InputItem, expand_inputs, unique_output_stems
from forenscope.detectors import UnknownDetectorError, available_detectors, describe_detector, load_detector
from forenscope.detectors.base import RESEARCH, load_card
from forenscope.detectors.registry import get_detector_class
from forenscope.imageio import DEFAULT_MAX_PIXELS, ImageError, read_image
from forenscope.provenance.evidence import evidence_lines
from forenscope.report.maps import write_heatmap_png, write_mask_png, write_overlay_png

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Image forensics: generated? tampered? where?")
stderr = Console(stderr=True, soft_wrap=True)  # never hard-wrapped: a command in a message stays whole
FORMATS = ("table", "jsonl", "csv")
BASE_FIELDS = ["path", "detector", "score", "label", "error"]
MAP_FIELDS = ["heatmap", "mask"]


def main() -> None:
    """On a terminal, typer's framed errors; otherwise (a log, a pipe, CI) click's plain
    "Error: ..." line, so that no message, command or path is cut at 80 columns."""
    if not sys.stderr.isatty():
        from typer import rich_utils

        if hasattr(rich_utils, "rich_format_error"):  # typer calls it for usage errors
            rich_utils.rich_format_error = lambda exc: exc.show()
    app()


# ------------------------------------------------------------------ shared helpers


def _parse_params(params: list[str]) -> dict:
    """``--param quality=95`` -> {"quality": 95}: values parsed as JSON when they can be."""
    out = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {p!r}", param_hint="--param")
        name = key.strip().replace("-", "_")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


def _load(name: str, params: dict):
    try:
        det = load_detector(name, **params)
        _warn_if_research(name)
        return det
    except UnknownDetectorError as exc:
        raise typer.BadParameter(str(exc), param_hint="--detector") from None
    except (TypeError, ValueError) as exc:
        raise typer.BadParameter(f"{name}: {exc}", param_hint="--param") from None
    except FileNotFoundError as exc:  # e.g. a trained detector whose weights are not shipped
        stderr.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None


def _check_name(name: str, hint: str = "--detector") -> None:
    """A usage error with "did you mean" for an unknown detector name, without loading weights."""
    try:
        get_detector_class(name)
    except UnknownDetectorError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


def _warn_if_research(name: str) -> None:
    """A detector whose card says it is a research reproduction says so whenever it is used."""
    card = load_card(name) or {}
    if card.get("status") == RESEARCH:
        stderr.print(f"note: {name} is a research reproduction, not fit for triage: {card.get('status_note', '')}",
                     highlight=False, markup=False)


@contextmanager
def _progress(total: int, show: Optional[bool], desc: str):
    """A progress bar with ETA on stderr, on by default for more than one input on a terminal;
    when stderr is not a terminal (a log file, a pipe) a line every tenth of the work (at most
    every 100 inputs) instead, so long runs are never silent. ``--no-progress``: neither."""
    enabled = (total > 1 and stderr.is_terminal) if show is None else show
    if show is None and not enabled and total > 1:
        yield _progress_lines(total, desc)
        return
    if not enabled:
        yield lambda: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=stderr, transient=True) as prog:
        task = prog.add_task(desc, total=total)
        yield lambda: prog.advance(task)


def _progress_lines(total: int, desc: str):
    every, start, done = max(1, min(100, total // 10)), time.time(), [0]

    def step() -> None:
        done[0] += 1
        if done[0] % every == 0 or done[0] == total:
            rate = done[0] / max(time.time() - start, 1e-9)
            stderr.print(f"{desc}: {done[0]}/{total} ({rate:.1f}/s, {(total - done[0]) / rate:.0f} s left)",
                         highlight=False)
    return step


def _iter_progress(show: Optional[bool]):
    def wrap(iterable, total, desc):
        with _progress(total, show, desc) as step:
            for x in iterable:
                yield x
                step()
    return wrap


class _Writer:
    """Streams jsonl/csv lines as results arrive; collects rows for the final table."""

    def __init__(self, fmt: str, fields: list[str]):
        self.fmt, self.fields, self.rows = fmt, fields, []
        self._csv = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore") if fmt == "csv" else None
        if self._csv:
            self._csv.writeheader()

    def write(self, row: dict) -> None:
        if self.fmt == "jsonl":
            sys.stdout.write(json.dumps({k: row.get(k) for k in self.fields}) + "\n")
        elif self._csv:
            self._csv.writerow({k: ("" if row.get(k) is None else
                                    " | ".join(row[k]) if isinstance(row[k], list) else row.get(k)) for k in self.fields})
        else:
            self.rows.append(row)
        sys.stdout.flush()

    def close(self) -> None:
        """The table for people: path, score, label, and the error or where the maps went."""
        if self.fmt != "table" or not self.rows:
            return
        table = Table(title=f"detector: {self.rows[0]['detector']}", title_justify="left")
        table.add_column("path", overflow="fold", ratio=3)
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("label", no_wrap=True)
        table.add_column("error / heatmap", overflow="fold", ratio=3)
        for r in self.rows:
            note = r.get("error") or r.get("heatmap") or ""
            table.add_row(r["path"], _cell(r.get("score")), r.get("label") or "", note)
        console = Console()
        console.print(table)
        for r in self.rows:  # provenance: what each file says about itself, below the table
            if r.get("evidence"):
                console.print(f"{r['path']}:", highlight=False)
                for line in r["evidence"]:
                    console.print(f"  - {line}", highlight=False, markup=False)


def _cell(v) -> str:
    if v is None:
        return ""
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _run_images(inputs: list[str], detector: str, params: list[str], fmt: str, out: Optional[Path],
                overlay: bool, max_pixels: int, progress: Optional[bool], localize: bool, band: float = 0.0) -> int:
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    det = _load(detector, _parse_params(params))
    items = expand_inputs(inputs)
    if not items:
        stderr.print("[red]error:[/] no inputs")
        return 2
    fields = BASE_FIELDS + (MAP_FIELDS + (["overlay"] if overlay else []) if (localize or out) else [])
    fields += ["evidence"] if det.name == "provenance" else []
    writer = _Writer(fmt, fields)
    stems = unique_output_stems(items)
    failed = 0
    with _progress(len(items), progress, det.name) as step:
        for item, stem in zip(items, stems):
            row = _analyse_one(det, item, stem, out, overlay, max_pixels, band)
            if row["error"]:
                failed += 1
                if fmt == "table":
                    stderr.print(f"[red]error:[/] {row['error']}", highlight=False)
            writer.write(row)
            step()
    writer.close()
    done = len(items) - failed
    stderr.print(f"{done} analysed, {failed} failed" + (f"; maps in {out}" if out and done else ""),
                 highlight=False)
    return 1 if failed else 0


def _analyse_one(det, item: InputItem, stem: Path, out: Optional[Path], overlay: bool,
                 max_pixels: int, band: float = 0.0) -> dict:
    row = {"path": str(item.path), "detector": det.name, "score": None, "label": None,
           "error": None, "heatmap": None, "mask": None, "overlay": None}
    if item.error:
        row["error"] = f"{item.path}: {item.error}"
        return row
    try:
        pixels, meta = read_image(item.path, max_pixels=max_pixels)
        result = det.analyze(pixels, meta)
    except ImageError as exc:
        row["error"] = str(exc)
        return row
    except Exception as exc:  # one bad image never stops a batch
        row["error"] = f"{item.path}: {det.name} failed: {type(exc).__name__}: {exc}"
        return row
    row.update(score=round(float(result.score), 6), label=result.label)
    if "evidence" in result.extras:
        row["evidence"] = evidence_lines(result.extras)
    if band > 0 and result.label != "no evidence":
        from forenscope.report.verdict import logit

        if abs(logit(result.score) - logit(det.threshold)) < band:
            row["label"] = "uncertain"
    if out is not None and result.heatmap is not None:
        base = out / stem
        row["heatmap"] = str(write_heatmap_png(result.heatmap, base.with_name(base.name + ".heatmap.png")))
        row["mask"] = str(write_mask_png(result.mask, base.with_name(base.name + ".mask.png")))
        if overlay:
            row["overlay"] = str(write_overlay_png(pixels, result.heatmap, result.mask,
                                                   base.with_name(base.name + ".overlay.png")))
    return row


# ------------------------------------------------------------------ commands

_INPUTS = typer.Argument(..., help="Image files, folders (searched recursively) or glob patterns.")
_FORMAT = typer.Option("table", "--format", "-f", help="table | jsonl | csv (jsonl/csv stream to stdout).")
_PARAM = typer.Option([], "--param", "-p", help="Detector option KEY=VALUE, e.g. -p quality=95. Repeatable.")
_MAXPIX = typer.Option(DEFAULT_MAX_PIXELS, "--max-pixels", help="Refuse larger images (decompression bombs).")
_PROGRESS = typer.Option(None, "--progress/--no-progress", help="Progress bar on stderr (default: on a terminal).")
_BAND = typer.Option(1.0, "--band", help="Label 'uncertain' when logit(score) is within this of logit(threshold), as scan and serve do (0: off).")


@app.command()
def detect(
    inputs: list[str] = _INPUTS,
    detector: str = typer.Option(DEFAULT_DETECTOR, "--detector", "-d", help="Registry name; see `forenscope models`."),
    fmt: str = _FORMAT,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write heatmap and mask PNGs here."),
    overlay: bool = typer.Option(False, "--overlay", help="With --out: also write a heatmap overlay PNG."),
    param: list[str] = _PARAM,
    max_pixels: int = _MAXPIX,
    progress: Optional[bool] = _PROGRESS,
    band: float = _BAND,
) -> None:
    """Score each image: is it generated / tampered? Exit status 1 if any input failed."""
    raise typer.Exit(_run_images(inputs, detector, param, fmt, out, overlay, max_pixels, progress, False, band))


@app.command()
def localize(
    inputs: list[str] = _INPUTS,
    detector: str = typer.Option(DEFAULT_LOCALIZER, "--detector", "-d", help="Registry name; see `forenscope models`."),
    fmt: str = _FORMAT,
    out: Path = typer.Option(Path("forenscope-out"), "--out", "-o", help="Folder for heatmap and mask PNGs."),
    overlay: bool = typer.Option(False, "--overlay", help="Also write a heatmap overlay PNG per image."),
    param: list[str] = _PARAM,
    max_pixels: int = _MAXPIX,
    progress: Optional[bool] = _PROGRESS,
) -> None:
    """Where was each image manipulated? Writes <out>/<name>.heatmap.png and .mask.png at the
    input's exact size (255 = manipulated). Exit status 1 if any input failed."""
    _check_name(detector)
    task = get_detector_class(detector).task
    if task != "localize":  # decided from the registry: no weights loaded for a wrong command
        raise typer.BadParameter(f"{detector!r} gives no heatmap (task {task!r}); "
                                 f"use `forenscope detect`", param_hint="--detector")
    raise typer.Exit(_run_images(inputs, detector, param, fmt, out, overlay, max_pixels, progress, True))


@app.command("eval")
def eval_(
    dataset: Path = typer.Argument(..., help="0_real/1_fake tree, Tp/+Gt/ (or forged/+masks/) folder, or a CSV manifest image,mask."),
    detector: list[str] = typer.Option([], "--detector", "-d", help="Registry name(s). Repeatable."),
    out: Path = typer.Option(Path("forenscope-eval"), "--out", "-o", help="Folder for results.json, results.md, per_image.jsonl."),
    kind: str = typer.Option("auto", "--kind", help="auto | image | pixel"),
    run_dir: list[str] = typer.Option([], "--run", help="NAME=DIR: load detector NAME from a training run folder instead of shipped weights. Repeatable."),
    seed: int = typer.Option(0, "--seed", help="Recorded in results.json; seeds numpy."),
    max_pixels: int = _MAXPIX,
    progress: Optional[bool] = _PROGRESS,
) -> None:
    """Evaluate detectors on a labelled dataset; write results.json + results.md."""
    from forenscope.data.datasets import DatasetError
    from forenscope.evaluate.runner import EvalRun, evaluate, write_results

    if not dataset.exists():
        raise typer.BadParameter(f"{dataset}: no such file or folder", param_hint="DATASET")
    runs = {}
    for spec in run_dir:
        name, sep, folder = spec.partition("=")
        if not sep or not Path(folder).is_dir():
            raise typer.BadParameter(f"expected NAME=DIR with an existing DIR, got {spec!r}", param_hint="--run")
        runs[name] = folder
    dets = [_load(name, {"run": runs[name]} if name in runs else {}) for name in (detector or [DEFAULT_DETECTOR])]
    run = EvalRun(dataset=dataset, detectors=dets, seed=seed, max_pixels=max_pixels,
                  progress=_iter_progress(progress))
    try:
        result = evaluate(run, kind=kind)
    except DatasetError as exc:
        stderr.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    paths = write_results(result, run.per_image, out)
    Console().print(_eval_summary(result))
    for e in run.errors:
        stderr.print(f"[red]error:[/] {e['error']}", highlight=False)
    stderr.print(f"wrote {paths['json']} and {paths['md']}", highlight=False)
    raise typer.Exit(1 if run.errors else 0)


# the few figures a terminal shows (results.md has every metric): name in results.json -> column
_EVAL_SUMMARY = {
    "image": {"ap": "AP", "roc_auc": "ROC-AUC", "acc": "acc"},
    "pixel": {"f1_mean_per_image": "pixel F1", "auc_mean_per_image": "pixel AUC",
              "false_positive_area_mean_per_authentic_image": "FP area", "image_roc_auc": "image AUC"},
}


def _eval_summary(result: dict) -> Table:
    """Per detector and subset, the headline metrics, with the trivial baselines beside them."""
    cols = _EVAL_SUMMARY[result["kind"]]
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
                      c.get("licence", ""), _card_metrics(c))
    Console().print(table)


_SHORT_METRIC_NAMES = {
    "f1_mean_per_image": "F1", "iou_mean_per_image": "IoU", "auc_mean_per_image": "pixel AUC",
    "false_positive_area_mean_per_authentic_image": "FP area", "image_roc_auc": "image AUC",
    "acc": "acc", "ap": "AP", "real_acc": "real acc", "fake_acc": "fake acc",
    "false_positive_rate": "FPR", "patch_f1_from_map_pooled_over_manipulated_images": "patch F1 (map)",
    "macro_f1": "macro-F1", "balanced_accuracy": "balanced acc",
    "fake_recall": "fake recall", "faces_dev_roc_auc": "faces AUC",
}


_PER_CLASS = ("recall", "precision_balanced", "recall_per_group")  # triage cards: shown in full by --format json


def _card_metrics(card: dict) -> str:
    """Short form for the table (`models --format json` has every name in full)."""
    parts = []
    entries = []
    for dataset, values in (card.get("metrics") or {}).items():
        if not isinstance(values, dict):  # e.g. "source": the JSON the numbers came from
            continue
        nested = {k: v for k, v in values.items() if isinstance(v, dict) and k not in _PER_CLASS}
        if not nested:
            entries.append((dataset, values))
        for sub, sv in nested.items():  # e.g. test -> synthetic -> per kind + mean
            entries.append((f"{dataset} {sub}" + (" (mean)" if isinstance(sv.get("mean"), dict) else ""),
                            sv.get("mean") if isinstance(sv.get("mean"), dict) else sv))
    for dataset, values in entries:
        shown = ", ".join(f"{_SHORT_METRIC_NAMES[k]} {v:.2f}" for k, v in values.items()
                          if k in _SHORT_METRIC_NAMES and isinstance(v, (int, float)))
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


# ------------------------------------------------------------------ training

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def _reexec_with_tcmalloc() -> None:
    """glibc malloc halves eager PyTorch training speed on CPU; restart under tcmalloc when the
    library is installed (Debian libtcmalloc-minimal4). FORENSCOPE_NO_TCMALLOC=1 disables it."""
    import os

    if os.environ.get("FORENSCOPE_NO_TCMALLOC") or "tcmalloc" in os.environ.get("LD_PRELOAD", ""):
        return
    if not Path(TCMALLOC).is_file() or not Path(sys.argv[0]).is_file():
        return
    env = dict(os.environ, LD_PRELOAD=TCMALLOC)
    os.execve(sys.executable, [sys.executable, sys.argv[0], *sys.argv[1:]], env)


@app.command()
def train(
    config: Path = typer.Argument(..., help="A TOML training config (see configs/)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default work/runs/<config name>). Resumes if it holds a run."),
    data: Optional[Path] = typer.Option(None, "--data", help="Shared data folder (default $FORENSCOPE_DATA or ../shared/data)."),
    restart: bool = typer.Option(False, "--restart", help="Discard a previous run in --out and start again."),
    ship: bool = typer.Option(False, "--ship", help="Copy the result into forenscope's weights/ as <name>.safetensors + <name>.json."),
    stop_after: Optional[int] = typer.Option(None, "--stop-after", help="Checkpoint and stop at this step, as a crash would (to test resuming)."),
) -> None:
    """Train a detector from a config: seeded, resumable, best checkpoint on validation,
    threshold calibrated for the config's target false-positive rate. Under
    `torchrun --nproc-per-node N -m forenscope train CONFIG`, N processes share each batch
    (DDP, task generated)."""
    from forenscope.data.sources import SourceError
    from forenscope.data.splits import data_root
    from forenscope.train.config import ConfigError, load_config
    from forenscope.train.loop import train as run_training

    _reexec_with_tcmalloc()
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="CONFIG") from None
    canonical = config.with_name(f"{cfg['name']}.toml")
    if ship and config.stem != cfg["name"] and canonical.is_file():
        # a candidate (npr-jpeg.toml, pelee-hpf-robust.toml) must not overwrite the shipped model
        raise typer.BadParameter(f"{config} is a candidate for {cfg['name']!r}, which {canonical} ships; train it "
                                 "without --ship, or make it that config", param_hint="--ship")
    out = out or Path("work/runs") / config.stem
    log = lambda m: stderr.print(m, highlight=False)  # noqa: E731
    try:
        if cfg.get("task") == "localize":
            from forenscope.train.localize import train_localizer

            card = train_localizer(cfg, out, log=log, restart=restart)
        elif cfg.get("task") == "probe":
            from forenscope.train.probe import train_probe

            card = train_probe(cfg, out, data_root(data), log=log)
        elif cfg.get("task") == "triage":
            from forenscope.train.triage import train_triage

            card = train_triage(cfg, out, data_root(data), log=log, restart=restart)
        else:
            card = run_training(cfg, out, data_root(data), Path.cwd(), log=log, restart=restart,
                                stop_after=stop_after)
    except (SourceError, ValueError, FileNotFoundError) as exc:
        stderr.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if card is None:
        stderr.print(f"stopped at step {stop_after}; run the same command again to resume", highlight=False)
        return
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 reports and ships
        return
    sys.stdout.write(json.dumps(card["metrics"], indent=2) + "\n")
    if ship:
        import shutil
        from importlib import resources

        dest = Path(str(resources.files("forenscope") / "weights"))
        shutil.copyfile(out / "model.safetensors", dest / f"{cfg['name']}.safetensors")
        shutil.copyfile(out / "card.json", dest / f"{cfg['name']}.json")
        stderr.print(f"shipped {cfg['name']} to {dest}", highlight=False)


@app.command()
def benchmark(
    protocol: str = typer.Argument(..., help=f"A shipped protocol ({', '.join(protocol_names())}) or a protocol YAML file."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default work/benchmarks/<protocol>). A rerun reuses its trained model."),
    data: Optional[Path] = typer.Option(None, "--data", help="Shared data folder (default $FORENSCOPE_DATA or ../shared/data)."),
    forgeries: Path = typer.Option(Path("work/synth-forgeries"), "--forgeries", help="Output of `forenscope synth forgeries`."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="Where the protocol's model is trained (default <out>/model); generator-holdout: its feature cache (default work/probe-features)."),
    update_cards: bool = typer.Option(False, "--update-cards", help="Write the test metrics into shipped cards whose weights are this model's."),
) -> None:
    """Run a published evaluation protocol rebuilt from the data available here: train, test
    on every set it lists, write results.json + results.md + results.png."""
    from forenscope.data.splits import data_root
    from forenscope.benchmarks.benchmark import ProtocolError, load_protocol, run_benchmark, update_matching_cards

    _reexec_with_tcmalloc()
    log = lambda m: stderr.print(m, highlight=False)  # noqa: E731
    try:
        proto = load_protocol(protocol)
        out = out or Path("work/benchmarks") / proto["name"]
        result = run_benchmark(proto, out, data_root(data), forgeries, log=log, model_dir=model_dir)
    except (ProtocolError, ValueError, FileNotFoundError) as exc:
        stderr.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    sys.stdout.write((out / "results.md").read_text(encoding="utf-8"))
    if update_cards:
        for name in update_matching_cards(result, (out / "results.json").as_posix()):
            log(f"card updated: {name}")
    log(f"wrote {out / 'results.json'}, results.md, results.png")


@app.command()
def scan(
    folder: Path = typer.Argument(..., help="Folder of images (searched recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="Report folder: results.jsonl, report.html, summary.png, assets/. A rerun resumes."),
    detector: list[str] = typer.Option([], "--detector", "-d", help=f"Detectors to run (repeatable; default {', '.join(DEFAULT_DETECTORS)})."),
    band: float = typer.Option(1.0, "--band", help="Margin in logit units around each threshold that counts as uncertain."),
    views: bool = typer.Option(True, "--views/--no-views", help="ELA and noise pictures per image."),
    engine: str = typer.Option("local", "--engine", help="local | ray (Ray actors; pip install 'forenscope\\[distributed]')."),
    workers: int = typer.Option(2, "--workers", help="With --engine ray: actors (one CPU each)."),
    gpus_per_worker: float = typer.Option(0.0, "--gpus-per-worker", help="With --engine ray: GPUs per actor (needs onnxruntime-gpu on the workers)."),
    parquet: bool = typer.Option(False, "--parquet", help="Also write results.parquet (flat columns + each full line; needs pyarrow)."),
    max_pixels: int = _MAXPIX,
    progress: Optional[bool] = _PROGRESS,
) -> None:
    """Scan a folder into a report: one verdict per image (authentic / generated / tampered /
    uncertain) with the scores behind it, heatmaps, ELA, noise, EXIF and JPEG facts. Resumable:
    killed and run again, it skips what is done. Exit status 1 if any input failed."""
    from forenscope.report.scan import ScanConfig, scan as run_scan

    if folder.is_file():
        stderr.print(f"[red]error:[/] {escape(str(folder))} is a file: scan takes a folder and writes one report for "
                     f"it; for single files use `forenscope detect {escape(str(folder))}`", highlight=False)
        raise typer.Exit(2)
    cfg = ScanConfig(detectors=detector or list(DEFAULT_DETECTORS), band=band,
                     max_pixels=max_pixels, views=views)
    dets = [_load(name, {}) for name in cfg.detectors]  # unknown names fail here, before any work
    if engine not in ("local", "ray"):
        raise typer.BadParameter("must be local or ray", param_hint="--engine")
    if engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            stderr.print("[red]error:[/] --engine ray needs Ray: pip install 'forenscope\\[distributed]'", highlight=False)
            raise typer.Exit(2) from None
    if parquet:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            stderr.print("[red]error:[/] --parquet needs pyarrow: pip install pyarrow", highlight=False)
            raise typer.Exit(2) from None
    log = lambda m: stderr.print(m, highlight=False)  # noqa: E731
    with ExitStack() as stack:
        def bar(total):
            return stack.enter_context(_progress(total, progress, "scan"))
        try:
            counts = run_scan(folder, out, cfg, log=log, progress=bar, detectors=dets, engine=engine, workers=workers,
                              parquet=parquet, gpus_per_worker=gpus_per_worker)
        except FileNotFoundError as exc:
            stderr.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
    stderr.print(f"{counts['analysed']} analysed, {counts['failed']} failed, {counts['duplicates']} duplicates, "
                 f"{counts['skipped']} done before; report: {out / 'report.html'}", highlight=False)
    raise typer.Exit(1 if counts["failed"] else 0)


@app.command()
def export(
    model: str = typer.Argument(..., help="A detector with a trained network (see `forenscope models`), or `all`."),
    onnx: bool = typer.Option(False, "--onnx", help="Export to ONNX (the only format so far)."),
    out: Path = typer.Option(Path("export"), "--out", "-o", help="Output .onnx file, or a folder (with `all`, or when it is one)."),
    run: Optional[Path] = typer.Option(None, "--run", help="Export a training run's network instead of the shipped one."),
    atol: float = typer.Option(1e-4, "--atol", help="Largest |ONNX Runtime - PyTorch| accepted on the check input."),
) -> None:
    """Export a network to ONNX, checked against PyTorch (report beside it as <file>.json)."""
    from forenscope.detectors import available_detectors, describe_detector
    from forenscope.export import export_detector

    if not onnx:
        raise typer.BadParameter("choose a format: --onnx", param_hint="--onnx")
    if model == "all":
        names = [n for n in available_detectors() if "family" in describe_detector(n) and "network" in describe_detector(n)]
    else:
        _check_name(model, "MODEL")  # "did you mean" on typos, without loading the detector
        names = [model]
    failed = 0
    for name in names:
        path = out / f"{name}.onnx" if (model == "all" or out.is_dir() or not out.suffix) else out
        try:
            r = export_detector(name, path, str(run) if run else None, atol)
            stderr.print(f"{name}: {path} ({r['bytes'] / 1e6:.1f} MB), max |ORT - PyTorch| {r['max_abs_diff']:.1e}",
                         highlight=False)
        except (ValueError, FileNotFoundError) as exc:
            failed += 1
            stderr.print(f"[red]error:[/] {exc}", highlight=False)
    raise typer.Exit(1 if failed else 0)


@app.command()
def robustness(
    config: Path = typer.Argument(..., help="A robustness config (TOML), e.g. configs/robustness.toml."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default work/robustness/<config name>)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Shared data folder (default $FORENSCOPE_DATA or ../shared/data)."),
    detector: list[str] = typer.Option([], "--detector", "-d", help="Replace the config's detectors: NAME, or NAME@RUN_DIR for a training run (a candidate). Repeatable."),
    ship: bool = typer.Option(False, "--ship", help="Write each detector's robustness summary into its shipped card."),
) -> None:
    """Score detectors on test sets under a seeded suite of real-world processing (JPEG, WebP,
    resizing, crops, blur, noise, tone, the social-media chain): results.json, results.md,
    curves.png."""
    from forenscope.data.splits import data_root
    from forenscope.evaluate.robustness import load_config as load_suite, run_robustness, with_detectors
    from forenscope.evaluate.robustness import ship as ship_cards

    _reexec_with_tcmalloc()
    log = lambda m: stderr.print(m, highlight=False)  # noqa: E731
    try:
        cfg = load_suite(config)
        if detector:
            cfg = with_detectors(cfg, detector)
        out = out or Path("work/robustness") / config.stem
        result = run_robustness(cfg, out, data_root(data), log=log, config_path=config.as_posix())
    except (ValueError, FileNotFoundError) as exc:
        stderr.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    sys.stdout.write((out / "results.md").read_text(encoding="utf-8"))
    if ship:
        log(f"robustness summary written into the cards of {', '.join(ship_cards(result, out.as_posix(), log))}")


@app.command()
def calibrate(
    config: Path = typer.Argument(..., help="A calibration config (TOML), e.g. configs/calibration.toml."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default work/calibration/<config name>)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Shared data folder (default $FORENSCOPE_DATA or ../shared/data)."),
    ship: bool = typer.Option(False, "--ship", help="Write each fit and its figures into the shipped card: scores become calibrated probabilities."),
) -> None:
    """Fit Platt scaling on validation data for each detector; report ECE, Brier score and
    reliability diagrams before and after on the test set: results.json, results.md, <name>.png."""
    from forenscope.data.splits import data_root
    from forenscope.evaluate.calibration import CalibrationError, load_config as load_cal, run_calibration
    from forenscope.evaluate.calibration import ship as ship_cards

    _reexec_with_tcmalloc()
    log = lambda m: stderr.print(m, highlight=False)  # noqa: E731
    try:
        cfg = load_cal(config)
        out = out or Path("work/calibration") / config.stem
        result = run_calibration(cfg, out, data_root(data), log=log, config_path=config.as_posix())
    except (CalibrationError, ValueError, FileNotFoundError) as exc:
        stderr.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    sys.stdout.write((out / "results.md").read_text(encoding="utf-8"))
    if ship:
        written = ship_cards(result, out.as_posix(), log)
        log(f"calibration written into the cards of {', '.join(written)}")


@app.command()
def audit(
    dataset: Path = typer.Argument(..., help="A 0_real/ + 1_fake/ tree, an image + mask folder, a CSV manifest image,mask, "
                                              "or `generator-pool` (the lite-probe's training pool)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write results.json and results.md here."),
    limit: float = typer.Option(0.6, "--limit", help="AUC above which a file fact counts as a shortcut."),
    data: Optional[Path] = typer.Option(None, "--data", help="generator-pool: shared data folder (default $FORENSCOPE_DATA or ../shared/data)."),
    art: Path = typer.Option(Path("work/real-art"), "--art", help="generator-pool: output of scripts/fetch_real_art.py."),
) -> None:
    """Can the labels be predicted from file facts alone (format, JPEG quality, EXIF, size,
    file size)? Warns when they can: scores on such a set may measure the format. On
    `generator-pool`: format, size and signal statistics, and each family's content confound."""
    from forenscope.data.datasets import DatasetError
    from forenscope.evaluate.audit import audit as run_audit, markdown, write

    if str(dataset) == "generator-pool":
        from forenscope.data.splits import data_root
        from forenscope.benchmarks.family_holdout import audit_markdown, audit_pool

        try:
            report = audit_pool(data_root(data), art if (art / "manifest.tsv").is_file() else None, limit=limit)
        except FileNotFoundError as exc:
            stderr.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
        sys.stdout.write(audit_markdown(report))
        if out:
            write(report, out, lambda r: "# Shortcut audit of the generator pool\n\n" + audit_markdown(r))
        if not report["passes"]:
            stderr.print(f"[yellow]warning:[/] format and size separate the classes "
                         f"(AUC {report['cv_auc']['format_size']:.3f} > {limit})", highlight=False)
        return

    try:
        report = run_audit(dataset, limit)
    except (DatasetError, FileNotFoundError) as exc:
        stderr.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    sys.stdout.write(markdown(report))
    for w in report["warnings"]:
        stderr.print(f"[yellow]warning:[/] {w}", highlight=False)
    if out:
        write(report, out)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; 0.0.0.0 exposes the service to your network."),
    port: int = typer.Option(8000, "--port"),
    detector: list[str] = typer.Option([], "--detector", "-d", help=f"Default detectors (repeatable; default {', '.join(DEFAULT_DETECTORS)}); a request may name others."),
    workers: int = typer.Option(2, "--workers", help="Analyses running at once."),
    queue: int = typer.Option(8, "--queue", help="Requests that may wait; beyond, 503."),
    max_upload_mb: float = typer.Option(25.0, "--max-upload-mb", help="Largest upload accepted (413 beyond)."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help="Largest image in pixels (413 beyond; decompression bombs)."),
    api_key_file: Optional[Path] = typer.Option(None, "--api-key-file", help="API keys, one per line as `KEY [NAME]`; also $FORENSCOPE_API_KEYS (comma-separated). Clients send `Authorization: Bearer KEY`."),
    insecure: bool = typer.Option(False, "--insecure", help="Allow binding beyond loopback without API keys (anyone who reaches the port may use it)."),
    rate: int = typer.Option(120, "--rate", help="Requests per minute per client (key, or address without keys); 429 beyond. 0: no limit."),
    client_concurrency: int = typer.Option(4, "--client-concurrency", help="Analyses at once per client; 429 beyond. 0: no limit."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds for a whole request: 408 if the upload is not in by then, 503 if the analysis is not done."),
    cors_origin: Optional[str] = typer.Option(None, "--cors-origin", help="Let pages from this origin (e.g. https://desk.example.org) call the API; off by default."),
) -> None:
    """Serve the detectors over HTTP: POST /v1/analyze, GET /v1/models, /healthz, /openapi.json,
    and a page at / to drop an image on."""
    import logging

    import uvicorn

    from forenscope.serve.app import create_app
    from forenscope.serve.security import KeyError_, is_loopback, load_keys

    try:
        keys = load_keys(api_key_file)
    except KeyError_ as exc:
        stderr.print(f"[red]error:[/] {exc}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    if not keys and not is_loopback(host) and not insecure:
        stderr.print(f"error: refusing to serve on {host} without API keys: anyone who can reach the port could "
                     "use it. Give --api-key-file FILE (or $FORENSCOPE_API_KEYS), bind 127.0.0.1, or add --insecure.",
                     highlight=False, markup=False)
        raise typer.Exit(2)
    names = detector or list(DEFAULT_DETECTORS)
    for name in names:  # fail now, with "did you mean", not on the first request (no weights loaded yet)
        _check_name(name)
    try:  # preload loads each detector once
        app_ = create_app(names, max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_pixels=max_pixels,
                          workers=workers, queue=queue, preload=True, api_keys=keys, rate_per_minute=rate,
                          concurrent_per_client=client_concurrency, request_timeout=timeout, cors_origin=cors_origin)
    except FileNotFoundError as exc:  # a trained detector whose weights are not shipped
        stderr.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    for name in names:
        _warn_if_research(name)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    access = f"{len(keys)} API key(s)" if keys else "NO AUTHENTICATION (--insecure)" if not is_loopback(host) \
        else "no API keys (loopback only)"
    stderr.print(f"forenscope serving on http://{host}:{port}/ (detectors {', '.join(names)}; {access}; "
                 f"{rate or 'unlimited'} requests/min and {client_concurrency or 'unlimited'} analyses at once "
                 f"per client; {timeout:g} s per request)", highlight=False, markup=False)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


# ------------------------------------------------------------------ synthesis

synth_app = typer.Typer(no_args_is_help=True, help="Make training data from real photos.")
app.add_typer(synth_app, name="synth")


def _photos_and_provenance(data: Optional[Path]) -> tuple[Path, dict]:
    """The data root and what every synthesised set records: commit, environment and the
    content hash of the real photos it was made from. Exits 2 when there are no photos."""
    from forenscope.data.datasets import manifest_hash
    from forenscope.data.splits import data_root, real_photos
    from forenscope.records import environment, git_commit

    root = data_root(data)
    try:
        photos = real_photos(root)
    except FileNotFoundError as exc:
        stderr.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    return root, {"git": git_commit(), "environment": environment(),
                  "data_manifest_sha256": manifest_hash([p for _, p in photos], root)}


@synth_app.command("generators")
def synth_generators(
    out: Path = typer.Option(Path("work/synth-generators"), "--out", "-o", help="Output folder (resumable)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Shared data folder (default $FORENSCOPE_DATA or ../shared/data)."),
    generator: list[str] = typer.Option([], "--generator", "-g", help="Decoder name(s); default all."),
    steps: int = typer.Option(1200, "--steps", help="Training steps per decoder."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train decoders (nearest, bilinear, transposed-conv, pixel-shuffle, a GAN) on real photos
    and write paired real/fake crops with a manifest and each decoder's held-out PSNR."""
    from forenscope.synth.generators import SynthConfig, synthesize_generators

    root, prov = _photos_and_provenance(data)
    try:
        report = synthesize_generators(root, out, generator or None, SynthConfig(steps=steps, seed=seed),
                                       log=lambda m: stderr.print(m, highlight=False), provenance=prov)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--generator") from None
    for name, g in report["generators"].items():
        flag = "" if g["passes_min_psnr"] else "  [below the 30 dB target]"
        sys.stdout.write(f"{name}: held-out PSNR {g['heldout_psnr_db']} dB{flag}\n")
    sys.stdout.write(f"{report['pairs']} real/fake pairs in {out}\n")


@synth_app.command("forgeries")
def synth_forgeries(
    out: Path = typer.Option(Path("work/synth-forgeries"), "--out", "-o", help="Output folder (resumable)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Shared data folder (default $FORENSCOPE_DATA or ../shared/data)."),
    kind: list[str] = typer.Option([], "--kind", "-k", help="splice | copymove | inpaint-telea | inpaint-ns | inpaint-patch; default all."),
    train_per_photo: int = typer.Option(2, "--train-per-photo", help="Forgeries per kind per train photo."),
    copymove_mask: str = typer.Option("both", "--copymove-mask", help="both (source and target) | target"),
    seed: int = typer.Option(0, "--seed"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress"),
) -> None:
    """Make spliced, copy-moved and inpainted images with exact masks (and authentic images
    processed alike) from the real photos, split by photo; writes <split>.csv manifests that
    `forenscope eval` reads."""
    from forenscope.synth.forgeries import KINDS, ForgeryConfig, synthesize_forgeries

    try:
        cfg = ForgeryConfig(kinds=tuple(kind) or KINDS, copymove_mask=copymove_mask, seed=seed,
                            per_photo={"train": train_per_photo, "val": 1, "test": 1})
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    root, prov = _photos_and_provenance(data)
    report = synthesize_forgeries(root, out, cfg, log=lambda m: stderr.print(m, highlight=False),
                                  provenance=prov, progress=_iter_progress(progress))
    for split, counts in report["counts"].items():
        sys.stdout.write(f"{split}: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) + "\n")
    if report["failures"]:
        stderr.print(f"{len(report['failures'])} recipe(s) could not be realised (listed in forgeries.json)")


if __name__ == "__main__":
    main()
