"""Mean +- std over seeds of what scripts/map_threshold_sweep.py wrote (one folder per seed, each
with the threshold its own validation split chose), for the mean over kinds:

    .venv/bin/python scripts/map_threshold_summary.py docs/results/localize/map-threshold/{hlstm,hlstm-longer-seed1,hlstm-longer-seed2}-test \
        --out docs/results/localize/map-threshold/hlstm-test-seeds.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MEASURES = ("f1_mean_per_image", "patch_f1_from_map_pooled_over_manipulated_images",
            "patch_f1_from_map_pooled_over_all_images")
ROWS = ("at 0.5", "at the validation-chosen threshold", "flag everything")


def rows_of(result: dict) -> dict[str, dict]:
    """The table's three maps under fixed names (the sweep labels the chosen one by its threshold)."""
    keys = ("at 0.5", f"at {result['chosen_threshold']:g}", "flag everything")
    return dict(zip(ROWS, (result["table"][k]["mean"] for k in keys)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    results = [json.loads((f / "results.json").read_text()) for f in args.folders]
    lines = [f"Mean over kinds, {len(results)} runs ({', '.join(f.name for f in args.folders)}); thresholds "
             f"{', '.join(str(r['chosen_threshold']) for r in results)}", "",
             "| map | pixel F1 | patch F1 (manipulated images) | patch F1 (all images) |", "|---|---|---|---|"]
    for row in ROWS:
        cells = []
        for m in MEASURES:
            v = np.array([rows_of(r)[row][m] for r in results])
            cells.append(f"{v.mean():.3f} +- {v.std():.3f}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
