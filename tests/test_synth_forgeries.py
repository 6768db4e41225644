"""Synthetic forgeries: masks are exact, nothing outside them changes, runs are deterministic
and resumable, and the manifests are what `forenscope eval` reads."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from forenscope.data.datasets import find_pixel_pairs
from forenscope.imageio import read_image
from forenscope.synth import forgeries as fg
from forenscope.synth.inpaint import inpaint
from forenscope.synth.regions import ellipse_region, region_mask, segment_region, stroke_region


def textured(h: int, w: int, seed: int) -> np.ndarray:
    """A photo-like image: smooth colour gradients, a few shapes and mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([120 + 80 * np.sin(3 * xx + seed), 100 + 60 * yy, 90 + 50 * np.cos(4 * yy * xx)], -1)
    img = base + rng.normal(0, 4, (h, w, 3))
    for _ in range(6):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.circle(img, (int(rng.integers(w)), int(rng.integers(h))), int(rng.integers(8, 40)), c, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_paste_mask_is_exact_pixel_for_pixel():
    target = textured(120, 160, 1)
    patch = np.full((30, 40, 3), 7, np.uint8)
    alpha = np.zeros((30, 40), np.float32)
    alpha[5:25, 10:35] = 1
    out, mask = fg._paste(target, patch, alpha, 50, 60, feather=0.0)
    expected = np.zeros((120, 160), bool)
    expected[55:75, 70:95] = True
    assert np.array_equal(mask, expected)
    assert (out[mask] == 7).all()
    assert np.array_equal(out[~mask], target[~mask])


@pytest.mark.parametrize("seed", range(6))
def test_splice_changes_only_masked_pixels_unless_feathered(seed):
    target, donor = textured(160, 200, 2), textured(150, 220, 3)
    f = fg.splice(target, donor, np.random.default_rng(seed))
    changed = (f.image != target).any(-1)
    assert f.mask.any() and f.mask.shape == target.shape[:2]
    if f.recipe["feather_sigma"] == 0:
        assert not (changed & ~f.mask).any()
    else:  # feathering reaches a few sigmas beyond the nominal edge, no further
        reach = int(np.ceil(4 * f.recipe["feather_sigma"])) * 2 + 1
        near = cv2.dilate(f.mask.astype(np.uint8), np.ones((reach, reach), np.uint8)) > 0
        assert not (changed & ~near).any()


@pytest.mark.parametrize("seed", range(4))
def test_copy_move_marks_source_and_target(seed):
    image = textured(160, 200, 4)
    both = fg.copy_move(image, np.random.default_rng(seed), mark="both")
    target = fg.copy_move(image, np.random.default_rng(seed), mark="target")
    assert np.array_equal(both.image, target.image)
    changed = (both.image != image).any(-1)
    assert not (changed & ~target.mask).any()  # only the pasted copy changed, and it is marked
    assert not (target.mask & ~both.mask).any()
    source_only = both.mask & ~target.mask
    assert source_only.sum() == both.recipe["source_visible_px"] > 0
    y0, y1, x0, x1 = both.recipe["source_box"]
    assert source_only[y0:y1, x0:x1].sum() == source_only.sum()  # the source lies in its box


@pytest.mark.parametrize("method", ["telea", "ns", "patch", "learned"])
def test_inpainting_changes_only_the_hole(method):
    image = textured(120, 150, 6)
    mask = ellipse_region(image.shape[:2], 0.05, np.random.default_rng(0))
    out = inpaint(image, mask, method, np.random.default_rng(1))
    assert np.array_equal(out[~mask], image[~mask])
    assert (out[mask] != image[mask]).any()


def test_patch_fill_copies_existing_pixels():
    """A two-colour stripe image: every filled pixel must be one of the two colours."""
    image = np.zeros((96, 96, 3), np.uint8)
    image[:, ::8] = 200
    image[:, 1::8] = 200
    mask = np.zeros((96, 96), bool)
    mask[40:60, 30:70] = True
    out = inpaint(image, mask, "patch", np.random.default_rng(0))
    filled = out[mask]
    assert set(map(tuple, np.unique(filled, axis=0))) <= {(0, 0, 0), (200, 200, 200)}


def test_region_shapes_reach_roughly_the_requested_area():
    image = textured(200, 300, 7)
    for kind in ("segment", "ellipse", "strokes"):
        areas = [region_mask(kind, image, 0.06, np.random.default_rng(s)).mean() for s in range(5)]
        assert 0.02 < np.mean(areas) < 0.15, (kind, areas)
    assert segment_region(image, 0.05, np.random.default_rng(0)).any()
    assert stroke_region((50, 60), 0.1, np.random.default_rng(0)).shape == (50, 60)
    with pytest.raises(ValueError, match="unknown region shape"):
        region_mask("blob", image, 0.1, np.random.default_rng(0))


def test_post_process_keeps_mask_aligned_with_pixels():
    cfg = fg.ForgeryConfig(resize_prob=1.0, jpeg={"double": 1.0})
    image = textured(200, 240, 8)
    mask = np.zeros((200, 240), bool)
    mask[50:90, 60:140] = True
    for seed in range(8):
        out, m, data, recipe = fg.post_process(image, mask, np.random.default_rng(seed), cfg)
        assert out.shape[:2] == m.shape and data is not None
        assert recipe["jpeg"] == "double" and "resize" in recipe
        f = recipe["resize"]["factor"]
        assert abs(m.mean() - mask.mean()) < 0.02, (seed, f)
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(decoded, out)


def _photo_root(tmp_path, n=10):
    root = tmp_path / "data"
    (root / "real" / "bsds500").mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(root / "real" / "bsds500" / f"p{i}.jpg"), textured(140, 180, 10 + i)[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    return root


def _snapshot(out):
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
             if p.is_file() and p.name != "forgeries.json"}
    rows = sorted(files.pop("manifest.jsonl").decode().splitlines())
    return files, rows


def test_dataset_is_deterministic_resumable_and_evaluable(tmp_path):
    root = _photo_root(tmp_path)
    cfg = fg.ForgeryConfig(kinds=("splice", "copymove", "inpaint-telea"), per_photo={"train": 1, "val": 1, "test": 1})
    a, b = tmp_path / "a", tmp_path / "b"
    report = fg.synthesize_forgeries(root, a, cfg, log=lambda m: None)
    fg.synthesize_forgeries(root, b, cfg, log=lambda m: None)
    assert _snapshot(a) == _snapshot(b)
    assert sum(sum(c.values()) for c in report["counts"].values()) == 10 * 4 - len(report["failures"])

    # kill in the middle: drop the last half of the manifest (one line cut short) and rerun
    lines = (b / "manifest.jsonl").read_text().splitlines()
    (b / "manifest.jsonl").write_text("\n".join(lines[: len(lines) // 2]) + "\n" + lines[-1][:20])
    fg.synthesize_forgeries(root, b, cfg, log=lambda m: None)
    assert _snapshot(a) == _snapshot(b)

    rows = [json.loads(line) for line in (a / "manifest.jsonl").read_text().splitlines()]
    splits_of_photo = {}
    for r in rows:
        splits_of_photo.setdefault(r["photo"], set()).add(r["split"])
        if r["kind"] == "splice":
            splits_of_photo.setdefault(r["recipe"]["donor"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits_of_photo.values()), "a photo straddles two splits"
    for split in ("train", "val", "test"):
        if not (a / f"{split}.csv").exists():
            continue
        for s in find_pixel_pairs(a / f"{split}.csv"):
            pixels, _ = read_image(s.image)
            if s.mask is None:
                assert s.subset == "authentic"
                continue
            m, _ = read_image(s.mask)
            assert m.shape[:2] == pixels.shape[:2] and m.max() == 255


# ------------------------------------------------------------------ the realistic recipe

def _noisy(h: int, w: int, seed: int, sigma: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([110 + 60 * xx, 100 + 50 * yy, 90 + 30 * xx * yy], -1)
    return np.clip(base + rng.normal(0, sigma, (h, w, 1)), 0, 255).astype(np.uint8)


def test_noise_sigma_measures_known_noise():
    from forenscope.synth.harmonise import noise_sigma

    flat = noise_sigma(_noisy(200, 200, 0, 0.0))
    noisy = noise_sigma(_noisy(200, 200, 0, 6.0))
    assert flat < 0.6 and 3.0 < noisy < 7.0  # the residual keeps most of white noise's spread


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_realistic_splice_takes_the_noise_and_light_of_where_it_lands(seed):
    """A clean, bright donor region pasted into a noisy, darker photo: the standard recipe keeps
    the donor's clean texture; the realistic one matches noise and brightness to the ring."""
    from forenscope.synth.harmonise import noise_sigma, ring

    target = _noisy(192, 256, seed, 6.0)
    donor = np.clip(_noisy(192, 256, seed + 10, 0.0).astype(int) + 60, 0, 255).astype(np.uint8)
    out = {}
    for realistic in (False, True):
        f = fg.splice(target, donor, np.random.default_rng(seed), (0.08, 0.12), "realistic" if realistic else "standard")
        core = cv2.erode(f.mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0  # away from the feathered edge
        around = ring(f.mask, 6)
        grey = cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY).astype(float)
        out[realistic] = (noise_sigma(f.image, core) / noise_sigma(f.image, around),
                          abs(grey[core].mean() - grey[around].mean()))
    assert out[True][0] > 0.7 and out[False][0] < 0.5, out      # noise level matched
    assert out[True][1] < 0.5 * out[False][1], out               # the light step mostly gone


def test_realistic_diffusion_fill_gets_the_surroundings_noise_back():
    from forenscope.synth.harmonise import noise_sigma, ring

    image = _noisy(160, 200, 3, 6.0)
    for realistic in (False, True):
        f = fg.inpainted(image, "telea", np.random.default_rng(4), (0.08, 0.12), realistic=realistic)
        ratio = noise_sigma(f.image, f.mask) / noise_sigma(f.image, ring(f.mask, 6))
        assert (ratio > 0.75) if realistic else (ratio < 0.5), (realistic, ratio)
        assert np.array_equal(f.image[~f.mask], image[~f.mask])  # only the hole changes


def test_realistic_copy_move_marks_the_usual_area():
    """Both copies are marked, so each is drawn at half the area: the marked share stays in the
    configured range instead of doubling it."""
    image = textured(192, 256, 5)
    areas = [fg.copy_move(image, np.random.default_rng(s), (0.06, 0.10), "both", realistic=True).mask.mean()
             for s in range(6)]
    assert 0.04 < np.mean(areas) < 0.14, areas


def test_recipe_is_checked():
    with pytest.raises(ValueError, match="recipe"):
        fg.ForgeryConfig(recipe="glossy")


def test_whole_image_filters_sharpen_or_denoise_and_draw_nothing_when_off():
    """Sharpening raises the high-pass energy, the bilateral denoise lowers a known noise; with
    filter_prob 0 the random stream is untouched, so the shipped recipes' data stay as made."""
    rng = np.random.default_rng(3)
    flat = np.full((120, 160, 3), 128.0)
    noisy = np.clip(flat + rng.normal(0, 8, flat.shape), 0, 255).astype(np.uint8)
    photo = textured(120, 160, 4)

    def high_pass(x):
        x = x.astype(np.float32)
        return float(np.abs(x - cv2.GaussianBlur(x, (0, 0), 1.5)).mean())

    kinds = {}
    for seed in range(12):
        out, recipe = fg.whole_image_filter(photo if seed % 2 else noisy, np.random.default_rng(seed))
        kinds.setdefault(recipe["kind"], []).append((seed, out))
    assert set(kinds) == {"sharpen", "denoise"}
    for seed, out in kinds["sharpen"]:
        src = photo if seed % 2 else noisy
        assert high_pass(out) > high_pass(src)
    for seed, out in kinds["denoise"]:
        src = photo if seed % 2 else noisy
        assert high_pass(out) < high_pass(src)

    class Counting:  # counts the draws post_process makes
        def __init__(self):
            self.rng, self.draws = np.random.default_rng(5), 0

        def __getattr__(self, name):
            def draw(*a, **k):
                self.draws += 1
                return getattr(self.rng, name)(*a, **k)
            return draw

    plain = {"resize_prob": 0.0, "jpeg": {"none": 1.0}}
    off, on = Counting(), Counting()
    out, _, _, recipe = fg.post_process(photo, None, off, fg.ForgeryConfig(**plain))
    assert off.draws == 2 and np.array_equal(out, photo) and "filter" not in recipe  # resize? + JPEG mode
    out, _, _, recipe = fg.post_process(photo, None, on, fg.ForgeryConfig(**plain, filter_prob=1.0))
    assert on.draws > 2 and recipe["filter"]["kind"] in ("sharpen", "denoise") and not np.array_equal(out, photo)


# ------------------------------------------------------------------ the unblended recipe (Bappy's)

@pytest.mark.parametrize("seed", range(4))
def test_unblended_splice_pastes_donor_pixels_as_they_are(seed):
    """Hard edge and no colour matching: every changed pixel is in the mask, and the pasted
    pixels keep the donor's colours (a constant donor stays that constant)."""
    target = textured(160, 200, 2)
    donor = np.zeros((150, 220, 3), np.uint8)
    donor[..., 0] = 250  # pure red: colour matching would move it towards the target
    f = fg.splice(target, donor, np.random.default_rng(seed), recipe="unblended")
    assert f.recipe["shape"] == "segment" and f.recipe["feather_sigma"] == 0 and not f.recipe["colour_matched"]
    changed = (f.image != target).any(-1)
    assert not (changed & ~f.mask).any()
    assert (f.image[f.mask] == [250, 0, 0]).all()


def test_unblended_recipe_makes_lossless_unresized_splices_only():
    cfg = fg.ForgeryConfig(kinds=("splice",), recipe="unblended", resize_prob=0.9, jpeg={"single": 1.0})
    assert cfg.resize_prob == 0 and cfg.jpeg == {"none": 1.0}
    image = textured(100, 140, 6)
    out, mask, data, post = fg.post_process(image, np.ones((100, 140), bool), np.random.default_rng(0), cfg)
    assert data is None and np.array_equal(out, image) and post == {"jpeg": "none"}
    with pytest.raises(ValueError, match="splices only"):
        fg.ForgeryConfig(recipe="unblended")  # all kinds: refused


# ------------------------------------------------------------------ extra training photos


def test_extra_training_photos_join_train_only_and_leave_val_and_test_as_they_were(tmp_path):
    root = _photo_root(tmp_path, n=12)
    scenes = root / "real_scenes" / "coco"
    scenes.mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(scenes / f"s{i}.jpg"), textured(150, 170, 50 + i)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    kinds = ("splice", "inpaint-telea")
    plain, more = tmp_path / "plain", tmp_path / "more"
    fg.synthesize_forgeries(root, plain, fg.ForgeryConfig(kinds=kinds), log=lambda m: None)
    report = fg.synthesize_forgeries(root, more, fg.ForgeryConfig(kinds=kinds, extra_train=("real_scenes",)),
                                     log=lambda m: None)
    rows = [json.loads(line) for line in (more / "manifest.jsonl").read_text().splitlines()]
    scene_rows = [r for r in rows if r["photo"].startswith("real_scenes/")]
    assert {r["photo"] for r in scene_rows} == {f"real_scenes/coco/s{i}.jpg" for i in range(4)}
    assert {r["split"] for r in scene_rows} == {"train"}
    donors = {r["recipe"]["donor"] for r in rows if r["kind"] == "splice" and r["split"] != "train"}
    assert not any(d.startswith("real_scenes/") for d in donors), "an extra photo reached val or test"
    assert report["source_photos"]["train"] == len({r["photo"] for r in rows if r["split"] == "train"})
    # every sample of the plain set is in the larger one byte for byte; val and test are equal
    for p in plain.rglob("*"):
        if p.is_file() and p.suffix in (".png", ".jpg"):
            assert p.read_bytes() == (more / p.relative_to(plain)).read_bytes()
    for split in ("val", "test"):
        a, b = plain / f"{split}.csv", more / f"{split}.csv"
        assert a.exists() == b.exists() and (not a.exists() or a.read_text() == b.read_text())
    # growing the plain set in place gives the set made in one go
    fg.synthesize_forgeries(root, plain, fg.ForgeryConfig(kinds=kinds, extra_train=("real_scenes",)), log=lambda m: None)
    assert _snapshot(plain) == _snapshot(more)


@pytest.mark.parametrize("folder", ["real", "real/bsds500", "real/bsds500/sub", "."])
def test_extra_training_photos_may_not_overlap_the_dealt_folders(tmp_path, folder):
    root = _photo_root(tmp_path, n=3)
    with pytest.raises(ValueError, match="overlaps"):
        fg.synthesize_forgeries(root, tmp_path / "o", fg.ForgeryConfig(kinds=("splice",), extra_train=(folder,)),
                                log=lambda m: None)


def test_a_missing_extra_photo_folder_is_an_error(tmp_path):
    root = _photo_root(tmp_path, n=3)
    with pytest.raises(FileNotFoundError, match="no photos"):
        fg.synthesize_forgeries(root, tmp_path / "o", fg.ForgeryConfig(kinds=("splice",), extra_train=("nope",)),
                                log=lambda m: None)
