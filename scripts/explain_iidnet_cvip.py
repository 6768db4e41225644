"""Why IID-Net's pixel AUC on CVIP is below chance (issue 18, item 5): a test of one explanation.

    python scripts/explain_iidnet_cvip.py [--data ../shared/data] [--forgeries work/synth-forgeries]
        [--out docs/results/localize/iidnet-cvip]

The hypothesis: IID-Net, trained on Telea fills (smooth, noise-free regions), learned to flag
*flat* pixels, and CVIP's copy-moved regions are textured objects on flatter backgrounds, so on
CVIP its map ranks the background above the forgery. The script measures, per image, on CVIP
and on the validation split's Telea inpaintings (where IID-Net works):

* the pixel AUC of IID-Net's map;
* the pixel AUC of a map that knows nothing but flatness (minus the local standard deviation of
  the Laplacian residual, 15 x 15 window);
* the Spearman correlation between the two maps;
* how much more textured the manipulated region is than the rest (median residual std inside /
  outside the mask).

If the flatness map alone is also below chance on CVIP, above it on Telea, and IID-Net's map
follows it, the explanation holds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from forenscope.data.datasets import find_pixel_pairs
from forenscope.data.forgeries import PairCache, read_rows
from forenscope.detectors import load_detector
from forenscope.imageio import read_image, read_truth_mask
from forenscope.records import environment, git_commit, write_results

REPO = Path(__file__).resolve().parent.parent
WINDOW = 15


def residual_std(rgb: np.ndarray) -> np.ndarray:
    """Local standard deviation of the grey image's Laplacian residual (texture / noise energy)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    mean = cv2.blur(lap, (WINDOW, WINDOW))
    var = cv2.blur(lap * lap, (WINDOW, WINDOW)) - mean * mean
    return np.sqrt(np.maximum(var, 0))


def per_image(det, rgb: np.ndarray, mask: np.ndarray) -> dict:
    heat = det.analyze(rgb).heatmap
    texture = residual_std(rgb)
    flat = -texture
    y = mask.ravel()
    sub = np.random.default_rng(0).choice(y.size, min(y.size, 20000), replace=False)  # Spearman on a sample
    return {"iidnet_auc": float(roc_auc_score(y, heat.ravel())),
            "flatness_auc": float(roc_auc_score(y, flat.ravel())),
            "spearman_iidnet_flatness": float(spearmanr(heat.ravel()[sub], flat.ravel()[sub])[0]),
            "texture_inside_over_outside": float(np.median(texture[mask]) / max(np.median(texture[~mask]), 1e-6)),
            "iidnet_mean_inside": float(heat[mask].mean()), "iidnet_mean_outside": float(heat[~mask].mean())}


def summarise(rows: list[dict]) -> dict:
    keys = rows[0].keys()
    out = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    out["images"] = len(rows)
    out["share_texture_inside_higher"] = float(np.mean([r["texture_inside_over_outside"] > 1 for r in rows]))
    out["share_iidnet_auc_below_half"] = float(np.mean([r["iidnet_auc"] < 0.5 for r in rows]))
    out["share_flatness_auc_below_half"] = float(np.mean([r["flatness_auc"] < 0.5 for r in rows]))
    return out


def markdown(result: dict) -> str:
    lines = ["# IID-Net on CVIP: the flatness explanation", "",
             "| set | images | IID-Net pixel AUC | flatness-only pixel AUC | Spearman(IID-Net, flatness) | "
             "region texture / rest (median) | regions more textured than the rest | IID-Net AUC < 0.5 | flatness AUC < 0.5 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in result["summary"].items():
        lines.append(f"| {name} | {s['images']} | {s['iidnet_auc']:.3f} | {s['flatness_auc']:.3f} | "
                     f"{s['spearman_iidnet_flatness']:.3f} | {s['texture_inside_over_outside']:.2f} | "
                     f"{s['share_texture_inside_higher']:.2f} | {s['share_iidnet_auc_below_half']:.2f} | "
                     f"{s['share_flatness_auc_below_half']:.2f} |")
    lines += ["", "Means over images. Chance: pixel AUC 0.5. Flatness = minus the local std of the Laplacian "
              f"residual ({WINDOW} x {WINDOW} window)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--forgeries", type=Path, default=REPO / "work" / "synth-forgeries")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "localize" / "iidnet-cvip")
    args = ap.parse_args()
    det = load_detector("iidnet", calibrated=False)
    sets = {"cvip": [], "telea_validation": []}
    for sample in find_pixel_pairs(args.data / "copymove_cvip"):
        if sample.mask is not None:  # the 50 copy-moves (the 10 originals have no region)
            sets["cvip"].append(per_image(det, read_image(sample.image)[0], read_truth_mask(sample.mask)))
    cache = PairCache()
    for row in read_rows(args.forgeries, "val", ["inpaint-telea"], authentic=False):
        sets["telea_validation"].append(per_image(det, *cache.get(row)))
    result = {"summary": {k: summarise(v) for k, v in sets.items()}, "window": WINDOW,
              "weights_sha256": det.card.get("weights_sha256"), "git": git_commit(), "environment": environment()}
    write_results(args.out, result, markdown)
    print(markdown(result))


if __name__ == "__main__":
    main()
