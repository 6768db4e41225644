"""Classical copy-move detector: finds a rotated copy (source and target), stays silent on a
photo-like image with no copy, and its maps are at the input's size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from forenscope.detectors import load_detector
from forenscope.evaluate.metrics import pixel_f1_at
from forenscope.signals.copymove import matched_pairs, verified_transforms


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Non-repeating texture with structure at several scales (SIFT needs corners)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for s in (2, 6, 18):
        small = rng.uniform(0, 255, (h // s + 1, w // s + 1, 3)).astype(np.float32)
        img += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w] / 3
    return np.clip(img, 0, 255).astype(np.uint8)


def copied(angle: float, scale: float = 1.0, offset: int = 0):
    """A textured image with its square (40:120, 40:120) copied to (180:260, 260:340), rotated and
    scaled; ``offset`` grey levels added to the copy make it a look-alike (other light), not a copy."""
    img = texture(300, 400, 0)
    patch = np.clip(img[40:120, 40:120].astype(np.int16) + offset, 0, 255).astype(np.uint8)
    m = cv2.getRotationMatrix2D((40, 40), angle, scale)
    rot = cv2.warpAffine(patch, m, (80, 80), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones((80, 80), np.float32), m, (80, 80)) > 0.99
    inside = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    out = img.copy()
    region = out[180:260, 260:340]
    region[inside] = rot[inside]
    truth = np.zeros((300, 400), bool)
    truth[40:120, 40:120] = True  # the source (its full square: the copy's preimage is inside it)
    truth[180:260, 260:340] |= inside
    return out, truth


def test_finds_a_rotated_copy_source_and_target():
    for angle in (0.0, 25.0):
        image, truth = copied(angle)
        a = load_detector("copymove-sift", calibrated=False, threshold=0.5).analyze(image)  # raw: 0.5 at 12 matches
        assert a.heatmap.shape == image.shape[:2] and a.mask.shape == image.shape[:2]
        assert a.score > 0.5 and a.label == "tampered"
        assert pixel_f1_at(truth, a.heatmap) > 0.7, angle
        target = a.mask[180:260, 260:340].mean()
        source = a.mask[50:110, 50:110].mean()
        assert target > 0.6 and source > 0.6


def test_no_copy_no_detection():
    image = texture(300, 400, 1)
    a = load_detector("copymove-sift", calibrated=False, threshold=0.5).analyze(image)
    assert a.score < 0.5 and a.label == "authentic" and not a.mask.any()


def test_transform_recovered_and_repeatable():
    image, _ = copied(0.0)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    p, q = matched_pairs(grey)
    ts = verified_transforms(p, q)
    assert ts, "no transform found"
    shift = ts[0].matrix[:, 2]
    assert np.allclose(np.abs(shift), [220, 140], atol=2.0)  # (260-40, 180-40), either direction
    again = verified_transforms(*matched_pairs(grey))
    assert np.array_equal(ts[0].matrix, again[0].matrix)


def test_scene_repetition_gate_rejects_look_alikes_and_keeps_copies():
    """A region repeated under other light (35 grey levels brighter: two real look-alikes) is
    verified by the matcher with the gate off, and rejected by a gate of 18 grey levels; an exact
    copy passes the same gate with a difference of a few grey levels."""
    lookalike, _ = copied(0.0, offset=35)
    off = load_detector("copymove-sift", calibrated=False, threshold=0.5, max_difference=float("inf")).analyze(lookalike)
    assert off.score > 0.5 and off.mask.any()
    gated = load_detector("copymove-sift", calibrated=False, threshold=0.5, max_difference=18.0)
    a = gated.analyze(lookalike)
    assert a.score == 0 and not a.mask.any() and a.label == "authentic"
    assert a.extras["transforms"] == [] and all(r["difference"] > 30 for r in a.extras["rejected"])
    copy, truth = copied(0.0)
    b = gated.analyze(copy)
    assert b.score > 0.5 and pixel_f1_at(truth, b.heatmap) > 0.7 and not b.extras["rejected"]
    assert b.extras["transforms"][0]["difference"] < 5


def test_gate_must_be_positive():
    with pytest.raises(ValueError, match="max_difference"):
        load_detector("copymove-sift", max_difference=0)


def test_large_image_works_at_working_resolution():
    image, truth = copied(0.0)
    big = cv2.resize(image, (1600, 1200), interpolation=cv2.INTER_CUBIC)
    a = load_detector("copymove-sift", threshold=0.5, max_side=400).analyze(big)
    assert a.heatmap.shape == (1200, 1600) and a.extras["working_scale"] == 0.25
    assert a.score > 0.5


def test_fusion_rules_fall_back_to_the_learned_map_and_grade_by_the_matchers_strength():
    from forenscope.detectors.fusion import RULES

    rng = np.random.default_rng(0)
    learned, clone = rng.random((40, 50)).astype(np.float32), (rng.random((40, 50)) > 0.8).astype(np.float32)
    for name, rule in RULES.items():
        assert np.array_equal(rule(learned, clone, 0.3, 0.4), learned), name  # the matcher is silent
    assert np.array_equal(RULES["union"](learned, clone, 0.5, 0.4), np.maximum(learned, clone))
    assert np.array_equal(RULES["matcher-only"](learned, clone, 0.41, 0.4), clone)
    graded = RULES["matcher-only-from-0.6-else-union"]
    assert np.array_equal(graded(learned, clone, 0.65, 0.4), clone)                        # strong: a copy-move
    assert np.array_equal(graded(learned, clone, 0.5, 0.4), np.maximum(learned, clone))   # weak: both maps
    confident = RULES["matcher-only-from-0.6-else-confident-learned"](learned, clone, 0.5, 0.4)
    assert np.array_equal(confident, np.maximum(clone, np.where(learned >= 0.9, learned, 0)))


def test_a_weak_match_on_texture_the_learned_map_avoids_leaves_the_learned_map():
    """The texture gate: a weak match (below 0.6) whose large regions hold none of the learned
    map's flagged pixels is repeated texture; overlapping or strong matches still count."""
    from forenscope.detectors.fusion import RULES, matched_texture

    rule = RULES["matcher-only-from-0.45-else-confident-learned-unless-texture"]
    learned = np.zeros((100, 100), np.float32)
    learned[10:30, 10:30] = 0.95                     # the learned map's finding: 4 % of the image
    texture = np.zeros_like(learned)
    texture[50:90, 50:90] = 1.0                      # the matcher's: 16 %, elsewhere
    assert matched_texture(learned, texture)
    assert np.array_equal(rule(learned, texture, 0.5, 0.4), learned)            # weak + disjoint: texture
    assert np.array_equal(rule(learned, texture, 0.65, 0.4), texture)           # strong: a copy-move
    overlapping = texture.copy()
    overlapping[15:30, 15:30] = 1.0                  # the matcher covers the learned finding too
    assert not matched_texture(learned, overlapping)
    assert np.array_equal(rule(learned, overlapping, 0.5, 0.4), overlapping)    # matcher-only from 0.45
    small = np.zeros_like(learned)
    small[60:70, 60:70] = 1.0                        # 1 %: a small copied object, not texture
    assert not matched_texture(learned, small)
    assert np.array_equal(rule(learned, small, 0.42, 0.4), np.maximum(small, learned))  # weak: + confident pixels
    assert not matched_texture(np.zeros_like(learned), texture)  # nothing learned: nothing to prefer


def test_agreeing_rule_keeps_the_learned_regions_that_touch_the_match_and_at_threshold_redraws_nothing():
    """The weak branch keeps the learned map's confident regions next to the matcher's regions
    and drops those elsewhere; a match at exactly the matcher's threshold leaves the learned map."""
    from forenscope.detectors.fusion import RULES

    rule = RULES["matcher-only-from-0.6-else-agreeing-confident-unless-texture-over-threshold"]
    learned = np.zeros((100, 100), np.float32)
    learned[20:30, 20:30] = 0.95                     # next to the match: the pasted copy
    learned[70:80, 70:80] = 0.95                     # far from it: dropped
    learned[40:45, 80:85] = 0.7                      # not confident: dropped
    clone = np.zeros_like(learned)
    clone[20:30, 31:40] = 1.0                        # 1 px gap to the first region
    fused = rule(learned, clone, 0.5, 0.4)
    expected = clone.copy()
    expected[20:30, 20:30] = 0.95
    assert np.array_equal(fused, expected)
    assert np.array_equal(rule(learned, clone, 0.4, 0.4), learned)              # 8 inliers: map unchanged
    assert np.array_equal(rule(learned, clone, 0.7, 0.4), clone)                # strong: the matcher's map
    assert np.array_equal(rule(learned, np.zeros_like(learned), 0.5, 0.4), learned)  # nothing matched


def test_fusion_applies_its_cards_rule_to_the_clone_regions_and_the_learned_map(monkeypatch):
    """effunet-cm: on a copy-move the fused mask covers source and target (the learned map
    alone need not); on an image with no copy it is exactly effunet's map."""
    from forenscope.detectors.fusion import RULES, excess_on_scale

    fused = load_detector("effunet-cm")
    assert fused.rule == (fused.card.get("rule") or "union") and fused.config()["rule"] == fused.rule
    image, truth = copied(0.0)
    a = fused.analyze(image)
    learned = fused.learned.analyze(image)
    clone = fused.matcher.analyze(image)
    assert a.label == "tampered" and a.extras.get("raw_score", a.score) >= learned.score  # both uncalibrated
    expected = RULES[fused.rule](learned.heatmap, clone.heatmap, clone.score, fused.matcher.threshold)
    assert np.array_equal(a.heatmap, expected)
    assert a.mask[50:110, 50:110].mean() > 0.6 and a.mask[180:260, 260:340].mean() > 0.6
    assert pixel_f1_at(truth, a.heatmap) > 0.7

    plain = texture(300, 400, 1)
    b = fused.analyze(plain)
    assert np.array_equal(b.heatmap, fused.learned.analyze(plain).heatmap)
    monkeypatch.setattr("forenscope.detectors.fusion.load_card", lambda name: {"rule": "nope"})
    with pytest.raises(ValueError, match="unknown rule"):
        load_detector("effunet-cm")

    # the matcher's excess over its threshold lands on the learned score's range above its own
    assert excess_on_scale(0.3, 0.4, 0.9) == 0.0
    assert excess_on_scale(0.4, 0.4, 0.9) == 0.9 and excess_on_scale(1.0, 0.4, 0.9) == 1.0
    assert abs(excess_on_scale(0.7, 0.4, 0.9) - 0.95) < 1e-12


def test_a_match_of_any_strength_away_from_a_confident_learned_region_leaves_the_learned_map():
    """The elsewhere gate: the network confidently flags 4 % of the image, the matcher's regions
    hold none of it, so the match found other content (not the copy the network sees); a
    match that covers the network's region, or a network region under 2 %, keeps the rule."""
    from forenscope.detectors.fusion import RULES, learned_elsewhere

    rule = RULES["matcher-only-from-0.5-else-confident-learned-unless-texture-over-threshold-or-learned-elsewhere-0.02"]
    learned = np.zeros((100, 100), np.float32)
    learned[10:30, 10:30] = 0.95
    clone = np.zeros_like(learned)
    clone[60:70, 60:70] = 1.0                        # 1 %: too small for the texture gate
    assert learned_elsewhere(learned, clone)
    assert np.array_equal(rule(learned, clone, 0.95, 0.4), learned)            # even a strong match
    covering = clone.copy()
    covering[12:28, 12:28] = 1.0                     # the matcher also marks the network's region
    assert not learned_elsewhere(learned, covering)
    assert np.array_equal(rule(learned, covering, 0.95, 0.4), covering)        # strong: matcher only
    faint = np.zeros_like(learned)
    faint[10:20, 10:15] = 0.95                       # 0.5 %: CVIP-like stray confidence
    assert not learned_elsewhere(faint, clone)
    assert np.array_equal(rule(faint, clone, 0.95, 0.4), clone)
    assert np.array_equal(rule(learned, clone, 0.3, 0.4), learned)             # silent matcher


def test_the_default_localiser_does_not_lose_to_its_matcher_on_cvip(shared_data):
    """Issue 18 item 3 on the shared CVIP copy-moves (every 5th forged image, to stay fast):
    effunet-cm's mean pixel F1 is at least copymove-sift's and effunet's alone."""
    from forenscope.data.datasets import find_pixel_pairs
    from forenscope.detectors.fusion import RULES
    from forenscope.imageio import read_image, read_truth_mask

    fused = load_detector("effunet-cm")  # its components' maps once each; test_fusion_applies... checks analyze = rule
    forged = [s for s in find_pixel_pairs(shared_data / "copymove_cvip") if s.mask is not None][::5]
    f1 = {"effunet-cm": [], "copymove-sift": [], "effunet": []}
    for s in forged:
        pixels, meta = read_image(s.image)
        truth = read_truth_mask(s.mask)
        learned, clone = fused.learned._analyze(pixels, meta), fused.matcher._analyze(pixels, meta)
        heat = RULES[fused.rule](learned.heatmap, clone.heatmap, clone.score, fused.matcher.threshold)
        for name, h in (("effunet-cm", heat), ("copymove-sift", clone.heatmap), ("effunet", learned.heatmap)):
            f1[name].append(pixel_f1_at(truth, h))
    mean = {k: float(np.mean(v)) for k, v in f1.items()}
    assert len(forged) == 10 and mean["copymove-sift"] > 0.5  # the matcher finds these copies
    assert mean["effunet-cm"] >= max(mean["copymove-sift"], mean["effunet"]) - 1e-9, mean
