"""The localiser trainer on a tiny synthetic forgery set: it learns a known trace (Telea fills
remove sensor noise), resumes exactly, and its run loads as a detector with full-size maps."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import noisy_photo, tiny_forgeries
from forenscope.detectors import load_detector
from forenscope.train.config import LOCALIZE_DEFAULTS, _merge
from forenscope.train.localize import sample_crop, train_localizer


@pytest.fixture(scope="module")
def forgeries(tmp_path_factory):
    return tiny_forgeries(tmp_path_factory.mktemp("loc"), ("inpaint-telea",), {"train": 3, "val": 1, "test": 1})[1]


def tiny_config(forgeries, steps=60) -> dict:
    cfg = _merge(LOCALIZE_DEFAULTS, {
        "name": "iidnet-test", "family": "iidnet",
        "network": {"width": 0.125, "n_cells": 2, "dec_ch": 8, "dec_convs": 1},
        "input": {"tile": 128},
        "data": {"forgeries": str(forgeries), "kinds": ["inpaint-telea"], "crop": 64, "max_val_images": 12},
        "train": {"steps": steps, "batch": 8, "lr": 3e-3, "warmup": 5, "val_every": 30, "threads": 2},
    }, "")
    return cfg


def test_learns_telea_fills_and_loads_as_detector(forgeries, tmp_path):
    card = train_localizer(tiny_config(forgeries), tmp_path / "run", log=lambda m: None)
    val = card["metrics"]["validation"]
    assert val["auc_mean_per_image"] > 0.8, val  # smooth fills in noisy photos: an easy, known trace
    assert 0.0 <= card["threshold"] <= 1.0 and card["task"] == "localize"
    det = load_detector("iidnet", run=str(tmp_path / "run"))
    image = noisy_photo(150, 203, 99)  # odd size: padded inside, map at the exact size
    a = det.analyze(image)
    assert a.heatmap.shape == (150, 203) and a.mask.shape == (150, 203)

    # the run evaluates through the CLI like a shipped detector
    from typer.testing import CliRunner

    from forenscope.cli import app

    res = CliRunner().invoke(app, ["eval", str(forgeries / "test.csv"), "-d", "iidnet", "--run",
                                   f"iidnet={tmp_path / 'run'}", "--out", str(tmp_path / "eval"), "--no-progress"])
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "eval" / "results.json").read_text())
    row = result["metrics"]["iidnet"]["inpaint-telea"]
    assert row["auc_mean_per_image"] > 0.7 and row["image_roc_auc"] is not None  # authentic pool lent


def test_resume_equals_uninterrupted(forgeries, tmp_path):
    cfg = tiny_config(forgeries, steps=8)
    cfg["train"]["val_every"] = 4
    cfg["data"]["max_val_images"] = 3
    train_localizer(copy.deepcopy(cfg), tmp_path / "a", log=lambda m: None)
    assert train_localizer(copy.deepcopy(cfg), tmp_path / "b", log=lambda m: None, stop_after=4) is None
    train_localizer(copy.deepcopy(cfg), tmp_path / "b", log=lambda m: None)
    wa, wb = load_file(tmp_path / "a" / "last.safetensors"), load_file(tmp_path / "b" / "last.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_default_localizer_is_a_shipped_trained_model(tmp_path):
    """`forenscope localize` with no --detector uses the shipped default, maps at input size."""
    from PIL import Image
    from typer.testing import CliRunner

    import forenscope
    from forenscope.cli import app
    from forenscope.detectors.base import load_card

    card = load_card(forenscope.DEFAULT_LOCALIZER)
    assert card is not None and card["task"] == "localize" and "weights_sha256" in card
    Image.fromarray(noisy_photo(97, 130, 5)).save(tmp_path / "x.png")
    res = CliRunner().invoke(app, ["localize", str(tmp_path / "x.png"), "-o", str(tmp_path / "maps"),
                                   "-f", "jsonl", "--no-progress"])
    assert res.exit_code == 0, res.output
    line = json.loads(next(x for x in res.output.splitlines() if x.startswith("{")))
    assert line["detector"] == forenscope.DEFAULT_LOCALIZER
    assert Image.open(line["heatmap"]).size == (130, 97) and Image.open(line["mask"]).size == (130, 97)


@pytest.mark.parametrize("family,network", [("hlstm", {"nf": 4, "hidden": 8}),
                                            ("jlstm", {"hidden": 16, "layers": 1})])
def test_bappy_localisers_train_and_analyse_any_size(forgeries, tmp_path, family, network):
    """H-LSTM (256 grid, resampling features made on the fly) and J-LSTM (64x64 patches) train
    through the same loop, load from their run and map odd-sized images at the exact size,
    tiles batched or not alike."""
    cfg = tiny_config(forgeries, steps=4)
    cfg.update(name=f"{family}-test", family=family, network=network)
    cfg["train"].update(val_every=4, batch=4)
    cfg["data"]["max_val_images"] = 2
    card = train_localizer(cfg, tmp_path / "run", log=lambda m: None)
    assert card["family"] == family and np.isfinite(card["metrics"]["validation"]["f1_mean_per_image"])
    det = load_detector(family, run=str(tmp_path / "run"))
    image = noisy_photo(150, 203, 7)
    a = det.analyze(image)
    assert a.heatmap.shape == (150, 203) and 0.0 <= a.heatmap.min() <= a.heatmap.max() <= 1.0
    one_by_one = det.method.predict_map(det.net, image, pixels_per_batch=1)
    assert np.allclose(one_by_one, a.heatmap, atol=1e-5)


def test_flip_average_mean_of_a_map_and_its_mirror():
    """A runner whose logit map ramps left to right reads, with flip_average, as the mean of the
    ramp's probability and its mirror's: left-right symmetric in every tile; without it, the ramp."""
    from forenscope.methods import get_method

    def ramp(x: torch.Tensor) -> torch.Tensor:  # logit = column index within the tile / 8 - 4
        b, _, h, w = x.shape
        return (torch.arange(w, dtype=torch.float32) / 8 - 4).expand(b, 1, h, w).clone()

    method, image = get_method("effunet"), noisy_photo(64, 96, 3)
    plain = method.predict_map(ramp, image, tile=32, settings={})
    averaged = method.predict_map(ramp, image, tile=32, settings={"flip_average": True})
    p = torch.sigmoid(torch.arange(32) / 8 - 4).numpy()
    assert np.allclose(plain, np.tile(p, 3)[None].repeat(64, 0), atol=1e-6)
    assert np.allclose(averaged, np.tile((p + p[::-1]) / 2, 3)[None].repeat(64, 0), atol=1e-6)
    assert method.describe({"tile": 32, "flip_average": True})["flip_average"] is True
    assert "flip_average" not in method.describe({"tile": 32})


def test_map_statistics_of_a_known_map():
    from forenscope.methods.image_head import LOGIT_CLIP, MAP_STATISTICS, map_statistics

    prob = np.full((100, 100), 0.1, np.float32)
    prob[10:30, 10:30] = 0.95           # one 400-pixel region (4 % of the image)
    prob[80, 80] = 0.6                  # and a lone flagged pixel
    s = dict(zip(MAP_STATISTICS, map_statistics(prob)))
    z95, z1 = np.log(0.95 / 0.05), np.log(0.1 / 0.9)
    assert np.isclose(s["top_1%_logit"], z95, atol=1e-5)       # the top 100 pixels are all in the region
    assert np.isclose(s["area_above_0.5"], 401 / 1e4) and np.isclose(s["area_above_0.9"], 400 / 1e4)
    assert np.isclose(s["largest_region_area"], 400 / 1e4)
    assert np.isclose(s["largest_region_mean_logit"], z95, atol=1e-5)
    assert np.isclose(s["mean_logit"], (400 * z95 + np.log(0.6 / 0.4) + 9599 * z1) / 1e4, atol=1e-4)
    # saturated probabilities are clipped, so a float16 copy of the map gives the same figures
    sat = np.where(prob > 0.9, 0.99999, prob).astype(np.float32)
    assert np.allclose(map_statistics(sat), map_statistics(sat.astype(np.float16)), atol=1e-3)
    assert np.isclose(dict(zip(MAP_STATISTICS, map_statistics(sat)))["top_1%_logit"], np.log((1 - LOGIT_CLIP) / LOGIT_CLIP))
    empty = dict(zip(MAP_STATISTICS, map_statistics(np.zeros((50, 50)))))
    assert empty["largest_region_area"] == 0 and empty["area_above_0.5"] == 0


def test_image_head_separates_compact_regions_from_maps_high_everywhere_and_sets_a_mid_scale():
    """Authentic maps here are high everywhere (texture), tampered ones have one confident
    region on a low background: the top 1 % alone ranks them badly, the head (peak against the
    image's own level) ranks them well, and its threshold is a probability, not ~1."""
    from forenscope.methods.image_head import head_probability, image_score, map_statistics
    from forenscope.evaluate.metrics import roc_auc, threshold_at_fpr
    from forenscope.train.localize import fit_image_head

    rng = np.random.default_rng(0)
    maps, labels = [], []
    for i in range(60):
        if i % 2:
            m = rng.uniform(0.0, 0.2, (64, 64))
            m[20:36, 20:36] = rng.uniform(0.97, 0.995)
        else:
            m = rng.uniform(0.8, 0.995, (64, 64))
        maps.append(m.astype(np.float32))
        labels.append(i % 2)
    labels = np.array(labels)
    stats = np.stack([map_statistics(m) for m in maps])
    head, cv = fit_image_head(stats, labels)
    assert max(cv.values()) > 0.95
    p = head_probability(head, stats)
    assert roc_auc(labels, p) > 0.95 and roc_auc(labels, [image_score(m) for m in maps]) < 0.6
    assert threshold_at_fpr(labels, p, 0.05) < 0.99
    assert np.isclose(image_score(maps[1], head), p[1])  # the detector's path, one map at a time
    with pytest.raises(ValueError, match="does not compute"):
        head_probability({**head, "statistics": ["colour_of_the_sky"]}, stats)


def test_balanced_class_weights_give_each_class_half_the_loss():
    import torch.nn.functional as F

    from forenscope.nets.losses import balanced_weights, jlstm_loss, two_channel_sigmoid_ce

    labels = torch.tensor([0, 0, 0, 1])  # 3 authentic, 1 manipulated
    w = balanced_weights(labels)
    assert torch.allclose(w, torch.tensor([4 / 6, 4 / 2]))
    assert torch.isclose((w[labels]).sum(), torch.tensor(4.0))  # total weight unchanged
    assert torch.allclose(balanced_weights(torch.zeros(5)), torch.tensor([0.5, 2.5]))  # absent class: count 1
    # H-LSTM: with the map all "authentic" (logit -4 on channel 1) on a 1/4-manipulated mask, the
    # balanced loss counts the missed quarter as much as the rest
    mask = torch.zeros(1, 4, 4)
    mask[0, :2, :2] = 1
    logits = torch.stack([torch.full((1, 4, 4), 4.0), torch.full((1, 4, 4), -4.0)], 1)
    plain, bal = two_channel_sigmoid_ce(logits, mask), two_channel_sigmoid_ce(logits, mask, balanced=True)
    big, small = F.softplus(torch.tensor(4.0)), F.softplus(torch.tensor(-4.0))  # wrong / right side
    assert torch.isclose(plain, (4 * big + 12 * small) * 2 / 32)
    assert torch.isclose(bal, (4 * 2.0 * big + 12 * (2 / 3) * small) * 2 / 32)
    # J-LSTM: "balanced" uses the batch's own patch and pixel frequencies
    cls, seg = torch.randn(4, 2), torch.randn(4, 2, 8, 8)
    pix = (torch.rand(4, 8, 8) > 0.8).float()
    ref = (F.cross_entropy(cls, labels, weight=balanced_weights(labels))
           + 10 * F.cross_entropy(seg, pix.long(), weight=balanced_weights(pix)))
    assert torch.isclose(jlstm_loss(cls, seg, labels.bool(), pix, weights="balanced"), ref)


def test_rows_of_several_forgery_folders_are_pooled(forgeries, tmp_path):
    """``data.forgeries`` as a list (e.g. both recipes): training and validation rows of every
    folder, and the card's data hash names both."""
    import shutil

    second = tmp_path / "second"
    shutil.copytree(forgeries, second)
    lines = []
    one = train_localizer(tiny_config(forgeries, steps=2), tmp_path / "one", log=lambda m: None)
    cfg = tiny_config(forgeries, steps=2)
    cfg["data"]["forgeries"] = [str(forgeries), str(second)]
    both = train_localizer(cfg, tmp_path / "both", log=lines.append)
    one, both = one["training"], both["training"]
    assert both["train_images"] == 2 * one["train_images"] > 0
    assert both["val_images"] == min(2 * one["val_images"], 12)
    assert both["data_manifest_sha256"] != one["data_manifest_sha256"]
    assert lines[0].startswith(f"{both['train_images']} training images")
    cfg["data"]["forgeries"] = []
    with pytest.raises(ValueError, match="names no folder"):
        train_localizer(cfg, tmp_path / "none", log=lambda m: None)


@pytest.mark.parametrize("padding", ["zero", "reflect"])
def test_small_images_pad_the_mask_as_configured(padding):
    # a 6 x 6 image manipulated in its bottom rows, cropped at 10: rows 6..9 mirror rows 4..1
    rgb = np.arange(6 * 6 * 3, dtype=np.uint8).reshape(6, 6, 3)
    mask = np.zeros((6, 6), bool)
    mask[4:] = True
    crop, m = sample_crop(rgb, mask, 10, np.random.default_rng(0), positive=0.0, mask_padding=padding)
    assert crop.shape == (10, 10, 3) and m.shape == (10, 10)
    np.testing.assert_array_equal(crop[6:9, :6], rgb[4:1:-1])  # the pixels are mirrored either way
    assert m[:6, :6].sum() == mask.sum()  # the original labels are kept
    mirrored = m[6:9, :6]  # copies of rows 4, 3, 2: manipulated, authentic, authentic
    assert mirrored[0].all() == (padding == "reflect") and not mirrored[1:].any()


def test_unknown_mask_padding_is_a_clear_error(forgeries, tmp_path):
    cfg = tiny_config(forgeries)
    cfg["data"]["mask_padding"] = "wrap"
    with pytest.raises(ValueError, match="mask_padding"):  # before any data is read
        train_localizer(cfg, tmp_path / "run", log=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_init_from_an_earlier_run_starts_from_its_weights(forgeries, tmp_path):
    """``train.init_from``: a further schedule on top of an earlier run ("{seed}" names the
    earlier run of the same seed). At learning rate 0 the weights stay the earlier run's."""
    first = train_localizer(tiny_config(forgeries, steps=2), tmp_path / "first-seed0", log=lambda m: None)
    cfg = tiny_config(forgeries, steps=1)
    cfg["train"] |= {"init_from": str(tmp_path / "first-seed{seed}" / "model.safetensors"), "lr": 0.0, "val_every": 1}
    lines = []
    card = train_localizer(copy.deepcopy(cfg), tmp_path / "second", log=lines.append)
    assert any(line.startswith("every weight initialised from") for line in lines)
    assert card["training"]["initialised_from"]["sha256"] == first["weights_sha256"]
    before, after = load_file(tmp_path / "first-seed0" / "model.safetensors"), load_file(tmp_path / "second" / "last.safetensors")
    learned = [k for k in before if "running_" not in k and "num_batches" not in k]  # batch-norm statistics move at lr 0
    assert learned and all(torch.equal(before[k], after[k]) for k in learned)

    wrong_seed = copy.deepcopy(cfg)
    wrong_seed["train"]["seed"] = 1  # first-seed1 was never trained
    with pytest.raises(ValueError, match="init_from.*not a file"):
        train_localizer(wrong_seed, tmp_path / "third", log=lambda m: None)
    other_net = copy.deepcopy(cfg)
    other_net["network"]["dec_ch"] = 16
    with pytest.raises(ValueError, match="different network"):
        train_localizer(other_net, tmp_path / "fourth", log=lambda m: None)
    both = copy.deepcopy(cfg)
    both["train"]["init"] = "efficientnet-lite0"
    with pytest.raises(ValueError, match="not both"):
        train_localizer(both, tmp_path / "fifth", log=lambda m: None)
    assert not any((tmp_path / n).exists() for n in ("third", "fourth", "fifth"))  # no run folder left behind

    # the card names the weights the run started from, even when that file is replaced (a ship) before it ends
    longer = copy.deepcopy(cfg)
    longer["train"]["steps"] = 2
    assert train_localizer(copy.deepcopy(longer), tmp_path / "sixth", log=lambda m: None, stop_after=1) is None
    (tmp_path / "first-seed0" / "model.safetensors").write_bytes((tmp_path / "second" / "last.safetensors").read_bytes())
    resumed = train_localizer(longer, tmp_path / "sixth", log=lambda m: None)
    assert resumed["training"]["initialised_from"]["sha256"] == first["weights_sha256"]


def test_an_empty_init_from_keeps_the_hash_of_runs_made_before_it_existed(forgeries):
    """Runs made before ``train.init_from`` existed recorded configs without it; an empty one
    (the default: train from scratch) must hash the same, so they still resume and ship."""
    from forenscope.train.config import config_hash

    cfg = tiny_config(forgeries)
    assert cfg["train"]["init_from"] == ""
    older = copy.deepcopy(cfg)
    del older["train"]["init_from"]
    assert config_hash(cfg) == config_hash(older)
    cfg["train"]["init_from"] = "work/runs/x-seed{seed}/model.safetensors"
    assert config_hash(cfg) != config_hash(older)


def test_noise_augmentation_is_off_by_default_and_keeps_older_hashes(forgeries):
    """``augment.noise_prob`` (new): 0 draws nothing, so a batch equals one made without the
    table and a config without it hashes as before; 1 adds noise to every crop, masks unchanged."""
    from forenscope.data.forgeries import PairCache, read_rows
    from forenscope.train.config import config_hash
    from forenscope.train.localize import make_batch

    cfg = tiny_config(forgeries)
    older = copy.deepcopy(cfg)
    del older["augment"]
    assert cfg["augment"]["noise_prob"] == 0.0 and config_hash(cfg) == config_hash(older)
    rows = read_rows(forgeries, "train", None, True)
    cache = PairCache()
    x0, m0 = make_batch(rows, cache, cfg, np.random.default_rng(3))
    x1, m1 = make_batch(rows, cache, older, np.random.default_rng(3))
    pixels = lambda x: torch.cat([t.flatten() for t in (x if isinstance(x, tuple) else (x,))])  # noqa: E731
    assert torch.equal(pixels(x0), pixels(x1)) and torch.equal(m0, m1)
    noisy = copy.deepcopy(cfg)
    noisy["augment"] = {"noise_prob": 1.0, "noise_sigma": [6.0, 6.0]}
    assert config_hash(noisy) != config_hash(cfg)
    x2, m2 = make_batch(rows, cache, noisy, np.random.default_rng(3))
    assert torch.equal(m0[0], m2[0])  # the first crop and flips are the same: its noise is drawn after them
    assert not torch.equal(x0[0][0], x2[0][0])  # method.batch gives (images, ...): the first crop got noise
