"""``effunet-cm``: the learned localiser and the copy-move matcher, each at its own calibrated
threshold.

A network trained on forgeries sees where content was pasted (the target) but cannot tell that
another region of the same photo is its source, which copy-move benchmarks mark too. Keypoint
matching finds both, and almost never fires on authentic photos (copymove-sift's card). The
card's rule (``RULES``, chosen on validation forgeries and CVIP by scripts/design_fusion.py)
says which map to show from the matcher's score: its regions when it verifies a clone, the
learned map when it is silent, matches repeated texture the learned map does not flag, or
matches away from a region the learned map flags with confidence, a mix in between. The image
is flagged when either detector flags it.

Score: the learned score, or when the matcher's score exceeds its threshold, that excess mapped
linearly onto the learned detector's range above its own threshold (whichever is higher). So the
fused label is exactly "either detector flags the image", and the score still ranks images.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from forenscope.analysis import Analysis
from forenscope.detectors.base import Detector, load_card
from forenscope.detectors.registry import load_detector, register_detector
from forenscope.imageio import ImageMeta


def _union(learned, clone):
    return np.maximum(learned, clone)


def _confident_learned(learned, clone):
    return np.maximum(clone, np.where(learned >= 0.9, learned, 0.0))


def _agreeing_confident(learned, clone, reach: int = 5):
    """The matcher's regions plus the learned map's confident (>= 0.9) regions that touch them
    (within ``reach`` pixels): where the network agrees it marks the pasted copy; its confident
    regions elsewhere were, on CVIP's weak matches, false alarms that cost the matcher's F1.
    An empty matcher map leaves the learned map."""
    c = clone >= 0.5
    if not c.any():
        return learned
    _, labels = cv2.connectedComponents((learned >= 0.9).astype(np.uint8))
    near = cv2.dilate(c.astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)).astype(bool)
    touching = np.isin(labels, np.unique(labels[near & (labels > 0)])) & (labels > 0)
    return np.maximum(clone, np.where(touching, learned, 0.0))


def _over_threshold(rule):
    """``rule``, except that a match scoring exactly the matcher's threshold (its weakest firing
    score: copymove-sift's minimum of 8 inliers) flags the image but leaves the learned map: on
    validation such matches were wrong more often than right (7 images, 5 tampered)."""
    def strict(learned, clone, score, threshold):
        return learned if score <= threshold + 1e-6 else rule(learned, clone, score, threshold)
    return strict


def _graded(strong: float, weak):
    """The matcher's map alone when its score reaches ``strong`` (inf: never; many verified matches: a
    copy-move, whose source the learned map cannot know and whose surroundings it may flag);
    ``weak(learned, clone)`` when it fires below that (a few matches may be a false alarm on
    another kind of forgery, where the learned map knows better)."""
    def rule(learned, clone, score, threshold):
        if score >= max(strong, threshold):
            return clone
        return weak(learned, clone) if score >= threshold else learned
    return rule


def matched_texture(learned, clone, min_area: float = 0.04, max_overlap: float = 0.05,
                    min_learned: float = 0.01) -> bool:
    """The matcher's regions look like repeated texture, not a copy: they are large (>= ``min_area``
    of the image) while the learned map flags something (>= ``min_learned``) that lies almost
    wholly elsewhere (< ``max_overlap`` of its flagged pixels inside them). Seen on validation
    splices and inpaintings where a weak match (12-13 inliers) lands on windows or foliage."""
    c, lr = clone >= 0.5, learned >= 0.5
    return c.mean() >= min_area and lr.mean() >= min_learned and (lr & c).sum() < max_overlap * lr.sum()


def _texture_gated(rule, cap: float = 0.6):
    """``rule``, except that a weak match (score below ``cap``) on :func:`matched_texture` regions
    leaves the learned map alone."""
    def gated(learned, clone, score, threshold):
        if threshold <= score < cap and matched_texture(learned, clone):
            return learned
        return rule(learned, clone, score, threshold)
    return gated


def learned_elsewhere(learned, clone, min_area: float = 0.02, max_overlap: float = 0.05) -> bool:
    """The learned map is confident (>= 0.9) over a sizeable region (>= ``min_area`` of the image)
    that lies almost wholly outside the matcher's regions (< ``max_overlap`` of it inside them).
    On a copy-move the network flags the pasted copy, which the matcher marks too; on CVIP's
    copy-moves its confident regions elsewhere stay under 2 % of the image. On validation splices
    and inpaintings a match of any strength with this shape landed on other content (F1 0) while
    the learned map had the forgery (F1 0.46-0.96)."""
    conf, c = learned >= 0.9, clone >= 0.5
    return conf.mean() >= min_area and (conf & c).sum() < max_overlap * conf.sum()


def _elsewhere_gated(rule, min_area: float):
    """``rule``, except that a match of any strength for which :func:`learned_elsewhere` holds
    leaves the learned map (the image is still flagged by either detector)."""
    def gated(learned, clone, score, threshold):
        if score >= threshold and learned_elsewhere(learned, clone, min_area):
            return learned
        return rule(learned, clone, score, threshold)
    return gated


# How the two maps combine, from the matcher's score and threshold (below it: the learned map
# alone). Chosen on validation forgeries and CVIP by scripts/design_fusion.py; the card names it.
RULES = {
    "union": _graded(math.inf, _union),
    "matcher-only": _graded(0.0, None),
    "confident-learned": _graded(math.inf, _confident_learned),
    **{f"matcher-only-from-{strong:g}-else-{name}": _graded(strong, weak)
       for strong in (0.5, 0.6, 0.7) for name, weak in (("union", _union), ("confident-learned", _confident_learned),
                                                          ("learned", lambda learned, clone: learned))},
    **{f"matcher-only-from-{strong:g}-else-confident-learned-unless-texture": _texture_gated(_graded(strong, _confident_learned))
       for strong in (0.45, 0.5, 0.6)},
    **{f"matcher-only-from-{strong:g}-else-agreeing-confident-unless-texture": _texture_gated(_graded(strong, _agreeing_confident))
       for strong in (0.45, 0.5, 0.6)},
    **{f"matcher-only-from-{strong:g}-else-{name}-unless-texture-over-threshold": _over_threshold(_texture_gated(_graded(strong, weak)))
       for strong in (0.45, 0.5, 0.6) for name, weak in (("confident-learned", _confident_learned),
                                                          ("agreeing-confident", _agreeing_confident))},
    **{f"matcher-only-from-{strong:g}-else-confident-learned-unless-texture-over-threshold-or-learned-elsewhere-{area:g}":
       _elsewhere_gated(_over_threshold(_texture_gated(_graded(strong, _confident_learned))), area)
       for strong in (0.5, 0.6) for area in (0.02, 0.03)},
}
DEFAULT_RULE = "union"


def excess_on_scale(score: float, threshold: float, target_threshold: float) -> float:
    """Map ``score`` in [threshold, 1] linearly onto [target_threshold, 1] (0 below threshold)."""
    if score < threshold:
        return 0.0
    span = 1.0 - threshold
    fraction = 1.0 if span <= 0 else (score - threshold) / span
    return target_threshold + (1.0 - target_threshold) * fraction


@register_detector("effunet-cm", task="localize")
class LearnedPlusCopyMove(Detector):
    learned_name, matcher_name = "effunet", "copymove-sift"

    def __init__(self, threshold: float | None = None, run: str | None = None, threads: int = 0):
        # components on their raw scales: this detector's own card calibrates the fused score;
        # threads go to the network (one per Ray actor, else all cores)
        self.learned = load_detector(self.learned_name, calibrated=False, threshold=threshold, run=run,
                                     threads=threads)
        self.matcher = load_detector(self.matcher_name, calibrated=False)
        self.card = load_card(self.name) or {"task": "localize", "components": [self.learned_name, self.matcher_name]}
        self.threshold = self.learned.threshold
        self.rule = self.card.get("rule", DEFAULT_RULE)
        if self.rule not in RULES:
            raise ValueError(f"effunet-cm: unknown rule {self.rule!r} in its card; known: {', '.join(RULES)}")

    def config(self) -> dict:
        return {"threshold": self.threshold, "rule": self.rule, self.learned_name: self.learned.config(),
                self.matcher_name: self.matcher.config()}

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        learned = self.learned._analyze(rgb, meta)
        clone = self.matcher._analyze(rgb, meta)
        heat = RULES[self.rule](learned.heatmap, clone.heatmap, clone.score, self.matcher.threshold)
        score = max(learned.score, excess_on_scale(clone.score, self.matcher.threshold, self.raw_threshold))
        return Analysis(self.name, self.task, float(score), self.label_for(score), heatmap=heat,
                        mask=heat >= 0.5, extras={
                            "components": {learned.detector: {"score": learned.score, "label": learned.label},
                                           clone.detector: {"score": clone.score, "label": clone.label,
                                                            **clone.extras}}})
