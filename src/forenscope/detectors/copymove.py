"""``copymove-sift``: classical copy-move localisation, no training.

SIFT keypoints of the image are matched against each other, groups of matches that one affine
transform explains are verified with RANSAC, and each verified transform is turned into its
source and target regions by correlating the image with itself moved by that transform. The
heatmap marks source AND target (the benchmarks' convention). Large images are analysed at a
working resolution (``max_side``) and the maps brought back to the input's size.

Keypoint budget 8,000 (4,000 before): small copied objects (about 1 % of a 1024 x 768 photo)
keep too few matched pairs under the smaller budget (scripts/sweep_copymove.py, docs/RESULTS.md).

Scene repetition: a verified transform whose target region differs from its moved source by more
than ``max_difference`` grey levels on average (``clone_difference``, measured on target regions of
at least ``min_region`` working-resolution pixels) is two real look-alikes (the identical windows of
a facade), not a copy; it is reported under ``extras["rejected"]`` and neither marks the map nor
counts in the score. The gate is chosen on validation forgeries,
training authentic photos and CVIP by scripts/design_clone_gate.py.

Score: ``n / (n + 12)`` for ``n`` the verified matches of the strongest transform (0 when none):
0.5 at 12 matches. Not a probability; the card's threshold is calibrated on authentic photos.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors.base import Detector
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.signals.copymove import matched_pairs, trace_clone, verified_transforms

HALF_SCORE_MATCHES = 12
MAX_DIFFERENCE = 19.2  # grey levels: docs/results/localize/clone-gate (scripts/design_clone_gate.py)


@register_detector("copymove-sift", task="localize")
class CopyMoveSIFT(Detector):
    def __init__(self, threshold: float | None = None, max_side: int = 1280, min_inliers: int = 8,
                 ratio: float = 0.5, max_keypoints: int = 8000, max_difference: float = MAX_DIFFERENCE,
                 min_region: int = 500):
        super().__init__(threshold)
        if max_side < 64:
            raise ValueError(f"max_side must be >= 64, got {max_side}")
        if not max_difference > 0:
            raise ValueError(f"max_difference must be > 0 grey levels (inf: no gate), got {max_difference}")
        self.max_side, self.min_inliers = int(max_side), int(min_inliers)
        self.ratio, self.max_keypoints = float(ratio), int(max_keypoints)
        self.max_difference, self.min_region = float(max_difference), int(min_region)

    def config(self) -> dict:
        return {**super().config(), "max_side": self.max_side, "min_inliers": self.min_inliers,
                "ratio": self.ratio, "max_keypoints": self.max_keypoints, "max_difference": self.max_difference,
                "min_region": self.min_region}

    def working_image(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """The image at the working resolution (longest side <= ``max_side``) and its scale."""
        h, w = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        if scale == 1:
            return rgb, scale
        return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA), scale

    def clones(self, work: np.ndarray) -> tuple[int, list[dict]]:
        """Every verified transform of the working image, gate not applied: the number of matched
        pairs and, per transform, its inliers, matrix, ``difference`` and source / target maps."""
        grey = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
        p, q = matched_pairs(grey, self.max_keypoints, self.ratio)
        found = []
        for t in verified_transforms(p, q, self.min_inliers):
            c = trace_clone(grey, t, min_pixels=self.min_region)
            found.append({"inliers": t.inliers, "matrix": np.round(t.matrix, 4).tolist(),
                          "difference": None if math.isnan(c.difference) else round(c.difference, 3),
                          "source": c.source, "target": c.target})
        return len(p), found

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        h, w = rgb.shape[:2]
        work, scale = self.working_image(rgb)
        pairs, found = self.clones(work)
        heat = np.zeros(work.shape[:2], np.float32)
        kept, rejected = [], []
        for c in found:
            row = {k: c[k] for k in ("inliers", "matrix", "difference")}
            # no region, no difference (None): nothing to compare, the transform stays
            if c["difference"] is not None and c["difference"] > self.max_difference:
                rejected.append(row)
                continue
            kept.append(row)
            heat[c["source"] | c["target"]] = 1.0
        if scale < 1:
            heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
        best = max((t["inliers"] for t in kept), default=0)
        score = best / (best + HALF_SCORE_MATCHES)
        return Analysis(
            detector=self.name, task=self.task, score=float(score), label=self.label_for(score),
            heatmap=heat.astype(np.float32), mask=heat >= 0.5,
            extras={"matched_pairs": pairs, "transforms": kept, "rejected": rejected,
                    "working_scale": round(scale, 4)},
        )
