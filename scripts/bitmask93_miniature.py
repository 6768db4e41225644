"""Bappy's patch-classification protocol in miniature, like for like with bitmask93's quoted
test patch F1 0.756 (issue 18, item 5): the reference's own patch classifier
(``nets.lstm_localizers.Bitmask93PatchClassifier``) trained and tested on unblended splices.

    forenscope synth forgeries --recipe unblended --kind splice --long-side 256 \\
        --train-per-photo 6 --out work/unblended-splices
    python scripts/bitmask93_miniature.py [--forgeries work/unblended-splices] [--epochs 6]
        [--seeds 0 1 2] [--out docs/results/localize/bitmask93-miniature]

What matches the reference: splices of object-shaped regions pasted with hard edges and no colour
matching, saved losslessly; images about 256 px on the long side cut into non-overlapping 32 x 32
patches (manipulated when >= 12.5 % of their pixels are); training and testing on the patches of
spliced images; the class head at 0.5; Adam 1e-3, cross-entropy, ReLU, dropout 0.5 (the
assumptions METHODS.md names for the lost notebook). What differs, on purpose: the split is by
source photo (train / validation / test photos disjoint, donors from the same split), where the
reference split 80 / 20 without saying by what; the epoch is chosen on the validation split, and
the test split is read once per seed, at the end. Patches of the test split's authentic images
are added in a second row (the negatives a user meets), and the trivial classifiers stand beside
every row.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from forenscope.data.forgeries import PairCache, read_rows
from forenscope.evaluate.metrics import patch_labels
from forenscope.nets.lstm_localizers import Bitmask93PatchClassifier
from forenscope.records import environment, git_commit, write_results

REPO = Path(__file__).resolve().parent.parent
PATCH = 32
FRACTION = 0.125


def patches_of(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole non-overlapping 32 x 32 patches (N, 32, 32, 3), in raster order, and their labels
    (``metrics.patch_labels``, the evaluator's rule)."""
    gh, gw = mask.shape[0] // PATCH, mask.shape[1] // PATCH
    crops = rgb[:gh * PATCH, :gw * PATCH].reshape(gh, PATCH, gw, PATCH, 3).swapaxes(1, 2).reshape(-1, PATCH, PATCH, 3)
    return crops, patch_labels(mask, PATCH, FRACTION).ravel()


def load_split(forgeries: Path, split: str, authentic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Patches of the split's spliced images (``authentic=False``) or of its authentic ones."""
    rows = [r for r in read_rows(forgeries, split, ["splice"], authentic=authentic)
            if (r["mask"] is None) == authentic]
    cache, crops, labels = PairCache(), [], []
    for row in rows:
        c, lab = patches_of(*cache.get(row))
        crops.append(c)
        labels.append(lab)
    if not crops:
        raise SystemExit(f"no {'authentic' if authentic else 'spliced'} images in {forgeries}/{split}.csv")
    return np.concatenate(crops), np.concatenate(labels)


def as_input(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 127.5 - 1.0


@torch.no_grad()
def probabilities(net: torch.nn.Module, crops: np.ndarray, batch: int = 1024) -> np.ndarray:
    net.eval()
    out = [torch.softmax(net(as_input(crops[i:i + batch])), 1)[:, 1].numpy() for i in range(0, len(crops), batch)]
    return np.concatenate(out)


def scores(labels: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> dict:
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    pred = prob >= threshold
    p = float(labels.mean())
    return {"patches": int(len(labels)), "manipulated": int(labels.sum()), "threshold": float(threshold),
            "patch_f1": float(f1_score(labels, pred, zero_division=0)),
            "precision": float(precision_score(labels, pred, zero_division=0)),
            "recall": float(recall_score(labels, pred, zero_division=0)),
            "patch_roc_auc": float(roc_auc_score(labels, prob)), "flagged_share": float(pred.mean()),
            "flag_every_patch_f1": 2 * p / (1 + p), "chance_f1_at_positive_rate": p, "flag_none_f1": 0.0}


def best_threshold(labels: np.ndarray, prob: np.ndarray) -> float:
    """The validation threshold with the highest patch F1 (a second operating point)."""
    from sklearn.metrics import precision_recall_curve

    prec, rec, thr = precision_recall_curve(labels, prob)
    f1 = 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-12)
    return float(thr[int(np.argmax(f1))])


def train_seed(seed: int, data: dict, epochs: int, batch: int, lr: float, log) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Bitmask93PatchClassifier()
    opt = torch.optim.Adam(net.parameters(), lr)
    (xtr, ytr), (xva, yva) = data["train"], data["val"]
    best, history = None, []
    for epoch in range(1, epochs + 1):
        net.train()
        start, order, losses = time.time(), rng.permutation(len(ytr)), []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            loss = F.cross_entropy(net(as_input(xtr[idx])), torch.from_numpy(ytr[idx].astype(np.int64)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        val = scores(yva, probabilities(net, xva))
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_patch_f1": val["patch_f1"],
                        "val_patch_roc_auc": val["patch_roc_auc"], "seconds": round(time.time() - start, 1)})
        log(f"seed {seed} epoch {epoch}: loss {history[-1]['train_loss']:.4f}, val F1 {val['patch_f1']:.3f}, "
            f"AUC {val['patch_roc_auc']:.3f} ({history[-1]['seconds']} s)")
        if best is None or val["patch_f1"] > best[0]:
            best = (val["patch_f1"], epoch, {k: v.clone() for k, v in net.state_dict().items()})
    net.load_state_dict(best[2])
    val_prob = probabilities(net, xva)
    threshold = best_threshold(yva, val_prob)
    (xte, yte), (xau, yau) = data["test"], data["test_authentic"]
    test_prob, auth_prob = probabilities(net, xte), probabilities(net, xau)  # the test split, read once
    both_y, both_p = np.concatenate([yte, yau]), np.concatenate([test_prob, auth_prob])
    return {"seed": seed, "chosen_epoch": best[1], "history": history,
            "validation": scores(yva, val_prob), "validation_chosen_threshold": threshold,
            "test_spliced_images": scores(yte, test_prob),
            "test_spliced_images_at_validation_threshold": scores(yte, test_prob, threshold),
            "test_with_authentic_images": scores(both_y, both_p)}


def mean_std(runs: list[dict], part: str, key: str) -> list[float]:
    v = [r[part][key] for r in runs]
    return [float(np.mean(v)), float(np.std(v))]


def markdown(result: dict) -> str:
    runs = result["seeds"]
    parts = [("test_spliced_images", "test, spliced images (the reference's setting), at 0.5"),
             ("test_spliced_images_at_validation_threshold", "test, spliced images, at the validation-chosen threshold"),
             ("test_with_authentic_images", "test, spliced + authentic images, at 0.5"),
             ("validation", "validation, spliced images, at 0.5 (chose the epoch)")]
    lines = ["# bitmask93's patch classifier on unblended splices (Bappy's protocol in miniature)", "",
             f"Data: `{result['forgeries']}` (manifest sha256 {result['manifest_sha256'][:12]}); "
             f"{result['counts']['train']} train / {result['counts']['val']} validation / {result['counts']['test']} "
             f"test patches of spliced images (+ {result['counts']['test_authentic']} of authentic test images); "
             f"{len(runs)} seeds, up to {result['epochs']} epochs, epoch chosen on validation patch F1.", "",
             "| rows | patch F1 (mean +- std) | precision | recall | patch ROC-AUC | flagged share | flag every patch: F1 | chance: F1 |",
             "|---|---|---|---|---|---|---|---|"]
    for part, name in parts:
        f1, prec, rec, auc, share = (mean_std(runs, part, k) for k in
                                     ("patch_f1", "precision", "recall", "patch_roc_auc", "flagged_share"))
        r0 = runs[0][part]
        lines.append(f"| {name} | {f1[0]:.3f} +- {f1[1]:.3f} | {prec[0]:.3f} | {rec[0]:.3f} | {auc[0]:.3f} +- {auc[1]:.3f} | "
                     f"{share[0]:.3f} | {r0['flag_every_patch_f1']:.3f} | {r0['chance_f1_at_positive_rate']:.3f} |")
    lines += ["", "Per seed: " + "; ".join(f"seed {r['seed']}: epoch {r['chosen_epoch']}, test F1 "
                                           f"{r['test_spliced_images']['patch_f1']:.3f}" for r in runs),
              "", "bitmask93's quoted figure: test patch F1 0.756 (split and selection not stated). Flag none: F1 0."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--forgeries", type=Path, default=REPO / "work" / "unblended-splices")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "localize" / "bitmask93-miniature")
    args = ap.parse_args()
    config = json.loads((args.forgeries / "forgeries.json").read_text())["config"]
    if config.get("recipe") != "unblended":
        raise SystemExit(f"{args.forgeries} was made with recipe {config.get('recipe')!r}; this protocol needs "
                         "`forenscope synth forgeries --recipe unblended --kind splice`")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    data = {"train": load_split(args.forgeries, "train", False), "val": load_split(args.forgeries, "val", False),
            "test": load_split(args.forgeries, "test", False),
            "test_authentic": load_split(args.forgeries, "test", True)}
    counts = {k: int(len(v[1])) for k, v in data.items()}
    log(f"patches: {counts}; manipulated share train {data['train'][1].mean():.3f}")
    runs = [train_seed(s, data, args.epochs, args.batch, args.lr, log) for s in args.seeds]
    result = {"forgeries": str(args.forgeries.relative_to(REPO) if args.forgeries.is_relative_to(REPO) else args.forgeries),
              "forgery_config": config, "counts": counts, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
              "patch": PATCH, "patch_fraction": FRACTION,
              "manifest_sha256": hashlib.sha256((args.forgeries / "manifest.jsonl").read_bytes()).hexdigest(),
              "summary": {part: {k: mean_std(runs, part, k) for k in ("patch_f1", "patch_roc_auc")}
                          for part in ("validation", "test_spliced_images", "test_spliced_images_at_validation_threshold",
                                       "test_with_authentic_images")},
              "seeds": runs, "git": git_commit(), "environment": environment()}
    write_results(args.out, result, markdown)
    print(markdown(result))


if __name__ == "__main__":
    main()
