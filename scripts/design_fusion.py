"""Choose effunet-cm's per-pixel combination rule on validation data (issue 18, item 3).

    python scripts/design_fusion.py [--data ../shared/data] [--forgeries work/synth-forgeries]
        [--realistic work/synth-forgeries-realistic | --no-realistic]
        [--learned work/synth-forgeries-learned work/synth-forgeries-realistic-learned | --no-learned] [--test]

The components' raw maps (effunet, copymove-sift) are computed once per image and cached in
work/fusion-maps; every candidate rule is then scored offline on the VALIDATION splits of both
forgery recipes effunet trains on (per kind), on the learned inpainter's fills in both recipes and
on CVIP, and the rule with the best worst-case margin over its best component ("never loses to its
parts") wins, unrounded (a rounded tie once chose a rule that really lost 0.0003 on validation),
mean pixel F1 breaking exact ties. ``--test`` also scores the
synthetic test splits, once, for RESULTS (they choose nothing). Writes
docs/results/localize/fusion-design/results.{json,md}.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from forenscope.data.datasets import find_pixel_pairs
from forenscope.detectors import load_detector
from forenscope.detectors.fusion import RULES
from forenscope.evaluate.metrics import pixel_f1_at
from forenscope.records import environment, git_commit
from forenscope.imageio import read_image, read_truth_mask

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "work" / "fusion-maps"
OUT = REPO / "docs" / "results" / "localize" / "fusion-design"


def _cached(kind: str, image: Path, detector, compute) -> dict:
    """``compute()``'s arrays for this image and this detector's configuration (weights hash,
    gates: everything but the threshold, which the maps do not depend on), cached in
    work/fusion-maps/<kind>: a new weight or gate computes anew, an unchanged one is reused."""
    config = {k: v for k, v in detector.config().items() if k != "threshold"}
    key = json.dumps([str(image), image.stat().st_size, config], sort_keys=True, default=str)
    path = CACHE / kind / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **compute())
    return dict(np.load(path))


def component_maps(samples, learned, matcher, shard: tuple[int, int] = (0, 1)) -> list[dict]:
    """Per image: truth mask, effunet's heat, copymove-sift's heat and score (cached).
    ``shard`` (k, n): only every n-th image from the k-th (to fill the cache from n processes)."""
    rows = []
    for n, s in enumerate(samples):
        if n % shard[1] != shard[0]:
            continue
        pixels = functools.cache(lambda path=s.image: read_image(path))  # read at most once, only on a cache miss

        def learned_maps():
            rgb, meta = pixels()
            truth = read_truth_mask(s.mask) if s.mask else np.zeros(rgb.shape[:2], bool)
            return {"truth": truth, "learned": learned._analyze(rgb, meta).heatmap.astype(np.float16)}

        def clone_maps():
            c = matcher._analyze(*pixels())
            return {"clone": c.heatmap.astype(np.float16), "score": c.score}

        a = _cached("learned", s.image, learned, learned_maps)
        c = _cached("clone", s.image, matcher, clone_maps)
        rows.append({"subset": s.subset, "truth": a["truth"], "learned": a["learned"].astype(np.float32),
                     "clone": c["clone"].astype(np.float32), "score": float(c["score"])})
        if (n + 1) % 100 == 0:
            print(f"  maps {n + 1}/{len(samples)}", file=sys.stderr)
    return rows


def parse_shard(text: str) -> tuple[int, int]:
    """``--fill-cache K/N`` as (K, N) with 0 <= K < N: every N-th image from the K-th (one
    process per core fills a map cache side by side)."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        k, n = 0, 0
    if not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"takes K/N with 0 <= K < N (e.g. 0/2), got {text!r}")
    return k, n


def _fill_set(root: Path) -> str:
    """A learned-fill set's short name: work/synth-forgeries-realistic-learned -> realistic-learned."""
    return root.name.removeprefix("synth-forgeries-")


def source_folders(data: Path, forgeries: Path, test: bool, recipes: dict[str, Path]) -> dict[str, Path]:
    """Evaluation folders by set name: the validation split and CVIP, then each further forgery
    set's validation split as "validation-<name>" (``recipes``: "realistic", "learned", ...), and
    with ``test`` the same test splits, for RESULTS."""
    sources = {"validation": forgeries / "val.csv", "cvip": data / "copymove_cvip"}
    sources |= {f"validation-{name}": root / "val.csv" for name, root in recipes.items()}
    if test:
        sources["test"] = forgeries / "test.csv"
        sources |= {f"test-{name}": root / "test.csv" for name, root in recipes.items()}
    return sources


def component_sets(data: Path, forgeries: Path, test: bool, recipes: dict[str, Path] | None = None,
                   shard: tuple[int, int] = (0, 1)) -> tuple[dict[str, list[dict]], float]:
    """The cached component maps of every folder :func:`source_folders` names, with copymove-sift's
    threshold: what this script and scripts/design_image_head.py design on."""
    learned = load_detector("effunet", calibrated=False)
    matcher = load_detector("copymove-sift", calibrated=False)
    sources = source_folders(data, forgeries, test, recipes or {})
    return ({name: component_maps(find_pixel_pairs(src), learned, matcher, shard) for name, src in sources.items()},
            matcher.threshold)


def score(rows: list[dict], heat_of) -> dict[str, float]:
    """Mean pixel F1 at 0.5 per subset (manipulated images) of the maps ``heat_of(row)``: the
    evaluator's ``f1_mean_per_image``, without its per-image AUCs (which this choice never reads
    and which made the search take half an hour)."""
    f1s: dict[str, list[float]] = {}
    for r in rows:
        if r["truth"].any():
            f1s.setdefault(r["subset"], []).append(pixel_f1_at(r["truth"], heat_of(r)))
    return {k: float(np.mean(v)) for k, v in f1s.items()}


def evaluate(sets: dict[str, list[dict]], threshold: float) -> dict:
    """F1 per set and subset for each component and each rule (``threshold``: the matcher's)."""
    candidates = {"effunet": lambda r: r["learned"], "copymove-sift": lambda r: r["clone"]}
    candidates |= {f"rule {name}": (lambda r, f=f: f(r["learned"], r["clone"], r["score"], threshold))
                   for name, f in RULES.items()}
    return {name: {set_name: score(rows, f) for set_name, rows in sets.items()} for name, f in candidates.items()}


def margins(table: dict) -> dict[str, dict]:
    """Each rule's worst margin over its best component across every set and subset, and its mean F1."""
    out = {}
    for name, per_set in table.items():
        if not name.startswith("rule "):
            continue
        deltas, f1s = [], []
        for set_name, subsets in per_set.items():
            for sub, f1 in subsets.items():
                best = max(table["effunet"][set_name][sub], table["copymove-sift"][set_name][sub])
                deltas.append(f1 - best)
                f1s.append(f1)
        out[name] = {"worst_margin": float(min(deltas)), "mean_f1": float(np.mean(f1s))}
    return out


def best_rule(m: dict[str, dict]) -> str:
    """The rule with the best worst margin, unrounded (a rounded tie once chose a rule that really
    lost 0.0003 on validation); mean F1 breaks exact ties, then the order of ``RULES``."""
    return max(m, key=lambda k: (m[k]["worst_margin"], m[k]["mean_f1"]))


def markdown(result: dict) -> str:
    lines = ["# effunet-cm: per-pixel combination chosen on validation", "",
             f"Chosen: **{result['chosen']}** (best worst-case margin over the better component on the "
             "validation kinds of both recipes, the learned fills and CVIP, unrounded; mean F1 breaks ties).", "",
             "| map | set | " + " | ".join(result["columns"]) + " |", "|---|---|" + "---|" * len(result["columns"])]
    for split in ("design", "test"):
        for name, per_set in result.get(split, {}).items():
            cells = [f"{per_set.get(s, {}).get(k, float('nan')):.3f}" for s, k in result["column_keys"]]
            lines.append(f"| {name} | {split} | " + " | ".join(cells) + " |")
    lines += ["", "| rule | worst margin | mean F1 |", "|---|---|---|"]
    lines += [f"| {k} | {v['worst_margin']:+.3f} | {v['mean_f1']:.3f} |" for k, v in result["margins"].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("FORENSCOPE_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--forgeries", type=Path, default=REPO / "work" / "synth-forgeries")
    ap.add_argument("--realistic", type=Path, default=REPO / "work" / "synth-forgeries-realistic",
                    help="the realistic recipe's forgeries (effunet trains on both recipes)")
    ap.add_argument("--no-realistic", action="store_true", help="design on the standard recipe only")
    ap.add_argument("--learned", type=Path, nargs="*",
                    default=[REPO / "work" / "synth-forgeries-learned", REPO / "work" / "synth-forgeries-realistic-learned"],
                    help="the learned inpainter's fill sets (`synth forgeries --kind inpaint-learned`; effunet trains on them)")
    ap.add_argument("--no-learned", action="store_true", help="design without the learned-fill sets")
    ap.add_argument("--test", action="store_true", help="also score the synthetic test splits (they choose nothing)")
    ap.add_argument("--fill-cache", metavar="K/N", type=parse_shard, help="only compute and cache the maps of every N-th image from "
                    "the K-th, then stop (run N of these side by side, one per core, before the design)")
    args = ap.parse_args()
    realistic = None if args.no_realistic else args.realistic
    if realistic and not (realistic / "val.csv").is_file():
        raise SystemExit(f"{realistic}/val.csv not found: run `forenscope synth forgeries --recipe realistic "
                         f"--out {realistic}` or pass --no-realistic")
    learned_fills = () if args.no_learned else tuple(args.learned)
    for root in learned_fills:
        if not (root / "val.csv").is_file():
            raise SystemExit(f"{root}/val.csv not found: run scripts/make_forgery_sets.sh or pass --no-learned")
    recipes = ({"realistic": realistic} if realistic else {}) | {_fill_set(root): root for root in learned_fills}
    if args.fill_cache:
        component_sets(args.data, args.forgeries, args.test, recipes, args.fill_cache)
        return
    sets, threshold = component_sets(args.data, args.forgeries, args.test, recipes)
    test = {k: sets.pop(k) for k in [k for k in sets if k.startswith("test")]}
    table = evaluate(sets, threshold)
    m = margins(table)
    chosen = best_rule(m)
    result = {"design": table, "margins": m, "chosen": chosen, "git": git_commit(), "environment": environment()}
    if args.test:
        result["test"] = evaluate(test, threshold)
    cols = [(s, k) for s, subs in table["effunet"].items() for k in subs]
    result["column_keys"] = cols + ([(s, k) for s, subs in result["test"]["effunet"].items() for k in subs]
                                    if args.test else [])
    result["columns"] = [f"{s} {k}" for s, k in result["column_keys"]]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (OUT / "results.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
