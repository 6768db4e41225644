"""Calibrate and evaluate the classical detectors; write their cards and docs/results.

    python scripts/build_classical_cards.py [--data ../shared/data] [--only NAME ...]

1. Threshold: each detector's image score on the authentic photos of <data>/real (BSDS500,
   Kodak, McMaster, camera JPEGs) in the train and validation splits (data/splits.py; the test
   photos, from which the test forgeries are made, are never read); the threshold is the
   lowest value that flags at most 5 % of them. Scores and the threshold go to docs/results/calibration/<name>.json.
2. Evaluation: `forenscope eval <data>/copymove_cvip -d ela -d noise -d jpeg-ghost
   --out docs/results/cvip` (run as a subprocess, exactly as docs/RESULTS.md shows it).
3. Cards: src/forenscope/weights/<name>.json get the threshold and the CVIP metrics, each
   with the path of the JSON it came from.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from forenscope.data.datasets import manifest_hash
from forenscope.data.splits import fitting_photos
from forenscope.detectors import load_detector
from forenscope.detectors.calibration import calibrate as calibrate_score
from forenscope.evaluate.metrics import threshold_at_fpr
from forenscope.records import environment, git_commit
from forenscope.imageio import ImageError, read_image

REPO = Path(__file__).resolve().parent.parent
CARDS = REPO / "src" / "forenscope" / "weights"
RESULTS = REPO / "docs" / "results"
TARGET_FPR = 0.05
FIT_SPLITS = ("train", "val")
SCORE_NOTE = ("not a probability: z / (z + 6) for z the mean of the top 1% of block outlier "
              "strengths in robust sigmas; heat 0.5 = a 3-robust-sigma outlier block (the mask threshold)")

DESCRIPTIONS = {
    "ela": ("Error level analysis (Krawetz 2007), per-block robust outliers of the JPEG re-save error",
            {"quality": 90}),
    "noise": ("Local noise-level inconsistency: Immerkaer residual sigma per block, robust outliers "
              "(low-noise side only in textured blocks)", {}),
    "jpeg-ghost": ("JPEG ghosts (Farid 2009): block re-compression curves over q = 50..95, dips flagged", {}),
    "copymove-sift": ("Copy-move by SIFT self-matching (g2NN, RootSIFT), RANSAC-verified affine clones, "
                      "dense correlation to source and target regions, scene repetition (regions differing by > 19.2 grey levels) "
                      "rejected", {"max_side": 1280, "min_inliers": 8, "max_keypoints": 8000, "max_difference": 19.2,
                                   "min_region": 500}),
}
SCORE_NOTES = {"copymove-sift": "not a probability: n / (n + 12) for n the RANSAC inliers of the strongest "
                                "verified clone transform (0 when none); heat 1 inside matched regions"}


def threshold_for_fpr(scores: np.ndarray, target: float) -> tuple[float, float]:
    """Lowest threshold flagging at most ``target`` of these authentic scores, and the rate it
    flags. When even the top score alone is too many, a threshold just above it."""
    t = threshold_at_fpr(np.zeros(scores.size), scores, target)
    if not np.isfinite(t):
        t = float(np.nextafter(scores.max(), np.inf))
    t = min(t, 1.0)
    return t, float(np.mean(scores >= t))


def calibrate(name: str, photos: list[Path], data: Path) -> dict:
    det = load_detector(name, threshold=0.5)
    scores, errors = [], []
    for i, p in enumerate(photos):
        try:
            pixels, meta = read_image(p)
        except ImageError as exc:
            errors.append(str(exc))
            continue
        result = det.analyze(pixels, meta)
        scores.append(result.extras.get("raw_score", result.score))  # thresholds live on the raw scale
        if (i + 1) % 100 == 0:
            print(f"  {name}: {i + 1}/{len(photos)}", file=sys.stderr)
    s = np.asarray(scores)
    threshold, fpr = threshold_for_fpr(s, TARGET_FPR)
    return {
        "detector": name, "config": det.config(), "target_fpr": TARGET_FPR,
        "threshold": threshold, "fpr_on_calibration_photos": fpr,
        "n_photos": int(s.size), "errors": errors,
        "score_quantiles": {str(q): float(np.quantile(s, q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)},
        "data": {"path": str(data / "real"), "splits": list(FIT_SPLITS), "manifest_sha256": manifest_hash(photos, data)},
        "git": git_commit(), "environment": environment(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("FORENSCOPE_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--only", action="append", default=[], choices=list(DESCRIPTIONS),
                    help="calibrate and evaluate only these detectors (repeatable)")
    args = ap.parse_args()
    data = args.data
    photos = fitting_photos(data, FIT_SPLITS)
    names = args.only or list(DESCRIPTIONS)
    calib_dir = RESULTS / "calibration"
    calib_dir.mkdir(parents=True, exist_ok=True)

    for name in names:
        print(f"calibrating {name} on {len(photos)} real photos ({' + '.join(FIT_SPLITS)} splits)", file=sys.stderr)
        calib = calibrate(name, photos, data)
        (calib_dir / f"{name}.json").write_text(json.dumps(calib, indent=2) + "\n")
        method, params = DESCRIPTIONS[name]
        card_path = CARDS / f"{name}.json"
        old = json.loads(card_path.read_text()) if card_path.is_file() else {}
        card = old | {
            "name": name, "method": method, "task": "localize", "input_size": None,
            "licence": "Apache-2.0", "weights": None, "trained_on": "nothing: training-free",
            "config": params,
            "threshold": calib["threshold"],
            "threshold_source": {
                "what": f"lowest image score flagging <= {TARGET_FPR:.0%} of authentic photos "
                        f"({' + '.join(FIT_SPLITS)} splits; test photos never read)",
                "fpr_on_calibration_photos": calib["fpr_on_calibration_photos"],
                "n_photos": calib["n_photos"], "data": calib["data"],
                "json": f"docs/results/calibration/{name}.json",
            },
            "score_note": SCORE_NOTES.get(name, SCORE_NOTE),
            "metrics": old.get("metrics", {}),  # other scripts' test figures stay
            "git": calib["git"],
        }
        if card.get("calibration"):  # its threshold is the raw one on the calibrated scale
            card["calibration"]["threshold"] = calibrate_score(card["calibration"], calib["threshold"])
        card_path.write_text(json.dumps(card, indent=2) + "\n")

    out = RESULTS / ("cvip" if not args.only else f"cvip-{'-'.join(names)}")
    cmd = [str(Path(sys.executable).parent / "forenscope"), "eval", str(data / "copymove_cvip"),
           *sum((["-d", n] for n in names), []), "--out", str(out), "--no-progress"]
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=False)
    result = json.loads((out / "results.json").read_text())
    for name in names:
        row = result["metrics"][name]["copymove_cvip"]
        card_path = CARDS / f"{name}.json"
        card = json.loads(card_path.read_text())
        keep = ("f1_mean_per_image", "iou_mean_per_image", "auc_mean_per_image",
                "false_positive_area_mean_per_authentic_image", "image_roc_auc")
        card["metrics"] |= {"copymove_cvip": {k: row[k] for k in keep},
                            "source": str((out / "results.json").relative_to(REPO))}
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    print("cards written:", ", ".join(str(CARDS / f"{n}.json") for n in names), file=sys.stderr)


if __name__ == "__main__":
    main()
