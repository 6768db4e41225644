"""Localisation results for docs/RESULTS.md, every number from `forenscope eval`:

    python scripts/eval_localize.py [--data ../shared/data] [--forgeries work/synth-forgeries]
        [--run effunet=work/runs/effunet --run iidnet=work/runs/iidnet-telea] [--update-cards]

0. The validation split (the choice of the default localiser): docs/results/localize/validation/.
1. The synthetic test split (photos no training step saw), a row per manipulation type, with
   authentic test images as the negatives of every row: docs/results/localize/synthetic/.
2. CVIP copy-move (50 forged + masks, 10 originals): docs/results/localize/cvip/.
3. The inpainting leave-one-method-out table: each trained localiser's rows for the inpainting
   methods, marked "trained on" / "unseen" from its card: docs/results/localize/inpainting.md.

Detectors: the classical ones (ela, noise, jpeg-ghost, copymove-sift; only ela and
copymove-sift on the 738 synthetic test images), each trained localiser, shipped or from a run
folder (--run NAME=DIR), and ``effunet-cm`` (effunet OR copymove-sift) when effunet is among
them. ``--only NAME`` (repeatable) reruns just those detectors and merges their rows into the
results already there (e.g. effunet-cm after its map rule changed: the other rows, hours of CPU,
are unchanged; the merged rows carry their own commit under ``merged``). ``--update-cards``
writes the test metrics into the shipped cards of the trained localisers and copymove-sift's,
and writes effunet-cm's card (its components and their hashes); with ``--only``, just those
detectors' cards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "results" / "localize"
CARDS = REPO / "src" / "forenscope" / "weights"
CLASSICAL = ["ela", "noise", "jpeg-ghost", "copymove-sift"]
SYNTHETIC_CLASSICAL = ["ela", "copymove-sift"]  # noise / jpeg-ghost: weak on CVIP, slow on 738 images
KEEP = ("f1_mean_per_image", "iou_mean_per_image", "auc_mean_per_image",
        "patch_f1_from_map_pooled_over_manipulated_images", "patch_f1_from_map_pooled_over_all_images",
        "false_positive_area_mean_per_authentic_image", "image_roc_auc")
# a localiser "beats" the flag-everything map on a set when both of these exceed the baseline's
BEAT = ("f1_mean_per_image", "patch_f1_from_map_pooled_over_all_images")


def run_eval(dataset: Path, detectors: list[str], runs: dict[str, str], out: Path) -> dict:
    cmd = [str(Path(sys.executable).parent / "forenscope"), "eval", str(dataset), "--kind", "pixel",
           *sum((["-d", d] for d in detectors), []), *sum((["--run", f"{k}={v}"] for k, v in runs.items()), []),
           "--out", str(out), "--no-progress"]
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=False, cwd=REPO)
    return json.loads((out / "results.json").read_text())


def merge_rows(partial: dict, out: Path, names: list[str]) -> dict:
    """Replace ``names``' rows in ``out``'s results (same dataset, checked by manifest hash) with
    ``partial``'s, and their per-image lines; the rows keep the commit they were computed at."""
    from forenscope.evaluate.dataset_eval import write_results

    full = json.loads((out / "results.json").read_text())
    if full["dataset"]["manifest_sha256"] != partial["dataset"]["manifest_sha256"]:
        raise SystemExit(f"{out}: its dataset manifest differs from the rerun's; rerun everything without --only")
    for name in names:
        full["metrics"][name] = partial["metrics"][name]
        full["detectors"][name] = partial["detectors"][name]
        full.setdefault("merged", {})[name] = {"git": partial["git"], "argv": partial["environment"].get("argv")}
    full["n_errors"] = max(full["n_errors"], partial["n_errors"])
    rows = [json.loads(line) for line in (out / "per_image.jsonl").read_text().splitlines()]
    keep = [row for row in rows if row.get("detector") not in names]
    fresh = [json.loads(line) for line in (out / "partial" / "per_image.jsonl").read_text().splitlines()]
    write_results(full, keep + fresh, out)
    shutil.rmtree(out / "partial")  # its rows now live in out
    return full


def run_sets(forgeries: Path, data: Path, trained: list[str], runs: dict[str, str], only: list[str]):
    """Evaluate the validation split, the synthetic test split and CVIP; with ``only``, just those
    detectors, merged into the results already written."""
    sets = {"validation": (forgeries / "val.csv", trained + ["copymove-sift"]),
            "synthetic": (forgeries / "test.csv", SYNTHETIC_CLASSICAL + trained),
            "cvip": (data / "copymove_cvip", CLASSICAL + trained)}
    results = {}
    for name, (dataset, detectors) in sets.items():
        if only:
            partial = run_eval(dataset, [d for d in detectors if d in only], runs, OUT / name / "partial")
            results[name] = merge_rows(partial, OUT / name, only)
        else:
            results[name] = run_eval(dataset, detectors, runs, OUT / name)
    return results["synthetic"], results["cvip"]


def trained_on(name: str, runs: dict[str, str]) -> list[str]:
    path = Path(runs[name]) / "card.json" if name in runs else CARDS / f"{name}.json"
    if not path.is_file():
        return ["all kinds"]
    card = json.loads(path.read_text())
    return card.get("training", {}).get("config", {}).get("data", {}).get("kinds") or ["all kinds"]


def inpainting_table(result: dict, trained: dict[str, list[str]]) -> str:
    lines = ["| localiser | trained on | test: inpainting method | pixel F1 | pixel IoU | pixel AUC | image AUC |",
             "|---|---|---|---|---|---|---|"]
    for det, kinds in trained.items():
        for method in ("inpaint-telea", "inpaint-ns", "inpaint-patch"):
            row = result["metrics"][det].get(method)
            if row is None:
                continue
            seen = "trained on" if method in kinds or kinds == ["all kinds"] else "**unseen**"
            cells = [row.get(k) for k in ("f1_mean_per_image", "iou_mean_per_image", "auc_mean_per_image", "image_roc_auc")]
            lines.append(f"| {det} | {', '.join(kinds)} | {method} ({seen}) | "
                         + " | ".join("–" if c is None else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def flag_everything(synthetic: dict, cvip: dict) -> dict:
    base = {"synthetic": synthetic["baselines"]["flag everything"], "copymove_cvip": cvip["baselines"]["flag everything"]}
    return {"synthetic": {k: {m: v.get(m) for m in KEEP} for k, v in base["synthetic"].items()},
            "copymove_cvip": {m: base["copymove_cvip"]["copymove_cvip"].get(m) for m in KEEP}}


def not_beating(name: str, synthetic: dict, cvip: dict) -> list[str]:
    """The test sets (synthetic kinds, their mean, CVIP) where ``name`` does not beat flagging everything."""
    rows = [(f"synthetic {k}", v, synthetic["baselines"]["flag everything"][k])
            for k, v in synthetic["metrics"][name].items()]
    rows.append(("copymove_cvip", cvip["metrics"][name]["copymove_cvip"],
                 cvip["baselines"]["flag everything"]["copymove_cvip"]))
    return [label for label, row, base in rows if row.get("n_manipulated")  # an authentic-only subset has nothing to find
            and not all((row.get(m) or 0.0) > (base.get(m) or 0.0) for m in BEAT)]


def baseline_table(results: dict[str, dict]) -> str:
    """The trivial maps beside the localisers, per test set (for RESULTS)."""
    lines = ["| baseline | test set | pixel F1 | patch F1 (map, manipulated) | patch F1 (map, all images) | image AUC |",
             "|---|---|---|---|---|---|"]
    for set_name, result in results.items():
        for base, table in result["baselines"].items():
            for subset, row in table.items():
                cells = [row.get(k) for k in ("f1_mean_per_image", "patch_f1_from_map_pooled_over_manipulated_images",
                                              "patch_f1_from_map_pooled_over_all_images", "image_roc_auc")]
                lines.append(f"| {base} | {set_name} {subset} | "
                             + " | ".join("–" if c is None else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_fusion_card() -> None:
    """effunet-cm ships no weights of its own: its card names its components and their hashes."""
    learned = json.loads((CARDS / "effunet.json").read_text())
    matcher = json.loads((CARDS / "copymove-sift.json").read_text())
    design = OUT / "fusion-design" / "results.json"  # scripts/design_fusion.py: chosen on validation + CVIP
    rule = json.loads(design.read_text())["chosen"].removeprefix("rule ") if design.is_file() else "union"
    card = {"name": "effunet-cm", "task": "localize", "family": "fusion", "rule": rule,
            "rule_source": str(design.relative_to(REPO)) if design.is_file() else None,
            "components": {"effunet": {"weights_sha256": learned["weights_sha256"], "threshold": learned["threshold"]},
                           "copymove-sift": {"threshold": matcher["threshold"]}},
            "weights_sha256": learned["weights_sha256"], "threshold": learned["threshold"],
            "threshold_note": "effunet's; the image is flagged when effunet or copymove-sift flags it",
            "licence": "Apache-2.0", "training_data_terms": learned.get("training_data_terms"), "metrics": {}}
    old = json.loads((CARDS / "effunet-cm.json").read_text()) if (CARDS / "effunet-cm.json").is_file() else {}
    for block in ("calibration", "robustness"):  # the image score does not depend on the map rule
        if block in old:
            card[block] = old[block]
    for block in card.get("robustness", {}).values():  # one block per task: measured with the old rule's maps
        if block.get("map_rule", old.get("rule", "union")) != rule:
            block["map_rule"] = old.get("rule", "union")
    (CARDS / "effunet-cm.json").write_text(json.dumps(card, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("FORENSCOPE_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--forgeries", type=Path, default=REPO / "work" / "synth-forgeries")
    ap.add_argument("--run", action="append", default=[], help="NAME=DIR of a localiser training run")
    ap.add_argument("--model", action="append", default=[], help="a shipped trained localiser to include")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="rerun just this detector (repeatable) and merge its rows into the existing results")
    ap.add_argument("--update-cards", action="store_true")
    ap.add_argument("--cards-only", action="store_true",
                    help="write the cards from the results.json files already in docs/results/localize (no evaluation)")
    args = ap.parse_args()
    runs = dict(r.split("=", 1) for r in args.run)
    trained = list(dict.fromkeys([*args.model, *runs]))
    if "effunet" in trained:
        trained.append("effunet-cm")
        if "effunet" in runs:
            runs["effunet-cm"] = runs["effunet"]
    unknown = [d for d in args.only if d not in CLASSICAL + trained]
    if unknown:
        raise SystemExit(f"--only {', '.join(unknown)}: not among the detectors evaluated ({', '.join(CLASSICAL + trained)})")
    if args.update_cards and "effunet-cm" in (args.only or trained) and not args.cards_only:
        write_fusion_card()  # first: the evaluation must run the rule scripts/design_fusion.py chose

    if args.cards_only:
        synthetic, cvip = (json.loads((OUT / n / "results.json").read_text()) for n in ("synthetic", "cvip"))
    else:
        synthetic, cvip = run_sets(args.forgeries, args.data, trained, runs, args.only)
    # with --only, every trained localiser already in the merged results keeps its rows
    in_table = [d for d in synthetic["metrics"] if d not in CLASSICAL] if args.only else trained
    table = inpainting_table(synthetic, {d: trained_on(d, runs) for d in in_table})
    (OUT / "inpainting.md").write_text(
        "Inpainting leave-one-method-out (from docs/results/localize/synthetic/results.json)\n\n" + table)
    print(table)
    base = baseline_table({"synthetic": synthetic, "cvip": cvip})
    (OUT / "baselines.md").write_text("Trivial maps on the localisation test sets (from the results.json beside)\n\n" + base)
    print(base)

    if args.update_cards:
        for name in [d for d in SYNTHETIC_CLASSICAL + trained if (CARDS / f"{d}.json").is_file()
                     and (d in trained or d == "copymove-sift") and (not args.only or d in args.only)]:
            card = json.loads((CARDS / f"{name}.json").read_text())
            card.setdefault("metrics", {})
            card["metrics"]["test"] = {
                "synthetic": {k: {m: v.get(m) for m in KEEP} for k, v in synthetic["metrics"][name].items()},
                "copymove_cvip": {m: cvip["metrics"][name]["copymove_cvip"].get(m) for m in KEEP},
                "baseline_flag_everything": flag_everything(synthetic, cvip),
                "does_not_beat_flag_everything": not_beating(name, synthetic, cvip),
                "source": ["docs/results/localize/synthetic/results.json", "docs/results/localize/cvip/results.json"],
                "git": synthetic["git"],
            }
            (CARDS / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
            print(f"card updated: {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
