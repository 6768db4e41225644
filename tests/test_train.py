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
from forenscope.train.generated import train

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
    from forenscope.train.generated import data_manifest

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


def _rounded(x):
    """``x`` with floats to 6 decimals and wall-clock fields (``*seconds``) left out: a busy
    machine changes those, not the results."""
    if isinstance(x, float):
        return round(x, 6)
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items() if not str(k).endswith("seconds")}
    if isinstance(x, (list, tuple)):
        return [_rounded(v) for v in x]
    return x


def test_holdout_protocol_is_reproducible_and_resumes(tiny_root, tmp_path):
    """A tiny protocol of kind generated: two runs (full width, half width), each tested on its
    own set and on a shared 0_real / 1_fake folder; run twice from scratch, same numbers."""
    from forenscope.benchmarks.benchmark import ProtocolError, load_protocol, run_benchmark

    faces = tiny_root / "faces"
    for sub, up in (("0_real", False), ("1_fake", True)):
        (faces / sub).mkdir(parents=True, exist_ok=True)
        for i in range(6):
            img = textured(32 if up else 64, 32 if up else 64, seed=500 + i, noise=6.0)
            Image.fromarray(img.repeat(2, 0).repeat(2, 1) if up else img).save(faces / sub / f"{i}.png")
    (tmp_path / "p.yaml").write_text("""
name: tiny-holdout
kind: generated
seed: 3
mean_over_runs: true
base:
  family: npr
  network: {width: 8, blocks: [1, 1]}
  input: {tile: 64}
  data: {train_crop: 32, val_crop: 64, real_size: 64, photo_long_side: 128,
         sources: [{source: generated, generators: [latent_diffusion]}]}
  augment: {blur_prob: 0.0, jpeg_prob: 0.0}
  train: {steps: 12, batch: 16, lr: 0.003, warmup: 2, val_every: 6, threads: 1}
runs:
  - {name: wide, tests: [{name: own, sources: [{source: generated, generators: [latent_diffusion]}]}]}
  - {name: narrow, set: {network.width: 4}}
tests:
  - {name: folder, sources: [{source: folder, path: faces}]}
""")
    proto = load_protocol(str(tmp_path / "p.yaml"))
    a = run_benchmark(proto, tmp_path / "a", tiny_root, tmp_path, log=lambda m: None)
    b = run_benchmark(proto, tmp_path / "b", tiny_root, tmp_path, log=lambda m: None)
    # same weights; scores through multi-threaded ONNX Runtime may differ in the last float bits
    # when the machine is busy (its work split changes), so compare to 6 decimals
    assert _rounded(a["runs"]) == _rounded(b["runs"]) and _rounded(a["mean"]) == _rounded(b["mean"])
    assert set(a["runs"]["wide"]["tests"]) == {"own", "folder"} and set(a["runs"]["narrow"]["tests"]) == {"folder"}
    assert a["runs"]["wide"]["tests"]["folder"]["n_real"] == 6 == a["runs"]["wide"]["tests"]["folder"]["n_fake"]
    assert a["mean"]["own"]["runs"] == 1 and a["mean"]["folder"]["runs"] == 2
    assert "mean over runs" in (tmp_path / "a" / "results.md").read_text()
    assert (tmp_path / "a" / "results.png").stat().st_size > 0
    logs = []
    run_benchmark(proto, tmp_path / "a", tiny_root, tmp_path, log=logs.append)
    assert sum("reusing" in m for m in logs) == 2
    (tmp_path / "bad.yaml").write_text((tmp_path / "p.yaml").read_text().replace("network.width", "network.widht")
                                       .replace("name: narrow", "name: wide"))
    with pytest.raises(ProtocolError, match="distinct"):
        load_protocol(str(tmp_path / "bad.yaml"))


def test_cifake_categories_come_from_the_file_name(tmp_path):
    import zipfile

    from forenscope.data.sources import SourceError, build_units, cifake_category

    assert cifake_category("0_real/0001.jpg") == "airplane"
    assert cifake_category("1_fake/0042 (3).jpg") == "bird"
    assert cifake_category("0_real/0007 (10).jpg") == "truck"
    buf = __import__("io").BytesIO()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buf, "JPEG")
    with zipfile.ZipFile(tmp_path / "cifake_subset.zip", "w") as z:
        for label in ("0_real", "1_fake"):
            for i in range(40):
                z.writestr(f"{label}/{i:04d}{'' if i % 2 else ' (4)'}.jpg", buf.getvalue())
    units = [u for s in ("train", "val", "test")
             for u in build_units({"source": "cifake", "categories": ["cat"]}, s, tmp_path, tmp_path)]
    assert 10 < len(units) <= 20 and {u.group for u in units} == {"cat"}  # pairs within each split
    assert all("(4)" in u.real.where and "(4)" in u.fake.where for u in units)
    capped = build_units({"source": "cifake", "categories": ["cat", "airplane"], "per_category": 2}, "train",
                         tmp_path, tmp_path)
    assert [u.group for u in capped] == ["cat", "cat", "airplane", "airplane"]
    with pytest.raises(SourceError, match="unknown CIFAKE category"):
        build_units({"source": "cifake", "categories": ["sheep"]}, "train", tmp_path, tmp_path)


def test_image_cache_enlarges_small_images_to_min_side(tmp_path):
    from forenscope.data.sources import ImageCache, Ref

    Image.fromarray(textured(32, 40, seed=1)).save(tmp_path / "small.png")
    Image.fromarray(textured(100, 90, seed=2)).save(tmp_path / "big.png")
    cache = ImageCache(tmp_path, "train", min_side=64)
    assert cache.get(Ref("file", str(tmp_path / "small.png"))).shape == (64, 80, 3)
    assert cache.get(Ref("file", str(tmp_path / "big.png"))).shape == (100, 90, 3)


def test_suite_augmentations_are_off_by_default_and_keep_old_runs_recognised(tmp_path):
    """The rescale / noise steps draw nothing when off (older configs give the same pixels and
    the same config hash as before they existed); when on, they rescale and add noise."""
    from forenscope.data.augment import augment
    from forenscope.train.config import NEUTRAL, config_hash

    img = textured(64, 64, seed=1)
    a = augment(img, np.random.default_rng(7), blur_prob=0.5, jpeg_prob=0.5)
    b = augment(img, np.random.default_rng(7), blur_prob=0.5, jpeg_prob=0.5, resize_prob=0.0, noise_prob=0.0)
    assert np.array_equal(a, b)
    info: dict = {}
    c = augment(img, np.random.default_rng(7), blur_prob=0, jpeg_prob=0, resize_prob=1.0, resize_scale=(1.5, 1.5),
                noise_prob=1.0, noise_sigma=(4.0, 4.0), info=info)
    assert c.shape == (96, 96, 3) and info["resize_scale"] == 1.5 and info["noise_sigma"] == 4.0

    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('name = "x"\nfamily = "npr"\n[[data.sources]]\nsource = "generated"\n')
    cfg = load_config(cfg_file)
    older = json.loads(json.dumps(cfg))
    for table, key in NEUTRAL:
        older.get(table, {}).pop(key, None)
    for key in ("status", "status_note"):
        older.pop(key)
    assert config_hash(cfg) == config_hash(older)
    assert config_hash(cfg | {"status_note": "documentation only"}) == config_hash(cfg)
    cfg["augment"]["resize_prob"] = 0.2
    assert config_hash(cfg) != config_hash(older)
