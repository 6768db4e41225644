"""``copymove-sift``: classical copy-move localisation, no training.

SIFT keypoints of the image are matched against each other, groups of matches that one affine
transform explains are verified with RANSAC, and each verified transform is turned into its
source and target regions by correlating the image with itself moved by that transform. The
heatmap marks source AND target (the benchmarks' convention). Large images are analysed at a
working resolution (``max_side``) and the maps brought back to the input's size.

Keypoint budget 8,000 (4,000 before): small copied objects (about 1 % of a 1024 x 768 photo)
keep too few matched pairs under the smaller budget (scripts/sweep_copymove.py, docs/RESULTS.md).

Score: ``n / (n + 12)`` for ``n`` the verified matches of the strongest transform (0 when none):
0.5 at 12 matches. Not a probability; the card's threshold is calibrated on authentic photos.
"""

from __future__ import annotations

import cv2
import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors.base import Detector
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.signals.copymove import clone_regions, matched_pairs, verified_transforms

HALF_SCORE_MATCHES = 12


@register_detector("copymove-sift", task="localize")
class CopyMoveSIFT(Detector):
    def __init__(self, threshold: float | None = None, max_side: int = 1280, min_inliers: int = 8,
                 ratio: float = 0.5, max_keypoints: int = 8000):
        super().__init__(threshold)
        if max_side < 64:
            raise ValueError(f"max_side must be >= 64, got {max_side}")
        self.max_side, self.min_inliers = int(max_side), int(min_inliers)
        self.ratio, self.max_keypoints = float(ratio), int(max_keypoints)

    def config(self) -> dict:
        return {**super().config(), "max_side": self.max_side, "min_inliers": self.min_inliers,
                "ratio": self.ratio, "max_keypoints": self.max_keypoints}

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        h, w = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        work = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                          interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        grey = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
        p, q = matched_pairs(grey, self.max_keypoints, self.ratio)
        transforms = verified_transforms(p, q, self.min_inliers)
        heat = np.zeros(grey.shape, np.float32)
        for t in transforms:
            source, target = clone_regions(work, t)
            heat[source | target] = 1.0
        if scale < 1:
            heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
        best = max((t.inliers for t in transforms), default=0)
        score = best / (best + HALF_SCORE_MATCHES)
        return Analysis(
            detector=self.name, task=self.task, score=float(score), label=self.label_for(score),
            heatmap=heat.astype(np.float32), mask=heat >= 0.5,
            extras={"matched_pairs": int(len(p)), "transforms": [
                {"inliers": t.inliers, "matrix": np.round(t.matrix, 4).tolist()} for t in transforms],
                "working_scale": round(scale, 4)},
        )
