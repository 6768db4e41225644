"""J-LSTM's patch classifier evaluated as Bappy et al. did (issue 18, item 5): patch labels and
patch F1 of the network's own class head, not of a thresholded pixel map.

    python scripts/eval_patch_classifier.py [--forgeries work/synth-forgeries] [--split test]
        [--run work/runs/jlstm] [--out docs/results/localize/jlstm-patches]

Every image of the split (authentic ones included) is cut into the non-overlapping 64 x 64
patches that lie wholly inside it, at native resolution (J-LSTM's input); a patch is
manipulated when at least the card's ``data.patch_fraction`` (12.5 %) of its pixels are. The
class head's probability at 0.5 is the prediction. Reported per kind and pooled: patch F1,
precision, recall, ROC-AUC, and the trivial classifiers beside them (flag every patch, flag
none, chance). H-LSTM has no patch head, so it has no row here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from forenscope.data.forgeries import PairCache, read_rows
from forenscope.detectors import load_detector
from forenscope.evaluate.metrics import patch_labels
from forenscope.records import environment, git_commit, write_results

REPO = Path(__file__).resolve().parent.parent
PATCH = 64


def patches(rgb: np.ndarray, mask: np.ndarray, fraction: float) -> tuple[list[np.ndarray], np.ndarray]:
    """The whole 64 x 64 patches of an image, in raster order, and their labels (manipulated
    share >= ``fraction``: ``metrics.patch_labels``, the evaluator's rule)."""
    gh, gw = mask.shape[0] // PATCH, mask.shape[1] // PATCH
    crops = [rgb[y * PATCH:(y + 1) * PATCH, x * PATCH:(x + 1) * PATCH] for y in range(gh) for x in range(gw)]
    return crops, patch_labels(mask, PATCH, fraction).ravel()


def patch_probabilities(det, crops: list[np.ndarray], per_batch: int = 256) -> np.ndarray:
    out = []
    for i in range(0, len(crops), per_batch):
        x = det.method.batch(crops[i:i + per_batch], det.settings)
        logits = det.outputs(*x)[0]
        out.append(torch.softmax(torch.as_tensor(logits), 1)[:, 1].numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def scores(labels: np.ndarray, prob: np.ndarray) -> dict:
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    pred = prob >= 0.5
    both = 0 < labels.sum() < len(labels)
    positive_rate = float(labels.mean())
    return {"patches": int(len(labels)), "manipulated_patches": int(labels.sum()),
            "patch_f1": float(f1_score(labels, pred, zero_division=0)),
            "patch_precision": float(precision_score(labels, pred, zero_division=0)),
            "patch_recall": float(recall_score(labels, pred, zero_division=0)),
            "patch_roc_auc": float(roc_auc_score(labels, prob)) if both else None,
            "flagged_share": float(pred.mean()),
            "baseline_flag_every_patch_f1": 2 * positive_rate / (1 + positive_rate) if positive_rate else 0.0,
            "baseline_chance_f1_at_same_share": float(2 * positive_rate * pred.mean() / (positive_rate + pred.mean()))
            if positive_rate + pred.mean() else 0.0}


def markdown(result: dict) -> str:
    lines = [f"# J-LSTM's patch classifier, Bappy's protocol ({result['split']} split)", "",
             f"Weights: {result['weights']}; 64 x 64 patches at native resolution, manipulated at >= "
             f"{result['patch_fraction']:.1%} of their pixels; class head at 0.5.", "",
             "| subset | patches | manipulated | patch F1 | precision | recall | patch ROC-AUC | flagged | flag every patch: F1 | chance at the same flagged share: F1 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["subsets"].items():
        auc = "–" if r["patch_roc_auc"] is None else f"{r['patch_roc_auc']:.3f}"
        lines.append(f"| {name} | {r['patches']} | {r['manipulated_patches']} | {r['patch_f1']:.3f} | "
                     f"{r['patch_precision']:.3f} | {r['patch_recall']:.3f} | {auc} | {r['flagged_share']:.3f} | "
                     f"{r['baseline_flag_every_patch_f1']:.3f} | {r['baseline_chance_f1_at_same_share']:.3f} |")
    lines += ["", "Each kind's row pools its own images' patches with those of the split's authentic images "
              "(the negatives a user meets); `all` pools every image. Flag none: F1 0. Chance: ROC-AUC 0.5."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--forgeries", type=Path, default=REPO / "work" / "synth-forgeries")
    ap.add_argument("--split", default="test", choices=["val", "test"])
    ap.add_argument("--run", default=None, help="a J-LSTM training run folder (default: the shipped weights)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "localize" / "jlstm-patches")
    args = ap.parse_args()
    det = load_detector("jlstm", calibrated=False, run=args.run)
    fraction = float(det.card.get("training", {}).get("config", {}).get("data", {}).get("patch_fraction", 0.125))
    rows = read_rows(args.forgeries, args.split, [], authentic=True)
    cache, by_kind = PairCache(), {}
    for n, row in enumerate(rows):
        rgb, mask = cache.get(row)
        crops, labels = patches(rgb, mask, fraction)
        kind = "authentic" if row["mask"] is None else row["kind"]
        entry = by_kind.setdefault(kind, ([], []))
        entry[0].append(labels)
        entry[1].append(patch_probabilities(det, crops))
        cache._items.pop(row["image"], None)  # one pass: keep memory flat
        if (n + 1) % 100 == 0:
            print(f"  {n + 1}/{len(rows)} images", file=sys.stderr)
    joined = {k: (np.concatenate(v[0]), np.concatenate(v[1])) for k, v in by_kind.items()}
    neg = joined.get("authentic", (np.zeros(0, bool), np.zeros(0, np.float32)))
    subsets = {k: scores(np.concatenate([lab, neg[0]]), np.concatenate([p, neg[1]]))
               for k, (lab, p) in sorted(joined.items()) if k != "authentic"}
    subsets["all"] = scores(np.concatenate([v[0] for v in joined.values()]), np.concatenate([v[1] for v in joined.values()]))
    result = {"split": args.split, "forgeries": str(args.forgeries), "weights": args.run or "shipped jlstm",
              "weights_sha256": det.card.get("weights_sha256"), "patch_fraction": fraction, "subsets": subsets,
              "git": git_commit(), "environment": environment()}
    write_results(args.out, result, markdown)
    print(markdown(result))


if __name__ == "__main__":
    main()
