"""Where effunet-cm scores below effunet alone: every image of every evaluation folder under
--results (one folder per seed and set, as scripts/eval_effunet_runs.sh writes them) whose pixel F1
drops by more than --min-drop when the fusion rule replaces effunet's map, with copymove-sift's
image score on the same image and on the authentic version of its host photo (from the shipped
localisers' per-image results, --matcher). Copy-moves are left out (there the matcher is meant to
win). Reports; chooses nothing.

    .venv/bin/python scripts/fusion_losses.py [--results docs/results/localize/cycle3-learned/test]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def per_image(folder: Path) -> dict[str, dict[str, dict]]:
    """{image path: {detector: row}} of one evaluation's per_image.jsonl (paths, not names: the
    standard and realistic sets name their images alike)."""
    rows: dict[str, dict[str, dict]] = defaultdict(dict)
    with open(folder / "per_image.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            rows[set_relative(row["path"])][row["detector"]] = row
    return rows


def set_relative(path: str) -> str:
    """An image path from its forgery set's folder on ('synth-forgeries-realistic/test/images/x.jpg'):
    evaluations record absolute or repository-relative paths."""
    parts = Path(path).parts
    starts = [i for i, part in enumerate(parts) if part.startswith("synth-forgeries")]
    return str(Path(*parts[starts[-1]:])) if starts else path


def host(path: str) -> str:
    """The host photo's key: its set folder and the '<photo>_<hash>' of '<photo>_<hash>_<kind>_<i>.<ext>'."""
    p = Path(path)
    return f"{p.parent}/{p.name.rsplit('_', 2)[0]}"


def matcher_scores(paths: list[Path]) -> tuple[dict[str, float], dict[str, float]]:
    """copymove-sift's image score per image path, and per host photo on its authentic version."""
    by_image, by_host = {}, {}
    for path in paths:
        for image, dets in per_image(path).items():
            row = dets.get("copymove-sift")
            if row is None:
                continue
            by_image[image] = row["score"]
            if row["subset"] == "authentic":
                by_host[host(image)] = row["score"]
    return by_image, by_host


def losses(results: Path, min_drop: float, by_image: dict, by_host: dict, alone_results: Path | None = None) -> list[dict]:
    """``alone_results``: a results tree whose same-named folders hold effunet's rows (when ``results``
    evaluated effunet-cm alone: effunet's maps do not depend on the fusion)."""
    found = []
    for folder in sorted(p for p in results.iterdir() if (p / "per_image.jsonl").exists()):
        rows = per_image(folder)
        if alone_results is not None:
            for image, dets in per_image(alone_results / folder.name).items():
                if "effunet" in dets:
                    rows[image]["effunet"] = dets["effunet"]
        for image, dets in rows.items():
            alone, fused = dets.get("effunet"), dets.get("effunet-cm")
            if not alone or not fused or alone.get("f1") is None or alone["subset"].startswith("copymove"):
                continue
            if alone["f1"] - fused["f1"] > min_drop:
                found.append({"run_set": folder.name, "image": image, "subset": alone["subset"],
                              "effunet_f1": alone["f1"], "effunet_cm_f1": fused["f1"],
                              "matcher_score": by_image.get(image), "matcher_score_authentic_host": by_host.get(host(image))})
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=Path("docs/results/localize/cycle3-learned/test"))
    ap.add_argument("--matcher", type=Path, nargs="*",
                    default=[Path("docs/results/localize/synthetic"), Path("docs/results/localize/inpaint-learned/others")],
                    help="evaluation folders holding copymove-sift's per-image rows")
    ap.add_argument("--alone", type=Path, help="results tree with effunet's rows in same-named folders "
                    "(when --results evaluated effunet-cm alone)")
    ap.add_argument("--min-drop", type=float, default=0.01)
    args = ap.parse_args()
    by_image, by_host = matcher_scores(args.matcher)
    found = losses(args.results, args.min_drop, by_image, by_host, args.alone)
    fmt = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
    lines = ["| run / set | image | subset | effunet F1 | effunet-cm F1 | matcher score | matcher score, authentic host |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['run_set']} | {Path(r['image']).name} | {r['subset']} | {fmt(r['effunet_f1'])} | {fmt(r['effunet_cm_f1'])} "
              f"| {fmt(r['matcher_score'])} | {fmt(r['matcher_score_authentic_host'])} |" for r in found]
    hosts = sorted({host(r["image"]).rsplit("/", 1)[1] for r in found})
    lines += ["", f"{len(found)} losses over {len(hosts)} host photos: {', '.join(hosts)}"]
    (args.results / "fusion-losses.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (args.results / "fusion-losses.json").write_text(json.dumps({"min_drop": args.min_drop, "losses": found}, indent=1),
                                                     encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
