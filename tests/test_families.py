"""The leave-family-out pool: decoder groups, folds, real splits, the recipe, and (with the
shared data) that no prompt or source file ever sits on both sides of a split."""

import numpy as np
import pytest

from conftest import SHARED_DATA, textured
from forenscope.data.families import (DECODER_GROUPS, Item, assign_folds, fake_items, leak_check, pool_items,
                                      real_split, recipe)
from forenscope.data.augment import decode_jpeg, encode_jpeg

needs_data = pytest.mark.skipif(not (SHARED_DATA / "generators_pool").is_dir(),
                                reason=f"shared data with generators_pool/ not found at {SHARED_DATA}")


def _item(family, group, label=1, key=None):
    return Item(f"/x/{family}/{key}", label, family, group, (key or family,), 320, True)


def test_folds_keep_groups_whole_and_the_biggest_group_alone():
    items = [_item("big", "big", key=f"b{i}") for i in range(50)]
    for g in range(9):
        items += [_item(f"f{g}", f"g{g}", key=f"g{g}-{i}") for i in range(3 + g)]
    for seed in range(4):
        folds = assign_folds(items, 4, seed)
        assert folds["big"] == 0 and all(f in (1, 2, 3) for g, f in folds.items() if g != "big")
        assert set(folds.values()) == {0, 1, 2, 3}
        sizes = [sum(1 for it in items if folds[it.group] == f) for f in (1, 2, 3)]
        assert max(sizes) - min(sizes) <= 11  # dealt to the smallest fold: balanced within one group
    assert len({tuple(sorted(assign_folds(items, 4, s).items())) for s in range(3)}) > 1  # seeds deal differently
    with pytest.raises(ValueError, match="cannot fill"):
        assign_folds(items[:50], 3, 0)


def test_shared_decoders_are_one_group():
    assert {"latent_diffusion", "glid3", "sd1", "sd2", "pixart_alpha"} == set(DECODER_GROUPS["sd-vae"])
    assert {"sdxl_base_and_turbo", "kolors", "hunyuan_dit"} == set(DECODER_GROUPS["sdxl-vae"])


def test_real_split_is_seeded_deterministic_and_near_its_fractions():
    reals = [_item("photos", "real", 0, key=f"p{i}") for i in range(3000)]
    a = [real_split(it, 0) for it in reals]
    assert a == [real_split(it, 0) for it in reals]
    assert a != [real_split(it, 1) for it in reals]
    share = {s: a.count(s) / len(a) for s in ("train", "val", "test")}
    assert abs(share["train"] - 0.6) < 0.04 and abs(share["val"] - 0.2) < 0.03 and abs(share["test"] - 0.2) < 0.03


def test_recipe_is_a_centre_crop_at_native_resolution_through_jpeg():
    img = textured(400, 300, seed=2)
    out = recipe(img, 256)
    assert out.shape == (256, 256, 3)
    y, x = (400 - 256) // 2, (300 - 256) // 2
    crop = img[y:y + 256, x:x + 256]
    assert np.array_equal(out, decode_jpeg(encode_jpeg(crop, 95)))  # no resampling, one JPEG q95
    assert recipe(textured(100, 180), 320).shape == (100, 100, 3)  # never enlarged


def test_leak_check_finds_a_shared_prompt():
    a = Item("a", 1, "ldm", "sd-vae", ("prompt:cat", "ldm/1"), 256, False)
    b = Item("b", 1, "glid3", "sd-vae", ("prompt:cat", "glid3/1"), 256, False)
    c = Item("c", 1, "glid3", "sd-vae", ("prompt:dog", "glid3/2"), 256, False)
    assert leak_check([a], [b]) == ["prompt:cat"] and leak_check([a], [c]) == []


@needs_data
def test_no_prompt_or_source_file_on_both_sides_of_any_fold():
    """The leaks of the earlier protocol (GLID-3 images sharing LDM training prompts) are gone:
    for every seed and fold, the training side (other folds' fakes + train reals) and the test
    side (held-out fakes + test reals) share no prompt and no source file."""
    from forenscope.train.probe import masks

    items = pool_items(SHARED_DATA, None)
    prompts_of = {}
    for it in items:
        if it.keys[0].startswith("prompt:"):
            prompts_of.setdefault(it.keys[0], set()).add(it.family)
    assert any(len(f) > 1 for f in prompts_of.values())  # LDM and GLID-3 do share prompts: the check bites
    for seed in (0, 1, 2):
        folds = assign_folds(items, 5, seed)
        fake, tr, va, te = masks(items, seed)
        fold_of = np.array([folds[it.group] if it.label else -1 for it in items])
        for f in range(5):
            train = [it for it, keep in zip(items, (fake & (fold_of != f)) | tr) if keep]
            test = [it for it, keep in zip(items, (fake & (fold_of == f)) | te | va) if keep]
            assert leak_check(train, test) == []
            assert not {it.group for it in train if it.label} & {it.group for it in test if it.label}


@needs_data
def test_every_real_generator_family_is_in_the_pool():
    fams = {it.family for it in fake_items(SHARED_DATA)}
    assert {"latent_diffusion", "glid3", "flux1_dev_xlabs", "gpt4o_image", "stylegan2_lsun_official"} <= fams
    assert len(fams) == 24


def test_augmented_probe_on_features_without_augmented_views_is_refused():
    """Only Lite0 stage-end probes have augmented views cached; any other image-view probe with
    augmentation on would index views that were never loaded."""
    from forenscope.benchmarks.family_holdout import _fit_scores

    method = {"name": "lite2 image view", "kind": "probe", "encoder": "lite2", "taps": [0, 3]}
    with pytest.raises(ValueError, match="augmented views are cached for Lite0 stage-end probes only"):
        _fit_scores(method, None, None, None, {}, 0, None, None)
