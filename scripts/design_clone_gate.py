"""Choose copymove-sift's scene-repetition gate (``max_difference``) on validation data (issue 18).

    python scripts/design_clone_gate.py [--data ../shared/data] [--fill-cache K/N]

The matcher verifies the scene's own repetition (identical windows of a facade) as strongly as a
copy. What tells them apart is how alike the two regions are: a copy repeats the source's pixels
up to resampling and recompression, two real look-alikes differ in light, perspective and noise.
Every transform the matcher verifies (gate off) is recorded with its mean absolute grey-level
difference (signals/copymove.clone_difference) on:

- the validation splits of every forgery recipe effunet trains on (work/synth-forgeries*/val.csv),
- CVIP's copy-moves (the benchmark the fusion must not lose on),
- the authentic photos of the standard recipe's training split (more scenes; no test photo).

A transform is a **copy** when it sits on a copy-move image and at least half of its regions lie
inside the truth mask; it is **scene repetition** when it sits on an authentic image. Differences
are measured on target regions of at least ``min_region`` pixels (smaller: none, the transform is
never gated). The gate is 1.25 times the largest copy difference (rejects no copy, with a margin
for copies processed harder than these); the table says how many repetitions it rejects. Test
splits are not read. Writes docs/results/localize/clone-gate/results.{json,md}; per-image records are cached in
work/clone-gate (keyed by image and matcher configuration).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from forenscope.data.datasets import find_pixel_pairs
from forenscope.detectors import load_detector
from forenscope.imageio import read_image, read_truth_mask
from forenscope.records import environment, git_commit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from design_fusion import parse_shard  # noqa: E402  (the same --fill-cache K/N)

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "work" / "clone-gate"
OUT = REPO / "docs" / "results" / "localize" / "clone-gate"
RECIPES = ("synth-forgeries", "synth-forgeries-realistic", "synth-forgeries-learned", "synth-forgeries-realistic-learned")


def design_sources(data: Path, work: Path) -> dict[str, list]:
    """Samples per design set: every validation split, CVIP, the training authentic photos."""
    sets = {f"validation {r}": find_pixel_pairs(work / r / "val.csv") for r in RECIPES if (work / r / "val.csv").is_file()}
    sets["cvip"] = find_pixel_pairs(data / "copymove_cvip")
    train = work / "synth-forgeries" / "train.csv"
    if train.is_file():
        sets["train authentic"] = [s for s in find_pixel_pairs(train) if s.subset == "authentic"]
    return sets


def transforms_of(sample, matcher) -> list[dict]:
    """The matcher's verified transforms on one image, gate off, each with its difference and the
    share of its regions inside the truth mask (None without a mask)."""
    pixels, _ = read_image(sample.image)
    work, _ = matcher.working_image(pixels)
    truth = None
    if sample.mask:
        truth = cv2.resize(read_truth_mask(sample.mask).astype(np.uint8), work.shape[1::-1],
                           interpolation=cv2.INTER_NEAREST) > 0
    rows = []
    for c in matcher.clones(work)[1]:
        region = c["source"] | c["target"]
        inside = float((region & truth).sum() / region.sum()) if truth is not None and region.any() else None
        rows.append({"inliers": c["inliers"], "difference": c["difference"], "inside_truth": inside})
    return rows


def cached_transforms(sample, matcher) -> list[dict]:
    key = json.dumps([str(sample.image), sample.image.stat().st_size, matcher.config()], sort_keys=True)
    path = CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(transforms_of(sample, matcher)))
    return json.loads(path.read_text())


def kind_of(subset: str, t: dict) -> str:
    """copy / repetition / other for one transform (see the module docstring)."""
    if subset == "authentic":
        return "repetition"
    if "copymove" in subset and t["inside_truth"] is not None and t["inside_truth"] >= 0.5:
        return "copy"
    return "other"


MARGIN = 1.25


def choose_gate(copies: list[float]) -> float:
    """``MARGIN`` times the largest copy difference: losing a copy costs the copy-move sets and CVIP
    (the fusion's "never loses" target), so the gate keeps a margin above every copy seen rather
    than splitting the gap to the nearest repetition."""
    return round(MARGIN * max(copies), 1)


def markdown(result: dict) -> str:
    g = result["gate"]
    lines = ["# copymove-sift: the scene-repetition gate, chosen on validation, training authentic photos and CVIP", "",
             f"Gate: reject a verified transform whose regions differ by more than **{g:g} grey levels** on average "
             f"({result['margin']:g} x the largest copy difference, {result['largest_copy']:.2f}; differences measured "
             f"on target regions of at least {result['matcher']['min_region']} working-resolution pixels).", "",
             "| set | firing images (gate off) | copies | copies rejected | scene repetitions | repetitions rejected | other | other rejected |",
             "|---|---|---|---|---|---|---|---|"]
    for name, c in result["counts"].items():
        lines.append(f"| {name} | {c['firing_images']} | {c['copy']} | {c['copy_rejected']} | {c['repetition']} | "
                     f"{c['repetition_rejected']} | {c['other']} | {c['other_rejected']} |")
    lines += ["", "Transforms of at least the matcher's minimum of 8 inliers. 'Other': on a tampered image, not "
              "inside a copy-move's truth (a false match on another forgery, or a copy-move's source missed). "
              "The recipes share their photos, so an authentic photo counts once per recipe. 'Rejected' "
              "counts transforms whose difference exceeds the gate.",
              "", "| set | image | subset | inliers | difference | inside truth | kind |", "|---|---|---|---|---|---|---|"]
    for r in result["transforms"]:
        inside = "-" if r["inside_truth"] is None else f"{r['inside_truth']:.2f}"
        diff = "-" if r["difference"] is None else f"{r['difference']:.2f}"
        lines.append(f"| {r['set']} | {r['image']} | {r['subset']} | {r['inliers']} | {diff} | {inside} | {r['kind']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("FORENSCOPE_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--work", type=Path, default=REPO / "work", help="where the forgery sets are")
    ap.add_argument("--fill-cache", metavar="K/N", type=parse_shard, help="only cache every N-th image from the K-th, then stop")
    args = ap.parse_args()
    matcher = load_detector("copymove-sift", calibrated=False, max_difference=math.inf)
    sets = design_sources(args.data, args.work)
    k, n = args.fill_cache or (0, 1)
    transforms, counts = [], {}
    for name, samples in sets.items():
        c = dict.fromkeys(("firing_images", "copy", "repetition", "other"), 0)
        for i, s in enumerate(samples):
            if args.fill_cache and i % n != k:
                continue
            rows = [t for t in cached_transforms(s, matcher) if t["inliers"] >= matcher.min_inliers]
            c["firing_images"] += bool(rows)
            for t in rows:
                t |= {"set": name, "image": s.image.name, "subset": s.subset, "kind": kind_of(s.subset, t)}
                c[t["kind"]] += 1
                transforms.append(t)
            if (i + 1) % 100 == 0:
                print(f"  {name}: {i + 1}/{len(samples)}", file=sys.stderr)
        counts[name] = c
    if args.fill_cache:
        return
    diffs = {kind: [t["difference"] for t in transforms if t["kind"] == kind and t["difference"] is not None]
             for kind in ("copy", "repetition")}
    gate = choose_gate(diffs["copy"])
    for name, c in counts.items():
        for kind in ("copy", "repetition", "other"):
            c[f"{kind}_rejected"] = sum(1 for t in transforms if t["set"] == name and t["kind"] == kind
                                        and t["difference"] is not None and t["difference"] > gate)
    largest = max(diffs["copy"])
    result = {"gate": gate, "largest_copy": largest, "margin": MARGIN,
              "counts": counts, "transforms": transforms, "matcher": matcher.config(),
              "git": git_commit(), "environment": environment()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (OUT / "results.md").write_text(markdown(result))
    print(markdown(result).split("\n\n| set | image")[0])


if __name__ == "__main__":
    main()
