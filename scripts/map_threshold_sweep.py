"""Issue 18, item 5: how a localiser's pixel F1 and patch F1 depend on the map threshold, so that a
threshold can be chosen on validation instead of the fixed 0.5 (J-LSTM's and H-LSTM's maps sit
above 0.5 over much of every authentic image).

    .venv/bin/python scripts/map_threshold_sweep.py work/synth-forgeries/val.csv -d hlstm \
        [--run work/runs/hlstm-longer] --out docs/results/localize/map-threshold/hlstm-val
    .venv/bin/python scripts/map_threshold_sweep.py work/synth-forgeries/test.csv -d hlstm \
        --threshold 0.625 --out docs/results/localize/map-threshold/hlstm-test

Per kind and threshold: mean pixel F1 over manipulated images, and Bappy's patch F1 of the
thresholded map (32 x 32 patches flagged when >= 12.5 % of their pixels are; pooled over the
manipulated images' patches, and over every image's, authentic ones adding false positives), the
same measures as `forenscope eval`. Without --threshold it chooses the one that maximises the mean
over kinds of the all-images patch F1 (the issue's target measure; this must be a validation
split); with --threshold it reports that one (the test split, read once). The flag-everything map
is scored beside it. The map swept is the network's own, before any ``map_threshold`` its card
already has. --card FILE writes the chosen threshold into that card (a shipped
src/forenscope/weights/<name>.json or a run's card.json) as ``map_threshold``, which the localiser
then applies (methods/localizer.recentre). Writes results.json (git commit, environment, manifest
hash) and results.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from forenscope.data.datasets import find_pixel_pairs, manifest_hash
from forenscope.detectors import load_detector
from forenscope.evaluate.metrics import patch_labels
from forenscope.imageio import read_image, read_truth_mask
from forenscope.records import environment, git_commit, write_results

THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.025), 3)
PATCH, FRACTION = 32, 0.125


def patch_quantile(heat: np.ndarray) -> np.ndarray:
    """Per whole 32 x 32 patch, the value v such that the patch is flagged at threshold t exactly
    when v >= t: its ceil(12.5 %)-th largest pixel (metrics.patch_labels' rule)."""
    gh, gw = heat.shape[0] // PATCH, heat.shape[1] // PATCH
    tiles = heat[: gh * PATCH, : gw * PATCH].reshape(gh, PATCH, gw, PATCH).transpose(0, 2, 1, 3).reshape(gh * gw, -1)
    k = math.ceil(FRACTION * PATCH * PATCH)
    return -np.sort(-tiles, axis=1)[:, k - 1] if len(tiles) else np.zeros(0, np.float32)


def at_least(values: np.ndarray) -> np.ndarray:
    """How many of ``values`` are >= each of THRESHOLDS."""
    return (values[None, :] >= THRESHOLDS[:, None]).sum(1) if values.size < 4096 else \
        len(values) - np.searchsorted(np.sort(values), THRESHOLDS, side="left")


class Kind:
    """Counts per threshold for one subset."""

    def __init__(self):
        n = len(THRESHOLDS)
        self.f1 = []  # per manipulated image, an array over thresholds
        self.patches = np.zeros((3, n))  # tp, fp, fn over manipulated images' patches
        self.authentic_fp = np.zeros(n)

    def add(self, mask: np.ndarray | None, heat: np.ndarray):
        q = patch_quantile(heat)
        if mask is None or not mask.any():
            self.authentic_fp += at_least(q)
            return
        pos, neg = heat[mask], heat[~mask]
        tp, fp = at_least(pos), at_least(neg)
        fn = len(pos) - tp
        self.f1.append(2 * tp / np.maximum(1, 2 * tp + fp + fn))
        truth = patch_labels(mask, PATCH, FRACTION).ravel()  # raster order, as patch_quantile's
        ptp = at_least(q[truth])
        self.patches += np.stack([ptp, at_least(q[~truth]), truth.sum() - ptp])

    def rows(self, extra_authentic_fp: np.ndarray) -> dict:
        tp, fp, fn = self.patches
        return {"f1_mean_per_image": np.mean(self.f1, axis=0),
                "patch_f1_from_map_pooled_over_manipulated_images": 2 * tp / np.maximum(1, 2 * tp + fp + fn),
                "patch_f1_from_map_pooled_over_all_images":
                    2 * tp / np.maximum(1, 2 * tp + fp + fn + self.authentic_fp + extra_authentic_fp),
                "n_manipulated": len(self.f1)}


def sweep(samples: list, detector) -> tuple[dict[str, dict], dict[str, dict]]:
    """(the detector's rows, the flag-everything map's rows) per kind, each image read once."""
    kinds: dict[str, Kind] = {}
    everything: dict[str, Kind] = {}
    for i, s in enumerate(samples):
        if s.error:
            print(f"skipped {s.image}: {s.error}", file=sys.stderr)
            continue
        try:
            rgb, meta = read_image(s.image)
            mask = read_truth_mask(s.mask) if s.mask else None
        except Exception as exc:  # reported, the rest analysed
            print(f"skipped {s.image}: {exc}", file=sys.stderr)
            continue
        if mask is not None and mask.shape != rgb.shape[:2]:
            print(f"skipped {s.image}: mask {mask.shape} differs from the image {rgb.shape[:2]}", file=sys.stderr)
            continue
        kinds.setdefault(s.subset, Kind()).add(mask, detector.analyze(rgb, meta).heatmap)
        everything.setdefault(s.subset, Kind()).add(mask, np.ones(rgb.shape[:2], np.float32))
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(samples)}", file=sys.stderr, flush=True)
    return per_kind_rows(kinds), per_kind_rows(everything)


def per_kind_rows(kinds: dict[str, Kind]) -> dict[str, dict]:
    """Rows of the kinds with manipulated images; an authentic-only kind lends its false positives to all."""
    authentic_only = [k for k, v in kinds.items() if not v.f1]
    pool = sum((kinds[k].authentic_fp for k in authentic_only), np.zeros(len(THRESHOLDS)))
    return {k: v.rows(pool) for k, v in kinds.items() if v.f1}


def mean_over_kinds(rows: dict[str, dict], key: str) -> np.ndarray:
    return np.mean([r[key] for r in rows.values()], axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("-d", "--detector", required=True)
    ap.add_argument("--run", help="a training run folder instead of the shipped weights")
    ap.add_argument("--threshold", type=float, help="report this threshold (chosen on validation)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--card", type=Path, help="write the chosen threshold into this card (validation runs only)")
    args = ap.parse_args()
    if args.card and args.threshold is not None:
        ap.error("--card records a threshold this run chooses; it cannot take --threshold")
    det = load_detector(args.detector, calibrated=False, run=args.run, threads=1)
    det.card = {k: v for k, v in det.card.items() if k not in ("map_threshold", "map_threshold_note")}
    samples = find_pixel_pairs(args.dataset)
    rows, base = sweep(samples, det)
    key = "patch_f1_from_map_pooled_over_all_images"
    objective = mean_over_kinds(rows, key)
    chosen = args.threshold if args.threshold is not None else float(THRESHOLDS[int(np.argmax(objective))])
    ci, i05 = int(np.argmin(abs(THRESHOLDS - chosen))), int(np.argmin(abs(THRESHOLDS - 0.5)))
    keys = ("f1_mean_per_image", "patch_f1_from_map_pooled_over_manipulated_images", key)
    table = {}
    for label, r, i in (("at 0.5", rows, i05), (f"at {chosen:g}", rows, ci), ("flag everything", base, 0)):
        table[label] = {k: {m: float(v[m][i]) for m in keys} for k, v in r.items()}
        table[label]["mean"] = {m: float(mean_over_kinds(r, m)[i]) for m in keys}
    result = {"dataset": str(args.dataset), "detector": args.detector, "run": args.run,
              "chosen_threshold": chosen, "chosen_by": "given" if args.threshold is not None else
              "max mean over kinds of patch F1 pooled over all images (this split)",
              "manifest_sha256": manifest_hash([s.image for s in samples], args.dataset.parent)[:16],
              "sweep": {"thresholds": THRESHOLDS.tolist(),
                        **{m: mean_over_kinds(rows, m).tolist() for m in keys}},
              "table": table, "git": git_commit(), "environment": environment()}
    lines = [f"`{args.detector}`{' run ' + args.run if args.run else ''} on `{args.dataset}`; threshold "
             f"{chosen:g} ({result['chosen_by']})", "",
             "| map | kind | pixel F1 | patch F1 (manipulated images) | patch F1 (all images) |", "|---|---|---|---|---|"]
    for label, per_kind in table.items():
        for kind, v in per_kind.items():
            lines.append(f"| {label} | {kind} | " + " | ".join(f"{v[m]:.3f}" for m in keys) + " |")
    write_results(args.out, result, lambda _: "\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.card:
        record_threshold(args.card, chosen, args.dataset, args.out)


def record_threshold(card_path: Path, threshold: float, dataset: Path, out: Path) -> None:
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["map_threshold"] = threshold
    card["map_threshold_note"] = (f"map threshold chosen on {dataset} by scripts/map_threshold_sweep.py (max mean "
                                  f"over kinds of patch F1 pooled over all images; {out}/results.json); the map "
                                  "is re-scaled so that it cuts at 0.5")
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(f"{card_path}: map_threshold {threshold:g}")


if __name__ == "__main__":
    main()
