"""Issue 18: the decision rule for the noise-augmented third effunet cycle (docs/RESULTS.md, "Noise
in training"; committed before training), applied to what scripts/eval_effunet_runs.sh wrote for
the reference and the candidate (`<results>/<who>-<set>/results.json`, sets standard-val,
realistic-val, learned-val, cvip) and to `forenscope robustness configs/robustness-val-noise.toml`
(`<results>/robustness-val-<who>/results.json`). Validation and CVIP only; chooses nothing else.

The candidate passes if, for effunet-cm (averaged over the seeds named, comma-separated), (a) its
mean pixel F1 under noise sigma 5 on the validation forgeries >= the reference's + 0.15, (b) its
mean over the ten standard and realistic validation subsets >= the reference's - 0.005, (c) its
learned-val pixel F1 >= the reference's - 0.02, (d) its CVIP pixel F1 >= 0.892.

    .venv/bin/python scripts/noise_candidate_decision.py --results docs/results/localize/cycle3-noise

Writes decision.json and decision.md beside the results and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learned_fill_decision import figures  # noqa: E402
from localize_results import flag_everything_f1, read  # noqa: E402

PERTURBATION = "noise@5"


def noise_f1(root: Path, who: str) -> float:
    """effunet-cm's mean pixel F1 under noise sigma 5 (mean over the seeds' runs named in ``who``)."""
    values = []
    for w in who.split(","):
        localize = json.loads((root / f"robustness-val-{w}" / "results.json").read_text())["localize"]
        (name,) = [k for k in localize if k.startswith("effunet-cm")]  # one detector per run: effunet-cm@RUN
        values.append(localize[name][PERTURBATION]["mean_pixel_f1"])
    return float(np.mean(values))


def decide(ref: dict, cand: dict) -> dict[str, bool]:
    checks = {"a_noise_gain": cand["noise_val"] >= ref["noise_val"] + 0.15,
              "b_old_kinds_kept": cand["validation_mean"] >= ref["validation_mean"] - 0.005,
              "c_learned_kept": cand["learned_val"] >= ref["learned_val"] - 0.02,
              "d_cvip": cand["cvip"] >= 0.892}
    return checks | {"passes": all(checks.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=Path("docs/results/localize/cycle3-noise"))
    ap.add_argument("--reference", default="ref")
    ap.add_argument("--candidate", default="noise")
    ap.add_argument("--out-name", default="decision")
    args = ap.parse_args()
    rows = {who: figures(args.results, who) | {"noise_val": noise_f1(args.results, who)}
            for who in (args.reference, args.candidate)}
    checks = decide(rows[args.reference], rows[args.candidate])
    first = args.reference.split(",")[0]
    base = {s: flag_everything_f1(read(args.results, first, s), s) for s in ("learned-val", "cvip")}
    lines = ["| effunet-cm | noise sigma 5, validation (50) | mean of the 10 validation subsets | learned fills, validation | CVIP |",
             "|---|---|---|---|---|"]
    for who, f in rows.items():
        lines.append(f"| {who} | {f['noise_val']:.3f} | {f['validation_mean']:.3f} | {f['learned_val']:.3f} | {f['cvip']:.3f} |")
    lines.append(f"| *flag everything* | – | – | {base['learned-val']:.3f} | {base['cvip']:.3f} |")
    lines += ["", "Checks: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in checks.items())]
    text = "\n".join(lines) + "\n"
    (args.results / f"{args.out_name}.json").write_text(json.dumps({"rows": rows, "checks": checks}, indent=2) + "\n")
    (args.results / f"{args.out_name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
