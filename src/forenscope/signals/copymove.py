"""Copy-move evidence without training: SIFT keypoints matched against the same image
(g2NN test, Amerini et al. 2011), affine transforms verified by RANSAC, and a dense
correlation check that turns each verified transform into source and target regions.

All functions are pure: a grey/RGB uint8 array in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import binary_fill_holes


@dataclass
class CloneTransform:
    matrix: np.ndarray        # 2x3 affine, source -> target
    source: np.ndarray        # (n, 2) inlier keypoints (x, y) in the source region
    target: np.ndarray        # (n, 2) their matches in the target region

    @property
    def inliers(self) -> int:
        return len(self.source)


def matched_pairs(grey: np.ndarray, max_keypoints: int = 8000, ratio: float = 0.5,
                  min_distance: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of keypoints of one image with near-identical descriptors: (p, q), each (n, 2).

    g2NN: for each keypoint, its neighbours in descriptor space are accepted in order while
    d_i / d_{i+1} < ``ratio`` (so several clones of one patch are all found); pairs closer than
    ``min_distance`` pixels are the same structure, not a copy. Each pair appears once."""
    sift = cv2.SIFT_create(nfeatures=max_keypoints, contrastThreshold=0.02)
    kps, desc = sift.detectAndCompute(grey, None)
    if desc is None or len(kps) < 3:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    desc = np.sqrt(desc / (desc.sum(1, keepdims=True) + 1e-7))  # RootSIFT: Hellinger distance
    pts = np.float32([k.pt for k in kps])
    k = min(10, len(kps))
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(desc, desc, k=k)
    pairs = set()
    for i, row in enumerate(knn):
        row = [m for m in row if m.trainIdx != i]
        for a, b in zip(row, row[1:]):
            if a.distance >= ratio * max(b.distance, 1e-6):
                break
            j = a.trainIdx
            if np.hypot(*(pts[i] - pts[j])) >= min_distance:
                pairs.add((min(i, j), max(i, j)))
    if not pairs:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    idx = np.array(sorted(pairs))
    return pts[idx[:, 0]], pts[idx[:, 1]]


def verified_transforms(p: np.ndarray, q: np.ndarray, min_inliers: int = 8, max_transforms: int = 3,
                        reproj: float = 4.0, min_shift: float = 12.0) -> list[CloneTransform]:
    """Affine transforms (rotation, scale, shear) that explain many pairs at once.

    A pair's direction is unknown, so every pair enters in both directions; once a transform is
    found, its pairs are removed in both. Transforms that barely move (shift < ``min_shift``)
    describe self-similar texture, not a copy."""
    p2, q2 = np.concatenate([p, q]), np.concatenate([q, p])
    pair_id = np.concatenate([np.arange(len(p)), np.arange(len(p))])
    alive = np.ones(len(p2), bool)
    found: list[CloneTransform] = []
    cv2.setRNGSeed(0)  # RANSAC draws from OpenCV's global RNG: fix it, results must repeat
    while len(found) < max_transforms and alive.sum() >= min_inliers:
        src, dst = p2[alive], q2[alive]
        matrix, inl = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=reproj,
                                           maxIters=4000, confidence=0.995)
        if matrix is None or inl is None or int(inl.sum()) < min_inliers:
            break
        inl = inl.ravel().astype(bool)
        ids = set(pair_id[alive][inl].tolist())
        alive &= ~np.isin(pair_id, list(ids))
        shift = np.linalg.norm(dst[inl] - src[inl], axis=1).mean()
        det = abs(np.linalg.det(matrix[:, :2]))
        if shift < min_shift or not 0.25 < det < 4.0:
            continue
        found.append(CloneTransform(matrix, src[inl], dst[inl]))
    return found


@dataclass
class Clone:
    source: np.ndarray    # bool map: where the image equals itself moved by the transform
    target: np.ndarray    # bool map: where the moved copy lies
    difference: float     # clone_difference of the target region (NaN when it is too small)


def trace_clone(grey: np.ndarray, transform: CloneTransform, window: int = 7, min_corr: float = 0.6,
                min_std: float = 3.0, min_pixels: int = 500) -> Clone:
    """Source and target regions of a verified transform, and how much the copy differs.

    Zero-mean normalised correlation of the image with its warped copy in ``window``-sized
    neighbourhoods; only connected regions that hold verified keypoints are kept (flat areas
    and repeated texture elsewhere correlate too, but carry no matched keypoint). The warp that
    finds the target also gives the difference (one warp per direction)."""
    grey = grey.astype(np.float32)
    h, w = grey.shape
    inverse = cv2.invertAffineTransform(transform.matrix)
    forward, backward = _warped(grey, transform.matrix), _warped(grey, inverse)  # I(T^-1 x), I(T x)
    target = _correlated(grey, forward, transform.matrix, window, min_corr, min_std)
    source = _correlated(grey, backward, inverse, window, min_corr, min_std)
    target = _regions_with_points(target, transform.target, h, w)
    source = _regions_with_points(source, transform.source, h, w)
    return Clone(source, target, clone_difference(grey, forward, target, min_pixels))


def clone_difference(grey: np.ndarray, moved: np.ndarray, target: np.ndarray, min_pixels: int = 500) -> float:
    """Mean absolute grey-level difference between the ``target`` region of ``grey`` and ``moved``
    (the image warped by the clone's transform, so its source lies on the target), NaN when the
    region has fewer than ``min_pixels`` pixels: over a few hundred pixels, mostly region edge,
    resampling alone differs by 20 grey levels.

    A digital copy repeats the source's pixels, changed only by resampling and recompression
    (a few grey levels); two real objects that look alike (identical windows of a facade) differ
    in light, perspective and sensor noise by far more, even where SIFT and the correlation
    check take them for one another."""
    if target.sum() < max(1, min_pixels):
        return float("nan")
    return float(np.abs(grey[target].astype(np.float32) - moved[target]).mean())


def _warped(grey: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``grey`` moved by ``matrix``; -1 where nothing maps (never a grey level)."""
    h, w = grey.shape
    return cv2.warpAffine(grey, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=-1.0)


def _correlated(grey: np.ndarray, moved: np.ndarray, matrix: np.ndarray, window: int, min_corr: float,
                min_std: float) -> np.ndarray:
    """Where ``grey`` correlates with ``moved`` (``grey`` warped by ``matrix``) inside the warped frame."""
    h, w = grey.shape
    valid = cv2.warpAffine(np.ones_like(grey), matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0) > 0
    k = (window, window)
    mean_a, mean_b = cv2.blur(grey, k), cv2.blur(moved, k)
    var_a = cv2.blur(grey * grey, k) - mean_a**2
    var_b = cv2.blur(moved * moved, k) - mean_b**2
    cov = cv2.blur(grey * moved, k) - mean_a * mean_b
    corr = cov / np.sqrt(np.maximum(var_a, 1e-6) * np.maximum(var_b, 1e-6))
    hit = (corr >= min_corr) & (var_a >= min_std**2)  # flat areas correlate with anything
    hit &= valid & (cv2.erode(valid.astype(np.uint8), np.ones(k, np.uint8)) > 0)
    hit = cv2.morphologyEx(hit.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return cv2.morphologyEx(hit, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0


def _regions_with_points(hit: np.ndarray, points: np.ndarray, h: int, w: int) -> np.ndarray:
    n, labels = cv2.connectedComponents(hit.astype(np.uint8), connectivity=8)
    xy = np.clip(np.round(points).astype(int), 0, [w - 1, h - 1])
    keep = np.unique(labels[xy[:, 1], xy[:, 0]])
    keep = keep[keep > 0]
    return binary_fill_holes(np.isin(labels, keep))  # flat parts inside a copied region
