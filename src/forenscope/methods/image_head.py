"""From a localiser's probability map to an image score: the map's statistics (how strong its
strongest pixels are, how much is flagged, its largest region) and the image head, a logistic
model on some of them fitted on validation images (``train/localize.fit_image_head``)."""

from __future__ import annotations

import numpy as np


def top_share_mean(values: np.ndarray, share: float) -> float:
    """Mean of the largest ``share`` of ``values`` (at least one)."""
    flat = values.ravel()
    k = max(1, int(flat.size * share + 1e-9))  # floor, immune to 0.01 * n rounding below n // 100
    return float(np.partition(flat, flat.size - k)[flat.size - k:].mean())


# Probabilities are clipped before the logit: maps are often stored as float16, whose spacing
# near 1 (5e-4) would otherwise make the statistics depend on how the map was kept.
LOGIT_CLIP = 1e-3
MAP_STATISTICS = ("top_0.1%_logit", "top_1%_logit", "top_10%_logit", "mean_logit", "area_above_0.5",
                  "area_above_0.9", "largest_region_area", "largest_region_mean_logit")


def map_statistics(prob: np.ndarray) -> np.ndarray:
    """The statistics of a probability map that an image head reads (``MAP_STATISTICS``): how
    strong its strongest pixels are, how much of the image is flagged, and how large and how
    confident its largest connected flagged region is (one compact object vs scattered noise)."""
    import cv2

    p = np.clip(prob.astype(np.float32), LOGIT_CLIP, 1 - LOGIT_CLIP)
    z = np.log(p / (1 - p))
    flagged = (p >= 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(flagged, connectivity=8)
    if n > 1:
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        region_area, region_logit = stats[biggest, cv2.CC_STAT_AREA] / p.size, float(z[labels == biggest].mean())
    else:
        region_area, region_logit = 0.0, float(np.log(LOGIT_CLIP / (1 - LOGIT_CLIP)))
    return np.array([top_share_mean(z, 0.001), top_share_mean(z, 0.01), top_share_mean(z, 0.1), float(z.mean()),
                     float(flagged.mean()), float((p >= 0.9).mean()), region_area, region_logit])


# What a trainer's image head reads by default: the strongest pixels against the image's own
# level (a map that is high everywhere, as on some textures, is not a tampered region). Chosen
# by out-of-fold image ROC-AUC on effunet's validation maps (docs/results/localize/image-head).
HEAD_STATISTICS = ("top_1%_logit", "mean_logit")


def head_probability(head: dict, stats: np.ndarray) -> np.ndarray:
    """The image head's tamper probability from rows of ``map_statistics`` (or one row): the
    statistics it names, standardised, through a logistic model."""
    unknown = set(head["statistics"]) - set(MAP_STATISTICS)
    if unknown:
        raise ValueError(f"image head reads {sorted(unknown)}, which this version does not compute")
    x = np.asarray(stats)[..., [MAP_STATISTICS.index(n) for n in head["statistics"]]]
    z = ((x - np.asarray(head["mean"])) / np.asarray(head["scale"])) @ np.asarray(head["weight"]) + head["bias"]
    return 1 / (1 + np.exp(-z))


def image_score(prob: np.ndarray, head: dict | None = None) -> float:
    """Image-level evidence from a probability map: the image head's probability when there is
    one, else the mean of the map's top 1 % of pixels."""
    return float(head_probability(head, map_statistics(prob))) if head else top_share_mean(prob, 0.01)
