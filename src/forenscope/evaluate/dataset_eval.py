"""Run detectors over an evaluation dataset and write results.json, results.md, per_image.jsonl.

Image level: per subset (generator) a row of image metrics, plus the unweighted mean over
subsets (NPR's tables). Pixel level: per subset the pixel metrics on manipulated images, the
false-positive area on authentic ones, and, when both kinds are present, image-level metrics
of the detector's score (a subset of authentic images only lends its images as negatives to
the subsets that have none). Unreadable images are recorded as errors and skipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forenscope.data.datasets import (
    find_binary_subsets,
    find_pixel_pairs,
    has_binary_layout,
    manifest_hash,
)
from forenscope.detectors.base import Detector
from forenscope.evaluate.metrics import PixelMetricAccumulator, image_metrics
from forenscope.records import environment, git_commit
from forenscope.imageio import DEFAULT_MAX_PIXELS, ImageError, read_image, read_truth_mask

IMAGE_COLUMNS = ("acc", "real_acc", "fake_acc", "ap", "roc_auc", "tpr_at_fpr_5pct", "oracle_acc")
PIXEL_COLUMNS = ("f1_mean_per_image", "iou_mean_per_image", "f1_best_threshold_mean_per_image",
                 "f1_map_or_inverse_mean_per_image", "auc_mean_per_image",
                 "false_positive_area_mean_per_authentic_image",
                 "patch_f1_from_map_pooled_over_manipulated_images", "patch_f1_from_map_pooled_over_all_images",
                 "image_ap", "image_roc_auc")
# trivial maps scored beside every localiser: a constant heat (and image score) on every image
BASELINE_MAPS = {"flag everything": 1.0, "flag nothing": 0.0}

Progress = Callable[[Iterable, int, str], Iterable]


@dataclass
class EvalRun:
    dataset: Path
    detectors: list[Detector]
    seed: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    progress: Progress = field(default=lambda it, total, desc: it)
    errors: list = field(default_factory=list)
    per_image: list = field(default_factory=list)


def detect_kind(dataset: Path) -> str:
    dataset = Path(dataset)
    if dataset.is_file():
        return "pixel"
    return "image" if has_binary_layout(dataset) else "pixel"


def evaluate(run: EvalRun, kind: str = "auto") -> dict:
    kind = detect_kind(run.dataset) if kind == "auto" else kind
    np.random.seed(run.seed)  # classical detectors are deterministic; trained ones may not be
    if kind == "image":
        tables, files = _image_level(run)
    elif kind == "pixel":
        tables, baselines, files = _pixel_level(run)
    else:
        raise ValueError(f"kind must be auto, image or pixel, got {kind!r}")
    root = run.dataset if run.dataset.is_dir() else run.dataset.parent
    return {
        "kind": kind,
        "dataset": {"path": str(run.dataset), "n_files": len(files),
                    "manifest_sha256": manifest_hash(files, root)},
        "detectors": {d.name: d.config() for d in run.detectors},
        "seed": run.seed,
        "metrics": tables,
        **({"baselines": baselines} if kind == "pixel" else {}),
        "n_errors": len(run.errors),
        "errors": run.errors,
        "git": git_commit(),
        "environment": environment(),
    }


def _read(run: EvalRun, path: Path):
    """(pixels, meta), or None when the image cannot be read (recorded as an error)."""
    try:
        return read_image(path, max_pixels=run.max_pixels)
    except ImageError as exc:
        run.errors.append({"path": str(path), "error": str(exc)})
        return None


def _analyse_all(run: EvalRun, path: Path, image) -> dict | None:
    """Every detector on one decoded image. None when a detector fails (recorded): one
    image that breaks a detector must not cost the whole evaluation."""
    pixels, meta = image
    try:
        return {d.name: d.analyze(pixels, meta) for d in run.detectors}
    except Exception as exc:
        run.errors.append({"path": str(path), "error": f"{path}: {type(exc).__name__}: {exc}"})
        return None


def _image_level(run: EvalRun):
    subsets = find_binary_subsets(run.dataset)
    tables: dict[str, dict] = {d.name: {} for d in run.detectors}
    files = []
    for name, items in subsets.items():
        scores = {d.name: [] for d in run.detectors}
        labels = []
        for item in run.progress(items, len(items), f"eval {name}"):
            files.append(item.path)
            image = _read(run, item.path)
            results = _analyse_all(run, item.path, image) if image is not None else None
            if results is None:
                continue
            labels.append(item.label)
            for det, a in results.items():
                scores[det].append(a.score)
                run.per_image.append({"path": str(item.path), "subset": name, "label": item.label,
                                      "detector": det, "score": a.score})
        for d in run.detectors:
            tables[d.name][name] = image_metrics(labels, scores[d.name], d.threshold)
    for d in run.detectors:
        tables[d.name]["mean"] = _mean_row(list(tables[d.name].values()))
    return tables, files


def _pixel_level(run: EvalRun):
    no_maps = [d.name for d in run.detectors if d.task != "localize"]
    if no_maps:
        raise ValueError(f"detector(s) {no_maps} give no heatmap: pixel-level evaluation needs localisers")
    samples = find_pixel_pairs(run.dataset)
    accs = {d.name: {} for d in run.detectors}
    scores = {d.name: {} for d in run.detectors}
    base_accs = {name: {} for name in BASELINE_MAPS}
    base_scores = {name: {} for name in BASELINE_MAPS}
    files = []
    for s in run.progress(samples, len(samples), "eval"):
        files += [s.image] + ([s.mask] if s.mask else [])
        if s.error:
            run.errors.append({"path": str(s.image), "error": f"{s.image}: {s.error}"})
            continue
        mask = _read_mask(run, s)
        image = _read(run, s.image) if mask is not False else None
        if image is None:
            continue
        shape = image[0].shape[:2]
        if mask is not None and mask.shape != shape:
            run.errors.append({"path": str(s.image), "error": f"{s.image}: mask {s.mask.name} is "
                               f"{mask.shape[1]}x{mask.shape[0]} but the image is {shape[1]}x{shape[0]}"})
            continue
        results = _analyse_all(run, s.image, image)
        if results is None:
            continue
        truth = mask if mask is not None else np.zeros(shape, bool)
        manipulated = bool(truth.any())
        for det, a in results.items():
            acc = accs[det].setdefault(s.subset, PixelMetricAccumulator())
            row = acc.add(truth, a.heatmap, name=str(s.image))
            scores[det].setdefault(s.subset, []).append((int(manipulated), a.score))
            run.per_image.append({"path": str(s.image), "subset": s.subset, "detector": det,
                                  "score": a.score, **{k: v for k, v in row.items() if k != "image"}})
        for name, value in BASELINE_MAPS.items():
            base_accs[name].setdefault(s.subset, PixelMetricAccumulator()).add(truth, np.full(shape, value, np.float32))
            base_scores[name].setdefault(s.subset, []).append((int(manipulated), value))
    tables = {d.name: _pixel_tables(accs[d.name], scores[d.name], d.threshold) for d in run.detectors}
    baselines = {name: _pixel_tables(base_accs[name], base_scores[name], 0.5) for name in BASELINE_MAPS}
    return tables, baselines, files


def _pixel_tables(accs: dict, scores: dict, threshold: float) -> dict:
    """A row per subset (and their mean) from one detector's accumulators and image scores."""
    table = {}
    # a subset of authentic images only (e.g. "authentic" in a synthetic manifest) gives
    # the negatives for the image-level metrics of every subset that has none of its own
    authentic_only = [k for k, sub in scores.items() if not any(y for y, _ in sub)]
    pool = [yp for k in authentic_only for yp in scores[k]]
    pool_fp = sum(accs[k].authentic_patch_false_positives for k in authentic_only)
    for subset, acc in accs.items():
        pairs = scores[subset]
        alone = all(y for y, _ in pairs)  # no authentic images of its own: it borrows the pool's
        row = acc.summary(pool_fp if alone else 0)
        if alone:
            pairs = pairs + pool
        y, p = zip(*pairs)
        if 0 < sum(y) < len(y):
            im = image_metrics(y, p, threshold)
            row.update({"image_ap": im["ap"], "image_roc_auc": im["roc_auc"], "image_acc": im["acc"]})
        table[subset] = row
    if len(table) > 1:
        table["mean"] = _mean_row(list(table.values()))
    return table


def _read_mask(run: EvalRun, s) -> np.ndarray | None | bool:
    """Bool mask (white = manipulated), None for authentic, False when unreadable (recorded)."""
    if s.mask is None:
        return None
    try:
        return read_truth_mask(s.mask, max_pixels=run.max_pixels)
    except ImageError as exc:
        run.errors.append({"path": str(s.image), "error": f"mask unreadable: {exc}"})
        return False


def _mean_row(rows: list[dict]) -> dict:
    """Unweighted mean over subsets of every numeric field (NaN/None skipped)."""
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float)) or v is None]
    out = {}
    for k in keys:
        vals = [r.get(k) for r in rows if isinstance(r.get(k), (int, float)) and not math.isnan(r[k])]
        out[k] = float(np.mean(vals)) if vals else None
    return out


def markdown_table(result: dict) -> str:
    """A table a person reads: a row per detector and subset."""
    cols = IMAGE_COLUMNS if result["kind"] == "image" else PIXEL_COLUMNS
    lines = [f"Dataset `{result['dataset']['path']}` ({result['kind']} level, "
             f"{result['dataset']['n_files']} files, manifest sha256 "
             f"`{result['dataset']['manifest_sha256'][:16]}`, {result['n_errors']} errors, "
             f"commit `{(result['git'].get('commit') or 'unknown')[:10]}`)", ""]
    lines.append("| detector | subset | " + " | ".join(cols) + " |")
    lines.append("|---|---|" + "---|" * len(cols))
    rows = list(result["metrics"].items())
    rows += [(f"*baseline: {name}*", t) for name, t in result.get("baselines", {}).items()]
    for det, subsets in rows:
        for subset, row in subsets.items():
            cells = [_fmt(row.get(c)) for c in cols]
            name = f"**{subset}**" if subset == "mean" else subset
            lines.append(f"| {det} | {name} | " + " | ".join(cells) + " |")
    if result.get("baselines"):
        lines += ["", "Baselines: a map (and image score) of 1 everywhere, or of 0 everywhere, on the same images. "
                  "A localiser whose figures do not exceed `flag everything` finds nothing a blanket guess does not."]
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def write_results(result: dict, per_image: list, out_dir: Path) -> dict[str, Path]:
    """results.json, results.md and per_image.jsonl (one line per image and detector)."""
    from forenscope.records import finite, write_results as write_job

    paths = write_job(Path(out_dir), result, markdown_table)
    paths["per_image"] = Path(out_dir) / "per_image.jsonl"
    with open(paths["per_image"], "w") as fh:
        for row in per_image:
            fh.write(json.dumps(finite(row)) + "\n")
    return paths
