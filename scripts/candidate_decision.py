"""Issue 18: the decision rule for a candidate effunet recipe, committed before its training,
applied to the results a candidate script wrote (two seeds, validation and CVIP, e.g.
scripts/train_more_hosts.sh -> docs/results/localize/more-hosts, scripts/train_crop256.sh ->
docs/results/localize/crop256) and to the shipped recipe's seeds (--reference: the three of the
128-px recipe in docs/results/localize/seeds, the two of the 256-px one in
docs/results/localize/crop256). Validation and CVIP only.

The candidate ships if (a) effunet-cm's pixel F1 over the ten validation subsets, averaged over
its seeds 0 and 1, is >= the shipped recipe's mean over its seeds + 0.01, and (b) its CVIP pixel F1
averaged over the two seeds is >= the shipped recipe's CVIP mean - 0.005. The seed with the
higher validation mean ships (seed 0 within 0.001) if its CVIP F1 is >= copymove-sift's alone
(--never-lose: 0.876 with its 4,000-keypoint budget, 0.894 with 8,000), else the other seed if it
is, else nothing. --reference-cvip reads the shipped recipe's CVIP figures from another folder
(e.g. docs/results/localize/crop256-kp8000: the same weights re-evaluated with today's matcher),
so both sides of (b) use the same matcher.

    .venv/bin/python scripts/candidate_decision.py --results docs/results/localize/more-hosts --label "more hosts (810)"
    .venv/bin/python scripts/candidate_decision.py --results docs/results/localize/crop256 --label "256-px crops" \
        --reference-label "shipped recipe (128-px crops)"
    .venv/bin/python scripts/candidate_decision.py --results docs/results/localize/crop320 --label "320-px crops" \
        --reference docs/results/localize/crop256 --reference-seeds seed0,seed1 --reference-label "shipped recipe (256-px crops)"
    .venv/bin/python scripts/candidate_decision.py --results docs/results/localize/crop320-cycle2 --label "..." \
        --reference docs/results/localize/crop256 --reference-seeds seed0,seed1 \
        --reference-cvip docs/results/localize/crop256-kp8000 --never-lose 0.894

(scripts/train_candidate.sh runs it after training and evaluating a candidate.)

Writes decision.json and decision.md beside the candidate's results and prints them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localize_results import VAL_SETS, flag_everything_f1, kind_mean, read, validation_mean_f1  # noqa: E402

MIN_GAIN, MAX_CVIP_LOSS, NEVER_LOSE, TIE = 0.01, 0.005, 0.876, 0.001
DETECTORS = ("effunet", "effunet-cm")


def figures(root: Path, seeds: tuple[str, ...], cvip_root: Path | None = None) -> dict:
    """Per seed and detector: the ten-subset validation mean, each validation split's mean, CVIP
    (read from ``cvip_root`` when given)."""
    return {s: {det: {"validation_mean_f1": validation_mean_f1(root, s, det),
                      **{n: kind_mean(read(root, s, n), det, n) for n in VAL_SETS},
                      "cvip": kind_mean(read(cvip_root or root, s, "cvip"), det, "cvip")}
                for det in DETECTORS} for s in seeds}


def reference_seeds(root: Path) -> tuple[str, ...]:
    """The seeds evaluated under ``root`` (seedN-cvip/), e.g. the 128-px recipe's three, the 256-px one's two."""
    seeds = tuple(sorted(p.name.removesuffix("-cvip") for p in root.glob("seed*-cvip")))
    if not seeds:
        sys.exit(f"no seedN-cvip/ results under {root}")
    return seeds


def decide(candidate: dict, reference: dict, never_lose: float = NEVER_LOSE, min_gain: float = MIN_GAIN,
           max_cvip_loss: float = MAX_CVIP_LOSS, every_seed: bool = False) -> tuple[str | None, list[str]]:
    cm = {s: f["effunet-cm"] for s, f in candidate.items()}
    ref = {s: f["effunet-cm"] for s, f in reference.items()}
    if every_seed:  # paired candidates (same weights read another way): each seed must beat its own reference
        lower = [s for s in cm if cm[s]["validation_mean_f1"] <= ref[s]["validation_mean_f1"]]
        if lower:
            return None, [f"{s}: validation {cm[s]['validation_mean_f1']:.4f} <= its reference's "
                          f"{ref[s]['validation_mean_f1']:.4f}: not a gain on every seed" for s in lower] + ["the shipped weights stay"]
    val, ref_val = np.mean([f["validation_mean_f1"] for f in cm.values()]), np.mean([f["validation_mean_f1"] for f in ref.values()])
    cvip, ref_cvip = np.mean([f["cvip"] for f in cm.values()]), np.mean([f["cvip"] for f in ref.values()])
    why = [f"(a) validation mean {val:.4f} against the shipped recipe's {ref_val:.4f} + {min_gain} = {ref_val + min_gain:.4f}: "
           f"{'met' if val >= ref_val + min_gain else 'not met'}",
           f"(b) CVIP {cvip:.4f} against {ref_cvip:.4f} - {max_cvip_loss} = {ref_cvip - max_cvip_loss:.4f}: "
           f"{'met' if cvip >= ref_cvip - max_cvip_loss else 'not met'}"]
    if val < ref_val + min_gain or cvip < ref_cvip - max_cvip_loss:
        return None, why + ["the shipped weights stay"]
    order = sorted(cm, key=lambda s: (-cm[s]["validation_mean_f1"], s))
    if len(order) > 1 and cm[order[0]]["validation_mean_f1"] - cm[order[1]]["validation_mean_f1"] < TIE:
        order = sorted(order[:2]) + order[2:]  # a tie goes to the lower seed
    for s in order:
        if cm[s]["cvip"] >= never_lose:
            return s, why + [f"{s} ships (validation {cm[s]['validation_mean_f1']:.4f}, CVIP {cm[s]['cvip']:.4f} >= {never_lose})"]
        why.append(f"{s}: CVIP {cm[s]['cvip']:.4f} < {never_lose} (copymove-sift): passed over")
    return None, why + ["no seed meets the never-lose floor: the shipped weights stay"]


def table(candidate: dict, reference: dict, base: dict, label: str, reference_label: str) -> str:
    lines = ["| weights | seed | effunet-cm: standard val | realistic val | mean of the 10 subsets | CVIP | "
             "effunet alone: mean of the 10 | CVIP |", "|---|---|---|---|---|---|---|---|"]
    for label, group in ((reference_label, reference), (label, candidate)):
        for s, f in group.items():
            c, e = f["effunet-cm"], f["effunet"]
            lines.append(f"| {label} | {s} | {c['standard-val']:.3f} | {c['realistic-val']:.3f} | "
                         f"{c['validation_mean_f1']:.3f} | {c['cvip']:.3f} | {e['validation_mean_f1']:.3f} | {e['cvip']:.3f} |")
        m = {k: np.mean([f["effunet-cm"][k] for f in group.values()]) for k in ("standard-val", "realistic-val", "validation_mean_f1", "cvip")}
        me = {k: np.mean([f["effunet"][k] for f in group.values()]) for k in ("validation_mean_f1", "cvip")}
        lines.append(f"| {label} | mean | {m['standard-val']:.3f} | {m['realistic-val']:.3f} | **{m['validation_mean_f1']:.3f}** | "
                     f"**{m['cvip']:.3f}** | {me['validation_mean_f1']:.3f} | {me['cvip']:.3f} |")
    lines.append(f"| *flag everything* | – | {base['standard-val']:.3f} | {base['realistic-val']:.3f} | "
                 f"{(base['standard-val'] + base['realistic-val']) / 2:.3f} | {base['cvip']:.3f} | – | – |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, required=True, help="the candidate's results (seed0-<set>/, seed1-<set>/)")
    ap.add_argument("--label", required=True, help="the candidate's name in the table")
    ap.add_argument("--reference", type=Path, default=Path("docs/results/localize/seeds"),
                    help="the shipped recipe's results (every seedN- in it): seeds = 128-px crops, crop256 = 256-px crops")
    ap.add_argument("--reference-seeds", default="", help="e.g. seed0,seed1: only these of the reference's seeds "
                    "(default every one it holds; a seed added later would change an old decision)")
    ap.add_argument("--reference-label", default="shipped recipe (426 hosts)")
    ap.add_argument("--reference-cvip", type=Path, default=None,
                    help="read the reference's CVIP figures here instead (same seeds, e.g. re-evaluated with today's matcher)")
    ap.add_argument("--min-gain", type=float, default=MIN_GAIN, help="(a)'s margin over the reference's validation mean")
    ap.add_argument("--max-cvip-loss", type=float, default=MAX_CVIP_LOSS, help="(b)'s allowance under the reference's CVIP mean")
    ap.add_argument("--every-seed", action="store_true",
                    help="a paired candidate (the reference's weights read another way): every seed must also beat its own reference")
    ap.add_argument("--never-lose", type=float, default=NEVER_LOSE,
                    help="copymove-sift's CVIP F1 alone, the floor a shipped seed must reach (0.876 at 4,000 keypoints, 0.894 at 8,000)")
    args = ap.parse_args()
    candidate = figures(args.results, ("seed0", "seed1"))
    reference = figures(args.reference, tuple(args.reference_seeds.split(",")) if args.reference_seeds
                        else reference_seeds(args.reference), args.reference_cvip)
    base = {n: flag_everything_f1(read(args.results, "seed0", n), n) for n in (*VAL_SETS, "cvip")}
    choice, why = decide(candidate, reference, args.never_lose, args.min_gain, args.max_cvip_loss, args.every_seed)
    text = (table(candidate, reference, base, args.label, args.reference_label) + f"\n\nDecision (rule committed before training): "
            f"**{choice or 'not shipped'}**\n" + "".join(f"- {w}\n" for w in why))
    (args.results / "decision.md").write_text(text)
    (args.results / "decision.json").write_text(json.dumps(
        {"candidate": candidate, "reference": reference, "flag_everything_f1": base, "decision": choice, "reasons": why,
         "rule": {"min_validation_gain": args.min_gain, "max_cvip_loss": args.max_cvip_loss, "never_lose_cvip": args.never_lose,
                  "tie": TIE, "every_seed": args.every_seed},
         "sources": sorted(str((cvip_root if n == "cvip" and cvip_root else root) / f"{s}-{n}" / "results.json")
                           for root, seeds, cvip_root in ((args.results, candidate, None), (args.reference, reference, args.reference_cvip))
                           for s in seeds for n in (*VAL_SETS, "cvip"))},  # what the decision read: no test split
        indent=1))
    print(text)


if __name__ == "__main__":
    main()
