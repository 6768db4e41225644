"""Write the robustness summaries and calibration fits of finished runs into the shipped cards
(what `forenscope robustness --ship` / `calibrate --ship` do at the end of a run), so that all
runs of scripts/update_cards.sh see the same, committed cards while they run:

    .venv/bin/python scripts/ship_cards.py docs/results/robustness-cards docs/results/robustness \
        --calibration docs/results/calibration

Robustness folders are applied in order (a later one overwrites a detector's summary).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from forenscope.evaluate import calibration, robustness  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("robustness", nargs="*", type=Path, help="robustness result folders, in order")
    ap.add_argument("--calibration", type=Path, help="a calibration result folder")
    args = ap.parse_args()
    for folder in args.robustness:
        result = json.loads((folder / "results.json").read_text())
        print(f"robustness from {folder}: {', '.join(robustness.ship(result, folder.as_posix()))}")
    if args.calibration:
        result = json.loads((args.calibration / "results.json").read_text())
        print(f"calibration from {args.calibration}: {', '.join(calibration.ship(result, args.calibration.as_posix()))}")


if __name__ == "__main__":
    main()
