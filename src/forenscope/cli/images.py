"""``forenscope detect`` and ``forenscope localize``: one line per input, streamed (jsonl / csv)
or a table; maps written as PNGs at the input's size.

Machine-readable output (``--format jsonl``) is a stable contract, documented in
docs/OUTPUT.md: one JSON object per input per line with ``path``, ``detector``, ``score``,
``label``, ``error`` (null on success), and for ``localize`` also ``heatmap`` and ``mask``.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from forenscope import DEFAULT_DETECTOR, DEFAULT_LOCALIZER
from forenscope.cli.common import MAXPIX, PROGRESS, app, detector_task, fail, load, parse_params, stderr
from forenscope.cli.progress import progress_bar
from forenscope.data.inputs import InputItem, expand_inputs, unique_output_stems
from forenscope.imageio import ImageError, read_image
from forenscope.report.maps import write_heatmap_png, write_mask_png, write_overlay_png
from forenscope.provenance.evidence import evidence_lines
from forenscope.verdict import analysis_row, shown_label

FORMATS = ("table", "jsonl", "csv")
BASE_FIELDS = ["path", "detector", "score", "label", "error"]
MAP_FIELDS = ["heatmap", "mask"]


class Writer:
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
            table.add_row(r["path"], "" if r.get("score") is None else f"{r['score']:.4f}", r.get("label") or "", note)
        console = Console()
        console.print(table)
        for r in self.rows:  # provenance: what each file says about itself, below the table
            if r.get("evidence"):
                console.print(f"{r['path']}:", highlight=False)
                for line in r["evidence"]:
                    console.print(f"  - {line}", highlight=False, markup=False)


def run_images(inputs: list[str], detector: str, params: list[str], fmt: str, out: Optional[Path],
               overlay: bool, max_pixels: int, progress: Optional[bool], localize: bool, band: float = 0.0) -> int:
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    det = load(detector, parse_params(params))
    items = expand_inputs(inputs)
    if not items:
        fail("no inputs")
    fields = BASE_FIELDS + (MAP_FIELDS + (["overlay"] if overlay else []) if (localize or out) else [])
    fields += ["evidence"] if det.name == "provenance" else []
    writer = Writer(fmt, fields)
    failed = 0
    with progress_bar(len(items), progress, det.name) as step:
        for item, stem in zip(items, unique_output_stems(items)):
            row = analyse_one(det, item, stem, out, overlay, max_pixels, band)
            if row["error"]:
                failed += 1
                if fmt == "table":
                    stderr.print(f"[red]error:[/] {escape(row['error'])}", highlight=False)
            writer.write(row)
            step()
    writer.close()
    done = len(items) - failed
    stderr.print(f"{done} analysed, {failed} failed" + (f"; maps in {out}" if out and done else ""),
                 highlight=False)
    return 1 if failed else 0


def analyse_one(det, item: InputItem, stem: Path, out: Optional[Path], overlay: bool,
                max_pixels: int, band: float = 0.0) -> dict:
    row = {"path": str(item.path), "detector": det.name, "score": None, "label": None,
           "error": None, "heatmap": None, "mask": None, "overlay": None}
    if item.error:
        return row | {"error": f"{item.path}: {item.error}"}
    try:
        pixels, meta = read_image(item.path, max_pixels=max_pixels)
        result = det.analyze(pixels, meta)
    except ImageError as exc:
        return row | {"error": str(exc)}
    except Exception as exc:  # one bad image never stops a batch
        return row | {"error": f"{item.path}: {det.name} failed: {type(exc).__name__}: {exc}"}
    read = analysis_row(result, det.threshold)
    row.update(score=read["score"], label=shown_label(read, band))
    if "evidence" in result.extras:  # provenance: what the file says about itself, as lines
        row["evidence"] = evidence_lines(result.extras)
    if out is not None and result.heatmap is not None:
        base = out / stem
        row["heatmap"] = str(write_heatmap_png(result.heatmap, base.with_name(base.name + ".heatmap.png")))
        row["mask"] = str(write_mask_png(result.mask, base.with_name(base.name + ".mask.png")))
        if overlay:
            row["overlay"] = str(write_overlay_png(pixels, result.heatmap, result.mask,
                                                   base.with_name(base.name + ".overlay.png")))
    return row


INPUTS = typer.Argument(..., help="Image files, folders (searched recursively) or glob patterns.")
FORMAT = typer.Option("table", "--format", "-f", help="table | jsonl | csv (jsonl/csv stream to stdout).")
PARAM = typer.Option([], "--param", "-p", help="Detector option KEY=VALUE, e.g. -p quality=95. Repeatable.")
BAND = typer.Option(1.0, "--band", help="Label 'uncertain' when logit(score) is within this of logit(threshold), as scan and serve do (0: off).")


@app.command()
def detect(
    inputs: list[str] = INPUTS,
    detector: str = typer.Option(DEFAULT_DETECTOR, "--detector", "-d", help="Registry name; see `forenscope models`."),
    fmt: str = FORMAT,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write heatmap and mask PNGs here."),
    overlay: bool = typer.Option(False, "--overlay", help="With --out: also write a heatmap overlay PNG."),
    param: list[str] = PARAM,
    max_pixels: int = MAXPIX,
    progress: Optional[bool] = PROGRESS,
    band: float = BAND,
) -> None:
    """Score each image: is it generated / tampered? Exit status 1 if any input failed."""
    raise typer.Exit(run_images(inputs, detector, param, fmt, out, overlay, max_pixels, progress, False, band))


@app.command()
def localize(
    inputs: list[str] = INPUTS,
    detector: str = typer.Option(DEFAULT_LOCALIZER, "--detector", "-d", help="Registry name; see `forenscope models`."),
    fmt: str = FORMAT,
    out: Path = typer.Option(Path("forenscope-out"), "--out", "-o", help="Folder for heatmap and mask PNGs."),
    overlay: bool = typer.Option(False, "--overlay", help="Also write a heatmap overlay PNG per image."),
    param: list[str] = PARAM,
    max_pixels: int = MAXPIX,
    progress: Optional[bool] = PROGRESS,
) -> None:
    """Where was each image manipulated? Writes <out>/<name>.heatmap.png and .mask.png at the
    input's exact size (255 = manipulated). Exit status 1 if any input failed."""
    task = detector_task(detector)
    if task != "localize":  # decided from the card or the registry: no weights loaded for a wrong command
        raise typer.BadParameter(f"{detector!r} gives no heatmap (task {task!r}); "
                                 f"use `forenscope detect`", param_hint="--detector")
    raise typer.Exit(run_images(inputs, detector, param, fmt, out, overlay, max_pixels, progress, True))
