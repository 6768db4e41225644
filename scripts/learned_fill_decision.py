"""Issue 18: the decision rule for a third effunet cycle with the learned inpainter's fills
(docs/RESULTS.md, "A third cycle with the learned fills"; committed before training), applied to
what scripts/eval_effunet_runs.sh wrote for the reference, the candidate and its control
(`<results>/<who>-<set>/results.json`, sets standard-val, realistic-val, learned-val, cvip).
Validation and CVIP only; chooses nothing else.

The candidate passes if, for effunet-cm (averaged over the seeds named, e.g. --reference
ref,ref-seed0,ref-seed2 --candidate learned,learned-seed0,learned-seed2 for the three-seed check), (a) its learned-val pixel F1 >= the reference's + 0.05,
(b) its mean over the ten standard and realistic validation subsets >= the reference's - 0.005,
(c) its CVIP pixel F1 >= 0.892. The control is reported beside it.

    .venv/bin/python scripts/learned_fill_decision.py --results docs/results/localize/cycle3-learned
    .venv/bin/python scripts/learned_fill_decision.py --reference ref,ref-seed0,ref-seed2 \
        --candidate learned,learned-seed0,learned-seed2 --control "" --out-name decision-3-seeds

Writes decision.json and decision.md beside the results and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localize_results import flag_everything_f1, kind_mean, read, validation_mean_f1  # noqa: E402

DET = "effunet-cm"


def figures(root: Path, who: str) -> dict[str, float]:
    """The rule's three figures for ``who``, or their mean over a comma-separated list of seeds' runs."""
    runs = who.split(",")
    per_run = [{"learned_val": kind_mean(read(root, w, "learned-val"), DET, "learned-val"),
                "validation_mean": validation_mean_f1(root, w, DET),
                "cvip": kind_mean(read(root, w, "cvip"), DET, "cvip")} for w in runs]
    return {k: float(np.mean([f[k] for f in per_run])) for k in per_run[0]}


def decide(ref: dict, cand: dict, min_learned_gain: float = 0.05, max_val_loss: float = 0.005,
           min_cvip: float = 0.892) -> dict[str, bool]:
    checks = {"a_learned_gain": cand["learned_val"] >= ref["learned_val"] + min_learned_gain,
              "b_old_kinds_kept": cand["validation_mean"] >= ref["validation_mean"] - max_val_loss,
              "c_cvip": cand["cvip"] >= min_cvip}
    return checks | {"passes": all(checks.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=Path("docs/results/localize/cycle3-learned"))
    ap.add_argument("--reference", default="ref")
    ap.add_argument("--candidate", default="learned")
    ap.add_argument("--control", default="control", help="reported beside, chooses nothing; '' for none")
    ap.add_argument("--out-name", default="decision", help="writes OUT-NAME.json / .md beside the results")
    args = ap.parse_args()
    whos = [w for w in (args.reference, args.candidate, args.control) if w]
    rows = {who: figures(args.results, who) for who in whos}
    first = args.reference.split(",")[0]
    base = {"learned_val": flag_everything_f1(read(args.results, first, "learned-val"), "learned-val"),
            "cvip": flag_everything_f1(read(args.results, first, "cvip"), "cvip")}
    result = {"figures": rows, "flag_everything": base,
              "candidate": decide(rows[args.reference], rows[args.candidate])}
    if args.control:
        result["control"] = decide(rows[args.reference], rows[args.control])
    lines = ["| effunet-cm (mean over the runs named) | learned-fill validation F1 | mean of the 10 validation subsets | CVIP F1 | passes (a) / (b) / (c) |",
             "|---|---|---|---|---|"]
    role = {args.candidate: "candidate", args.control: "control"}  # the reference has no verdict
    for who, f in rows.items():
        verdict = result.get(role.get(who, ""), {})
        marks = " / ".join("yes" if verdict[k] else "no" for k in ("a_learned_gain", "b_old_kinds_kept", "c_cvip")) if verdict else "–"
        lines.append(f"| {who} | {f['learned_val']:.3f} | {f['validation_mean']:.3f} | {f['cvip']:.3f} | {marks} |")
    lines.append(f"| *flag everything* | {base['learned_val']:.3f} | – | {base['cvip']:.3f} | – |")
    control = f" (control: {result['control']['passes']})" if args.control else ""
    lines += ["", f"Candidate passes: **{result['candidate']['passes']}**{control}."]
    text = "\n".join(lines) + "\n"
    (args.results / f"{args.out_name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.results / f"{args.out_name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
