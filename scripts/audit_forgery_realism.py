"""Realism check of the synthetic forgeries (issue 18, item 1): can a classifier on simple
statistics of a region tell a forged region from an ordinary object-shaped region of an
authentic photo? If it can, a localiser may learn those seams instead of forensic traces.

    python scripts/audit_forgery_realism.py [--forgeries work/synth-forgeries] [--split val] [--out DIR]

Positives: the true region of every manipulated image of the split, per kind. Negatives: one
object-like segment per authentic image of the split (``synth.regions.segment_region``, area
drawn from the forgeries' 2-12 %), seeded. Statistics of a region R (grey = luma, rings 5 px):
the gradient magnitude on R's boundary over the image's mean (seams), the Lab colour
difference between the inner and the outer ring (colour shift), the log ratio of high-pass
noise inside and outside (noise mismatch), and R's area (a size leak). Classifier: L2 logistic
regression, 5 stratified folds, out-of-fold ROC-AUC per kind, and per statistic alone. Writes
results.{json,md} into --out (default docs/results/localize/realism).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from forenscope.data.datasets import find_pixel_pairs
from forenscope.evaluate.metrics import roc_auc
from forenscope.records import environment, git_commit, write_json
from forenscope.imageio import read_image, read_truth_mask
from forenscope.synth.regions import segment_region
from forenscope.train.logistic import out_of_fold_logits

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "results" / "localize" / "realism"
STATS = ("boundary_gradient", "colour_shift", "noise_log_ratio", "area")
RING = 5


def region_statistics(rgb: np.ndarray, region: np.ndarray) -> list[float]:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    r = region.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    boundary = (cv2.dilate(r, kernel) > 0) & ~(cv2.erode(r, kernel) > 0)
    big = np.ones((2 * RING + 1, 2 * RING + 1), np.uint8)
    outer = (cv2.dilate(r, big) > 0) & ~region
    inner = region & ~(cv2.erode(r, big) > 0)
    inner = inner if inner.any() else region
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    shift = float(np.linalg.norm(lab[inner].mean(0) - lab[outer].mean(0))) if outer.any() else 0.0
    residual = grey - cv2.GaussianBlur(grey, (0, 0), 1.0)
    out_noise = residual[outer].std() if outer.sum() > 10 else residual.std()
    noise = float(np.log((residual[region].std() + 1e-3) / (out_noise + 1e-3)))
    return [float(grad[boundary].mean() / (grad.mean() + 1e-6)), shift, noise, float(region.mean())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--forgeries", type=Path, default=REPO / "work" / "synth-forgeries")
    ap.add_argument("--split", default="val")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    samples = find_pixel_pairs(args.forgeries / f"{args.split}.csv")
    rng = np.random.default_rng(18)
    rows: dict[str, list] = {}
    for n, s in enumerate(samples):
        rgb = read_image(s.image)[0]
        if s.mask is None:
            region = segment_region(rgb, float(rng.uniform(0.02, 0.12)), rng)
            rows.setdefault("authentic", []).append(region_statistics(rgb, region))
        else:
            region = read_truth_mask(s.mask)
            if region.any() and not region.all():
                rows.setdefault(s.subset, []).append(region_statistics(rgb, region))
        if (n + 1) % 200 == 0:
            print(f"  {n + 1}/{len(samples)}", file=sys.stderr)
    neg = np.array(rows.pop("authentic"))
    result = {"forgeries": args.forgeries.as_posix(), "split": args.split, "n_authentic_regions": len(neg), "statistics": list(STATS), "kinds": {},
              "git": git_commit(), "environment": environment()}
    for kind, pos in sorted(rows.items()):
        pos = np.array(pos)
        x, y = np.concatenate([pos, neg]), np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        result["kinds"][kind] = {"n": len(pos), "all_statistics": float(roc_auc(y, out_of_fold_logits(x, y, 1e-2))),
                                 **{name: float(max(roc_auc(y, x[:, i]), 1 - roc_auc(y, x[:, i])))
                                    for i, name in enumerate(STATS)}}
    write_json(args.out / "results.json", result)
    lines = ["# Realism check of the synthetic forgeries", "",
             f"Forgeries `{args.forgeries.as_posix()}`, split `{args.split}`: each kind's true regions against {len(neg)} object-like segments of authentic "
             "photos. ROC-AUC: out-of-fold (5 folds) for the logistic regression on all statistics; for one "
             "statistic, max(AUC, 1 - AUC) (either direction). 0.5: indistinguishable.", "",
             "| kind | regions | all statistics | " + " | ".join(STATS) + " |", "|---" * (3 + len(STATS)) + "|"]
    for kind, r in result["kinds"].items():
        lines.append(f"| {kind} | {r['n']} | {r['all_statistics']:.3f} | " + " | ".join(f"{r[s]:.3f}" for s in STATS) + " |")
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
