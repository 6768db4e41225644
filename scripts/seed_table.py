"""Seed spread of the shipped effunet recipe on the test splits and CVIP, from the results that
scripts/eval_effunet_seeds.sh wrote: mean +- std (ddof 1) over the seeds found, per localiser,
with the flag-everything map beside it. Reports; chooses nothing.

    .venv/bin/python scripts/seed_table.py [--results docs/results/localize/seeds]

Writes summary.json and summary.md beside the results and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localize_results import flag_everything_f1, kind_mean  # noqa: E402

SETS = ("standard-test", "realistic-test", "cvip", "standard-val", "realistic-val",
        "learned-test", "realistic-learned-test", "learned-val")
DETECTORS = ("effunet", "effunet-cm")
METRICS = ("f1_mean_per_image", "auc_mean_per_image", "image_roc_auc")


def figures(result: dict, det: str, set_name: str) -> dict:
    """Pixel F1, pixel AUC and image ROC-AUC, each the mean over the set's subsets."""
    return {key: kind_mean(result, det, set_name, key) for key in METRICS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=Path("docs/results/localize/seeds"))
    args = ap.parse_args()
    seeds = sorted({p.name.split("-", 1)[0] for p in args.results.glob("seed*-*") if (p / "results.json").is_file()})
    results = {(s, n): json.loads((args.results / f"{s}-{n}" / "results.json").read_text())
               for s in seeds for n in SETS if (args.results / f"{s}-{n}" / "results.json").is_file()}
    rows, lines = {}, ["| localiser | set | seeds | pixel F1 | pixel AUC | image ROC-AUC | flag everything F1 |",
                       "|---|---|---|---|---|---|---|"]
    for det in DETECTORS:
        for n in SETS:
            per_seed = {s: figures(results[(s, n)], det, n) for s in seeds
                        if (s, n) in results and det in results[(s, n)]["metrics"]}
            if not per_seed:
                continue
            stats = {k: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
                     for k in METRICS
                     for v in [[f[k] for f in per_seed.values()]]}
            base = flag_everything_f1(next(results[(s, n)] for s in per_seed), n)
            rows[f"{det} {n}"] = {"per_seed": per_seed, "mean_std": stats, "flag_everything_f1": base}
            cells = " | ".join(f"{m:.3f} +- {sd:.3f}" if len(per_seed) > 1 else f"{m:.3f}" for m, sd in stats.values())
            lines.append(f"| {det} | {n} | {len(per_seed)} | {cells} | {base:.3f} |")
    text = "\n".join(lines) + "\n"
    (args.results / "summary.md").write_text(text)
    (args.results / "summary.json").write_text(json.dumps({"seeds": seeds, "rows": rows}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
