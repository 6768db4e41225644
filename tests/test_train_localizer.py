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
from forenscope.train.localize import train_localizer


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
    from forenscope.detectors.localizers import predict_map

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
    one_by_one = predict_map(det.net, family, image, pixels_per_batch=1)
    assert np.allclose(one_by_one, a.heatmap, atol=1e-5)
