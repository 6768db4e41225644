"""The training loop on a tiny synthetic data root: real photos with sensor noise, fakes
nearest-upsampled (their NPR residual is exactly zero), so a tiny NPR must separate them."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from conftest import textured
from forenscope.train.config import ConfigError, load_config
from forenscope.train.loop import train

CONFIG = """
name = "npr-test"
family = "npr"
[network]
width = 8
blocks = [1, 1]
[input]
tile = 64
[data]
train_crop = 32
val_crop = 64
real_size = 64
photo_long_side = 128
[[data.sources]]
source = "generated"
generators = ["latent_diffusion"]
[augment]
blur_prob = 0.0
jpeg_prob = 0.0
[train]
seed = 3
steps = STEPS
batch = 16
lr = 3e-3
warmup = 2
val_every = 10
threads = 1
"""


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    (root / "real" / "bsds500").mkdir(parents=True)
    gen = root / "generated_train" / "latent_diffusion"
    gen.mkdir(parents=True)
    rows = []
    for i in range(40):
        Image.fromarray(textured(96, 128, seed=i, noise=6.0)).save(root / "real" / "bsds500" / f"{i}.png")
        small = textured(48, 48, seed=1000 + i, noise=6.0)
        Image.fromarray(small.repeat(2, 0).repeat(2, 1)).save(gen / f"ld_{i}.png")
        rows.append({"file": f"latent_diffusion/ld_{i}.png", "generator": "LDM", "prompt_slug": f"p{i}"})
    with open(root / "generated_train" / "manifest.tsv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["file", "generator", "prompt_slug"], delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    return root


def _config(tmp_path, steps):
    path = tmp_path / f"c{steps}.toml"
    path.write_text(CONFIG.replace("STEPS", str(steps)))
    return load_config(path)


def test_tiny_npr_learns_the_nearest_upsampling_trace(tiny_root, tmp_path):
    card = train(_config(tmp_path, 40), tmp_path / "run", tiny_root, tmp_path, log=lambda m: None)
    assert card["metrics"]["validation"]["ap"] > 0.9
    assert (tmp_path / "run" / "model.safetensors").is_file()
    saved = json.loads((tmp_path / "run" / "card.json").read_text())
    assert saved["threshold"] == card["threshold"] and saved["family"] == "npr"
    assert len(saved["weights_sha256"]) == 64


def test_interrupted_and_resumed_run_equals_uninterrupted(tiny_root, tmp_path):
    cfg = _config(tmp_path, 20)
    train(cfg, tmp_path / "full", tiny_root, tmp_path, log=lambda m: None)
    assert train(cfg, tmp_path / "cut", tiny_root, tmp_path, log=lambda m: None, stop_after=10) is None
    assert json.loads((tmp_path / "cut" / "state.json").read_text())["step"] == 10
    train(cfg, tmp_path / "cut", tiny_root, tmp_path, log=lambda m: None)
    a = load_file(tmp_path / "full" / "last.safetensors")
    b = load_file(tmp_path / "cut" / "last.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-6), k


def test_resume_refuses_a_different_config(tiny_root, tmp_path):
    train(_config(tmp_path, 10), tmp_path / "run", tiny_root, tmp_path, log=lambda m: None)
    with pytest.raises(ValueError, match="different config"):
        train(_config(tmp_path, 12), tmp_path / "run", tiny_root, tmp_path, log=lambda m: None)


def test_config_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.replace("STEPS", "5").replace("lr = 3e-3", "learning_rate = 3e-3"))
    with pytest.raises(ConfigError, match="learning_rate"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config"):
        load_config(tmp_path / "missing.toml")


def test_data_manifest_follows_file_content(tiny_root, tmp_path):
    from forenscope.data.sources import build_units
    from forenscope.train.loop import data_manifest

    spec = {"source": "generated", "generators": ["latent_diffusion"]}
    units = build_units(spec, "train", tiny_root, tmp_path)
    before = data_manifest(units, tiny_root, tmp_path)
    assert before == data_manifest(units, tiny_root, tmp_path)
    target = Path(units[0].fake.where)
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"\0")  # same name, different content
        assert data_manifest(units, tiny_root, tmp_path) != before
    finally:
        target.write_bytes(original)
