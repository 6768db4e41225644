"""Adding a method touches one module and one config (issue 21): the toy localiser of
``toy_method.py`` and the TOML below train through ``forenscope train``, load by name as a
detector from the run, map an image at its exact size, export to ONNX, and list nowhere else."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import noisy_photo, tiny_forgeries

CONFIG = """
name = "toy"
family = "toy"
task = "localize"

[network]
width = 4

[input]
tile = 128

[data]
forgeries = "{forgeries}"
kinds = ["inpaint-telea"]
crop = 64
max_val_images = 12

[train]
steps = 80
batch = 8
lr = 1e-2
warmup = 5
val_every = 40
threads = 2

[calibration]
image_head = false
"""


@pytest.fixture()
def toy(monkeypatch):
    """The toy method registered for this test only (the registries are restored after)."""
    from forenscope import methods
    from forenscope.detectors import registry

    monkeypatch.setattr(methods, "_METHODS", dict(methods._METHODS))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    module = importlib.import_module("toy_method")
    importlib.reload(module)  # registers Toy in this test's registry
    return module


def test_a_method_added_as_one_module_and_one_config(toy, tmp_path):
    from forenscope.cli import app
    from forenscope.detectors import available_detectors, load_detector
    from forenscope.methods import get_method

    forgeries = tiny_forgeries(tmp_path, ("inpaint-telea",), {"train": 3, "val": 1, "test": 1})[1]
    config = tmp_path / "toy.toml"
    config.write_text(CONFIG.format(forgeries=forgeries.as_posix()))
    runner = CliRunner()

    res = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "run" / "card.json").read_text())
    assert card["family"] == "toy" and card["task"] == "localize"
    val = card["metrics"]["validation"]
    assert val["auc_mean_per_image"] > 0.9 and val["f1_mean_per_image"] > 0.6, val  # smooth fills, noisy photos

    assert "toy" in available_detectors() and get_method("toy").task == "localize"
    det = load_detector("toy", run=str(tmp_path / "run"))
    a = det.analyze(noisy_photo(150, 203, 5))
    assert a.heatmap.shape == (150, 203) and a.task == "localize"
    torch_det = load_detector("toy", run=str(tmp_path / "run"), backend="torch")
    assert det.backend == "onnx" and np.allclose(torch_det.analyze(noisy_photo(150, 203, 5)).heatmap, a.heatmap,
                                                 atol=1e-4)

    res = runner.invoke(app, ["train", str(config), "--seed", "7", "--out", str(tmp_path / "run7")])
    assert res.exit_code == 0, res.output  # --seed: the same config under another seed, recorded in the card
    seeded = json.loads((tmp_path / "run7" / "card.json").read_text())["training"]
    assert seeded["config"]["train"]["seed"] == 7 and card["training"]["config"]["train"]["seed"] != 7
    assert seeded["config_hash"] != card["training"]["config_hash"]

    res = runner.invoke(app, ["export", "toy", "--onnx", "--run", str(tmp_path / "run"),
                              "--out", str(tmp_path / "toy.onnx")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "toy.onnx.json").read_text())["passes"]


def test_a_validated_candidate_run_ships_without_training_again(toy, tmp_path, monkeypatch):
    """``train CONFIG --ship --from-run RUN``: a candidate trained under its own name ships as
    CONFIG's model when the two configs differ in the name only; anything else is refused."""
    from forenscope.cli import app
    from forenscope.cli import training

    forgeries = tiny_forgeries(tmp_path, ("inpaint-telea",), {"train": 3, "val": 1, "test": 1})[1]
    short = CONFIG.replace("steps = 80", "steps = 10").format(forgeries=forgeries.as_posix())
    (tmp_path / "candidate.toml").write_text(short.replace('name = "toy"', 'name = "toy-candidate"'))
    (tmp_path / "toy.toml").write_text(short.replace("[train]", "[train]\nseed = 3"))
    runner = CliRunner()
    res = runner.invoke(app, ["train", str(tmp_path / "candidate.toml"), "--seed", "3", "--out", str(tmp_path / "cand")])
    assert res.exit_code == 0, res.output
    shipped = tmp_path / "weights"
    shipped.mkdir()
    monkeypatch.setattr(training, "shipped_weights_dir", lambda task="": shipped)

    res = runner.invoke(app, ["train", str(tmp_path / "toy.toml"), "--ship", "--from-run", str(tmp_path / "cand")])
    assert res.exit_code == 0, res.output
    assert (shipped / "toy.safetensors").read_bytes() == (tmp_path / "cand" / "model.safetensors").read_bytes()
    card, ran = (json.loads(p.read_text()) for p in (shipped / "toy.json", tmp_path / "cand" / "card.json"))
    assert card["name"] == "toy" and card["training"]["config"]["name"] == "toy"
    assert card["training"]["adopted_from"]["name"] == "toy-candidate"
    assert card["metrics"] == ran["metrics"] and card["weights_sha256"] == ran["weights_sha256"]
    from forenscope.train.config import config_hash, load_config
    assert card["training"]["config_hash"] == config_hash(load_config(tmp_path / "toy.toml"))

    # an inference-only setting (mirror averaging) is not a different training: adopted, and the card reads it
    (tmp_path / "toy.toml").write_text(short.replace("[train]", "[train]\nseed = 3").replace("[input]", "[input]\nflip_average = true"))
    res = runner.invoke(app, ["train", str(tmp_path / "toy.toml"), "--ship", "--from-run", str(tmp_path / "cand")])
    assert res.exit_code == 0, res.output
    card = json.loads((shipped / "toy.json").read_text())
    assert card["input"]["flip_average"] is True and card["training"]["config"]["input"]["flip_average"] is True

    (tmp_path / "toy.toml").write_text(short.replace("[train]", "[train]\nseed = 4"))  # another seed: refused
    res = runner.invoke(app, ["train", str(tmp_path / "toy.toml"), "--ship", "--from-run", str(tmp_path / "cand")])
    assert res.exit_code != 0 and "train.seed" in res.output
    res = runner.invoke(app, ["train", str(tmp_path / "toy.toml"), "--from-run", str(tmp_path / "cand")])
    assert res.exit_code == 2 and "--ship" in res.output
