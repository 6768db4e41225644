"""copymove-sift's keypoint budget chosen on validation copy-moves and CVIP (issue 18).

    python scripts/sweep_copymove.py --keypoints 4000 --keypoints 8000 [--jobs 2] [--data ../shared/data]

For each ``max_keypoints``: the image score on the train + validation authentic photos of
<data>/real and the threshold flagging at most 5 % of them (as scripts/build_classical_cards.py
fits it); mean per-image pixel F1 on the copy-moves of both forgery recipes' validation splits
(work/synth-forgeries*/val.csv) and on CVIP's forgeries; and the share of the validation
splits' other images (authentic, splice, inpainting) on which it fires at that threshold (a
false match there is what the fusion must undo); beside them, the flag-everything map. No test split is read. Writes
docs/results/localize/copymove-keypoints/results.json and results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "results" / "localize" / "copymove-keypoints"
SETS = {"standard-val": REPO / "work" / "synth-forgeries" / "val.csv",
        "realistic-val": REPO / "work" / "synth-forgeries-realistic" / "val.csv"}
sys.path.insert(0, str(REPO / "scripts"))


def _jobs(data: Path) -> list[tuple[str, str, Path, Path | None]]:
    """(set, subset, image, mask) for every image the sweep reads (CVIP: its forgeries only)."""
    from forenscope.data.datasets import find_pixel_pairs
    from forenscope.data.splits import fitting_photos

    jobs = [("real", "authentic", p, None) for p in fitting_photos(data, ("train", "val"))]
    for name, table in SETS.items():
        jobs += [(name, s.subset, s.image, s.mask) for s in find_pixel_pairs(table)]
    jobs += [("cvip", "copymove", s.image, s.mask) for s in find_pixel_pairs(data / "copymove_cvip") if s.mask]
    return jobs


def _truth(mask: Path) -> np.ndarray:
    """White = manipulated, read as `forenscope eval` reads masks."""
    from forenscope.imageio import read_truth_mask

    return read_truth_mask(mask)


def _score(args) -> tuple[float, float | None]:
    keypoints, image, mask = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from forenscope.detectors import load_detector
    from forenscope.evaluate.metrics import pixel_f1_at
    from forenscope.imageio import read_image

    det = load_detector("copymove-sift", max_keypoints=keypoints)
    pixels, meta = read_image(image)
    a = det.analyze(pixels, meta)
    raw = a.extras.get("raw_score", a.score)
    f1 = None if mask is None else pixel_f1_at(_truth(mask), a.heatmap)
    return float(raw), f1


def sweep(keypoints: int, jobs: list, workers: int) -> dict:
    from build_classical_cards import threshold_for_fpr

    with ProcessPoolExecutor(workers) as pool:
        out = list(pool.map(_score, [(keypoints, j[2], j[3]) for j in jobs], chunksize=4))
    raw = np.array([o[0] for o in out])
    real = np.array([j[0] == "real" for j in jobs])
    threshold, fpr = threshold_for_fpr(raw[real], 0.05)
    row = {"max_keypoints": keypoints, "threshold": threshold, "authentic_photos_flagged": fpr}
    for name in (*SETS, "cvip"):
        f1 = [o[1] for j, o in zip(jobs, out) if j[0] == name and j[1] == "copymove"]
        row[f"{name}_copymove_f1"] = float(np.mean(f1))
        other = [o[0] >= threshold for j, o in zip(jobs, out) if j[0] == name and j[1] != "copymove"]
        if other:
            row[f"{name}_others_flagged"] = float(np.mean(other))
    row["mean_copymove_f1"] = float(np.mean([row[f"{n}_copymove_f1"] for n in (*SETS, "cvip")]))
    return row


def flag_everything(jobs: list) -> dict:
    """The baseline beside the sweep: a map flagging every pixel of every image."""
    from forenscope.evaluate.metrics import pixel_f1_at

    row = {"max_keypoints": "flag everything", "threshold": float("nan"), "authentic_photos_flagged": 1.0}
    for name in (*SETS, "cvip"):
        truths = [_truth(j[3]) for j in jobs if j[0] == name and j[1] == "copymove"]
        row[f"{name}_copymove_f1"] = float(np.mean([pixel_f1_at(t, np.ones(t.shape, np.float32)) for t in truths]))
        if name in SETS:
            row[f"{name}_others_flagged"] = 1.0
    row["mean_copymove_f1"] = float(np.mean([row[f"{n}_copymove_f1"] for n in (*SETS, "cvip")]))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keypoints", type=int, action="append", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("FORENSCOPE_DATA", REPO.parent / "shared" / "data")))
    args = ap.parse_args()
    from forenscope.analysis import jsonable
    from forenscope.records import environment, git_commit

    jobs = _jobs(args.data)
    rows = []
    for k in args.keypoints:
        rows.append(sweep(k, jobs, args.jobs))
        print(json.dumps(rows[-1]), file=sys.stderr)
    rows.append(flag_everything(jobs))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps({"rows": jsonable(rows), "images": len(jobs), "git": git_commit(),
                                                  "environment": environment()}, indent=2) + "\n")
    cols = ["max_keypoints", "threshold", "authentic_photos_flagged", "standard-val_copymove_f1",
            "realistic-val_copymove_f1", "cvip_copymove_f1", "mean_copymove_f1",
            "standard-val_others_flagged", "realistic-val_others_flagged"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    cell = lambda v: ("–" if np.isnan(v) else f"{v:.4f}") if isinstance(v, float) else str(v)
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in rows]
    (OUT / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
