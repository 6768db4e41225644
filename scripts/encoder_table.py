"""Issue 18 item 2: the table of the encoder comparison written by scripts/eval_encoders.sh, and
the decision rule committed before it was run (docs/RESULTS.md, "Bigger encoders"):

a candidate replaces the shipped weights if effunet-cm's mean pixel F1 over the ten validation
subsets (five kinds, two recipes) is >= 0.01 above the shipped weights', and its CVIP pixel F1
is no more than 0.005 lower; if both qualify, the higher mean wins unless the two are within
0.005, when the smaller encoder (Lite1) does.

    .venv/bin/python scripts/encoder_table.py [--results docs/results/localize/encoders]

Writes summary.json and summary.md beside the results and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localize_results import KINDS, VAL_SETS, flag_everything_f1, read as metrics  # noqa: E402

WHO = ("shipped", "lite1", "lite2")
MIN_GAIN, MAX_CVIP_LOSS, TIE = 0.01, 0.005, 0.005


def row(root: Path, who: str, det: str) -> dict:
    out, subsets = {}, []
    for name in VAL_SETS:
        m = metrics(root, who, name)["metrics"][det]
        f1 = [m[k]["f1_mean_per_image"] for k in KINDS]
        subsets += f1
        out[name] = {"pixel_f1": float(np.mean(f1)), "pixel_auc": m["mean"]["auc_mean_per_image"],
                     "image_roc_auc": float(np.mean([m[k]["image_roc_auc"] for k in KINDS])),
                     "authentic_fp_area": m["authentic"]["false_positive_area_mean_per_authentic_image"],
                     "per_kind_f1": dict(zip(KINDS, f1))}
    cvip = metrics(root, who, "cvip")["metrics"][det]["copymove_cvip"]
    out["validation_mean_f1"] = float(np.mean(subsets))
    out["cvip"] = {"pixel_f1": cvip["f1_mean_per_image"], "pixel_auc": cvip["auc_mean_per_image"],
                   "image_roc_auc": cvip["image_roc_auc"]}
    return out


def flag_everything(root: Path) -> dict:
    return {name: flag_everything_f1(metrics(root, "shipped", name), name) for name in (*VAL_SETS, "cvip")}


def decide(rows: dict) -> tuple[str, list[str]]:
    base = rows["shipped"]["effunet-cm"]
    why, qualified = [], {}
    for who in WHO[1:]:
        r = rows[who]["effunet-cm"]
        gain = r["validation_mean_f1"] - base["validation_mean_f1"]
        cvip = r["cvip"]["pixel_f1"] - base["cvip"]["pixel_f1"]
        ok = gain >= MIN_GAIN and cvip >= -MAX_CVIP_LOSS
        why.append(f"{who}: validation mean F1 {gain:+.4f} (needs >= +{MIN_GAIN}), CVIP {cvip:+.4f} "
                   f"(needs >= -{MAX_CVIP_LOSS}): {'qualifies' if ok else 'does not qualify'}")
        if ok:
            qualified[who] = r["validation_mean_f1"]
    if not qualified:
        return "shipped", why
    if len(qualified) == 2 and abs(qualified["lite1"] - qualified["lite2"]) < TIE:
        return "lite1", why + ["both qualify within the tie margin: the smaller (lite1)"]
    return max(qualified, key=qualified.get), why


def table(rows: dict, base: dict) -> str:
    lines = ["| localiser | encoder | standard val: pixel F1 | pixel AUC | realistic val: pixel F1 | pixel AUC | "
             "mean of the 10 subsets | authentic FP area (std / real) | image ROC-AUC (std / real) | CVIP pixel F1 | CVIP image AUC |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for det in ("effunet", "effunet-cm"):
        for who in WHO:
            r = rows[who][det]
            s, q = r["standard-val"], r["realistic-val"]
            lines.append(f"| {det} | {who} | {s['pixel_f1']:.3f} | {s['pixel_auc']:.3f} | {q['pixel_f1']:.3f} | "
                         f"{q['pixel_auc']:.3f} | {r['validation_mean_f1']:.3f} | {s['authentic_fp_area']:.3f} / "
                         f"{q['authentic_fp_area']:.3f} | {s['image_roc_auc']:.3f} / {q['image_roc_auc']:.3f} | "
                         f"{r['cvip']['pixel_f1']:.3f} | {r['cvip']['image_roc_auc']:.3f} |")
    lines.append(f"| *flag everything* | – | {base['standard-val']:.3f} | 0.500 | {base['realistic-val']:.3f} | 0.500 | "
                 f"{(base['standard-val'] + base['realistic-val']) / 2:.3f} | 1.000 / 1.000 | 0.500 / 0.500 | "
                 f"{base['cvip']:.3f} | 0.500 |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=Path("docs/results/localize/encoders"))
    args = ap.parse_args()
    rows = {who: {det: row(args.results, who, det) for det in ("effunet", "effunet-cm")} for who in WHO}
    base = flag_everything(args.results)
    choice, why = decide(rows)
    md = table(rows, base)
    text = f"{md}\n\nDecision (rule fixed before the run): **{choice}**\n" + "".join(f"- {w}\n" for w in why)
    (args.results / "summary.md").write_text(text)
    (args.results / "summary.json").write_text(json.dumps(
        {"rows": rows, "flag_everything_f1": base, "decision": choice, "reasons": why,
         "rule": {"min_validation_gain": MIN_GAIN, "max_cvip_loss": MAX_CVIP_LOSS, "tie": TIE},
         "sources": sorted(str(p) for p in args.results.glob("*/results.json"))}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
