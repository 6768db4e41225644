"""``forenscope audit DATASET``: can the labels be told from the files alone?

A dataset whose fakes are all PNG and reals all JPEG, or whose tampered images are larger, lets
a detector score well by learning the format or the size instead of the forgery. This trains
a trivial classifier (logistic regression, 5-fold cross-validated) on facts read from the file
headers only (format, JPEG quality, EXIF presence, pixel count, aspect, file size, bytes per
pixel) and reports its AUC and each fact's AUC alone (folded to >= 0.5). Above ``limit``
(0.6 by default) it warns: results on that set may measure the format, not the forgery.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forenscope.evaluate.metrics import roc_auc
from forenscope.evaluate.shortcuts import _logistic_cv_auc

FEATURES = ("is_jpeg", "is_png", "jpeg_quality", "has_exif", "pixels", "aspect", "file_size", "bytes_per_pixel")
DEFAULT_LIMIT = 0.6


def labelled_files(source: Path) -> tuple[list[tuple[Path, int]], str]:
    """(file, label) pairs and the layout's name: a 0_real / 1_fake tree (1 = generated), or an
    image + mask folder / CSV manifest (1 = has a mask, i.e. tampered)."""
    from forenscope.data.datasets import find_binary_subsets, find_pixel_pairs, has_binary_layout

    source = Path(source)
    if source.is_dir() and has_binary_layout(source):
        items = [it for subset in find_binary_subsets(source).values() for it in subset]
        return [(it.path, it.label) for it in items], "0_real / 1_fake (1 = generated)"
    samples = find_pixel_pairs(source)
    return [(s.image, int(s.mask is not None)) for s in samples], "image + mask (1 = tampered)"


def file_facts(path: Path) -> list[float]:
    from forenscope.imageio import read_header

    meta = read_header(path)
    jpeg = meta.format in ("JPEG", "MPO")
    pixels = meta.width * meta.height
    return [float(jpeg), float(meta.format == "PNG"), float(meta.jpeg_quality or 0), float(meta.has_exif),
            float(pixels), meta.width / meta.height, float(meta.file_size), meta.file_size / pixels]


def audit(source: Path, limit: float = DEFAULT_LIMIT, log=print) -> dict:
    from forenscope.imageio import ImageError

    files, layout = labelled_files(source)
    rows, labels, errors = [], [], []
    for path, label in files:
        try:
            rows.append(file_facts(path))
            labels.append(label)
        except ImageError as exc:
            errors.append(str(exc))
    y = np.array(labels, dtype=float)
    counts = {"negative": int((y == 0).sum()), "positive": int((y == 1).sum())}
    out = {"source": str(source), "layout": layout, "n": len(y), "counts": counts, "unreadable": errors,
           "limit": limit, "features": list(FEATURES)}
    if min(counts.values()) < 2:
        out |= {"single_feature_auc": {}, "logistic_regression_cv_auc": None, "warnings": [
            f"only {counts['negative']} negative and {counts['positive']} positive images: nothing to audit"]}
        return out
    x = np.array(rows)
    single = {}
    for i, name in enumerate(FEATURES):
        auc = roc_auc(y, x[:, i]) if np.ptp(x[:, i]) > 0 else 0.5
        single[name] = round(max(auc, 1 - auc), 4)
    folds = int(min(5, counts["negative"], counts["positive"]))
    combined = _logistic_cv_auc(np.log1p(np.abs(x)), y, folds=folds)
    combined = round(max(combined, 1 - combined), 4)
    warnings = [f"{name} alone separates the labels (AUC {auc:.3f} > {limit})" for name, auc in single.items() if auc > limit]
    if combined > limit:
        few = min(counts.values())
        warnings.insert(0, f"a trivial classifier on file facts predicts the labels (cross-validated AUC "
                           f"{combined:.3f} > {limit}): scores on this set may measure the format, not the forgery"
                           + (f" (only {few} images in the smaller class: the estimate is noisy)" if few < 30 else ""))
    out |= {"single_feature_auc": single, "logistic_regression_cv_auc": combined, "cv_folds": folds,
            "warnings": warnings,
            "summary": {"jpeg_share": {k: round(float(x[y == v, 0].mean()), 3) for k, v in (("negative", 0), ("positive", 1))},
                        "median_pixels": {k: float(np.median(x[y == v, 4])) for k, v in (("negative", 0), ("positive", 1))}}}
    return out


def markdown(report: dict) -> str:
    bad = len(report["unreadable"])
    lines = [f"# Shortcut audit of `{report['source']}`", "",
             f"{report['layout']}: {report['counts']['negative']} negative, {report['counts']['positive']} positive"
             + (f", {bad} unreadable" if bad else "") + ".", ""]
    if report.get("logistic_regression_cv_auc") is not None:
        lines += [f"Logistic regression on all file facts, {report['cv_folds']}-fold cross-validated AUC: "
                  f"**{report['logistic_regression_cv_auc']:.3f}** (limit {report['limit']}).", "",
                  "| fact | AUC alone |", "|---|---|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in report["single_feature_auc"].items()]
        lines.append("")
    lines += [f"- WARNING: {w}" for w in report["warnings"]] or ["No shortcut found: file facts do not predict the labels."]
    return "\n".join(lines) + "\n"


def write(report: dict, out: Path, to_markdown=None) -> None:
    """results.json (+ the git commit) and results.md (``to_markdown``, default :func:`markdown`)."""
    from forenscope.records import git_commit, write_results

    write_results(out, report | {"git": git_commit()}, lambda r: (to_markdown or markdown)(report))
