"""The 3-class triage trainer and the cooc3 detector on a tiny synthetic world: forgeries from
noisy photos, "generated" images with a known trace (nearest-neighbour upsampling leaves
chroma edges only on a 2-pixel grid), processed like the forgeries."""

from __future__ import annotations

import copy
import json

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import noisy_photo, tiny_forgeries
from forenscope.detectors import load_detector
from forenscope.train.config import TRIAGE_DEFAULTS, _merge
from forenscope.train.triage import CLASSES, train_triage


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    data, forgeries = tiny_forgeries(tmp_path_factory.mktemp("triage"), ("splice",),
                                     {"train": 1, "val": 1, "test": 1})
    gen = data / "generated_train" / "latent_diffusion"
    gen.mkdir(parents=True)
    lines = ["file\tprompt_slug"]
    rng = np.random.default_rng(0)
    for i in range(60):
        small = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
        cv2.imwrite(str(gen / f"g{i}.png"), cv2.resize(small, (128, 128), interpolation=cv2.INTER_NEAREST))
        lines.append(f"latent_diffusion/g{i}.png\tprompt-{i}")
    (data / "generated_train" / "manifest.tsv").write_text("\n".join(lines) + "\n")
    return data, forgeries


def tiny(forgeries, steps=40) -> dict:
    return _merge(TRIAGE_DEFAULTS, {
        "name": "cooc3-test", "family": "cooc",
        "network": {"width": 0.125, "block5": False, "block6_convs": 1},
        "input": {"levels": 32},
        "data": {"forgeries": str(forgeries), "tampered_kinds": ["splice"], "generated_variants": 2, "authentic_variants": 1},
        "train": {"steps": steps, "batch": 12, "lr": 2e-3, "warmup": 5, "val_every": 20, "threads": 2},
    }, "")


def test_learns_the_generated_trace_and_loads_as_detector(world, tmp_path):
    data, forgeries = world
    card = train_triage(tiny(forgeries), tmp_path / "run", data, log=lambda m: None)
    val = card["metrics"]["validation"]
    assert card["task"] == "triage" and card["classes"] == list(CLASSES)
    assert val["recall"]["generated"] > 0.8, val  # nearest-upsampled: an easy, known trace
    det = load_detector("cooc3", run=str(tmp_path / "run"))
    a = det.analyze(noisy_photo(90, 110, 77))
    probs = a.extras["probabilities"]
    assert set(probs) == set(CLASSES) and abs(sum(probs.values()) - 1) < 1e-4
    assert a.label in CLASSES and abs(a.score - (1 - probs["authentic"])) < 1e-4


def test_resume_equals_uninterrupted(world, tmp_path):
    data, forgeries = world
    cfg = tiny(forgeries, steps=6)
    cfg["train"]["val_every"] = 3
    train_triage(copy.deepcopy(cfg), tmp_path / "a", data, log=lambda m: None)
    assert train_triage(copy.deepcopy(cfg), tmp_path / "b", data, log=lambda m: None, stop_after=3) is None
    train_triage(copy.deepcopy(cfg), tmp_path / "b", data, log=lambda m: None)
    wa, wb = load_file(tmp_path / "a" / "last.safetensors"), load_file(tmp_path / "b" / "last.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_benchmark_protocol_is_reproducible(world, tmp_path):
    """A tiny protocol run twice from scratch gives the same numbers; a rerun reuses its model."""
    import json

    from forenscope.benchmarks.benchmark import ProtocolError, load_protocol, run_benchmark

    data, forgeries = world
    (tmp_path / "tiny.yaml").write_text("""
name: tiny
kind: triage
seed: 3
title: tiny
train:
  family: cooc
  network: {width: 0.125, block5: false, block6_convs: 1}
  input: {levels: 32}
  data: {tampered_kinds: [splice], generated_variants: 1}
  train: {steps: 8, batch: 12, val_every: 4, warmup: 2, threads: 2}
tests:
  - name: held-in
    sources:
      - {source: forgeries, split: test, kinds: [authentic, splice]}
      - {source: generated, split: test, generators: [latent_diffusion]}
  - name: authentic only
    sources:
      - {source: forgeries, split: val, kinds: [authentic]}
""")
    proto = load_protocol(str(tmp_path / "tiny.yaml"))
    a = run_benchmark(proto, tmp_path / "a", data, forgeries, log=lambda m: None)
    b = run_benchmark(proto, tmp_path / "b", data, forgeries, log=lambda m: None)
    assert a["metrics"] == b["metrics"] and a["model"]["weights_sha256"] == b["model"]["weights_sha256"]
    held = a["metrics"]["held-in"]
    assert held["support"][1] > 0 and held["support"][2] > 0 and held["images"] == sum(held["support"])
    assert set(a["metrics"]["authentic only"]["recall"]) == {"authentic"}
    for f in ("results.json", "results.md", "results.png"):
        assert (tmp_path / "a" / f).stat().st_size > 0
    logs = []
    run_benchmark(proto, tmp_path / "a", data, forgeries, log=logs.append)
    assert any("reusing" in m for m in logs)
    assert json.loads((tmp_path / "a" / "results.json").read_text())["metrics"] == a["metrics"]
    with pytest.raises(ProtocolError, match="did you mean 'case1'"):
        load_protocol("cas1")


def _tiny_cvip(data):
    """A CVIP-shaped folder: originals im1, im2; forgeries im1_t..im4_t (im1_t from im1)."""
    root = data / "copymove_cvip"
    for sub in ("forged", "masks", "original"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for n in (1, 2):
        cv2.imwrite(str(root / "original" / f"im{n}.png"), noisy_photo(70, 90, 300 + n))
    for n in range(1, 5):
        img = noisy_photo(70, 90, 300 + n)
        img[10:30, 50:70] = img[35:55, 5:25]  # a plain pasted copy, as CVIP's
        cv2.imwrite(str(root / "forged" / f"im{n}_t.png"), img)
    return root


def test_cvip_halves_keep_each_original_with_its_forgery(world, tmp_path):
    from forenscope.train.triage import cvip_items, item_pixels

    data, _ = world
    _tiny_cvip(data)
    odd = cvip_items(data, "odd")
    assert sorted((it.path.name, it.label) for it in odd) == [("im1.png", 0), ("im1_t.png", 1), ("im3_t.png", 1)]
    assert sorted(it.path.name for it in cvip_items(data, "even")) == ["im2.png", "im2_t.png", "im4_t.png"]
    variants = [it for it in cvip_items(data, "all", variants=8) if it.path.name == "im1.png"]
    pixels = [item_pixels(it, None, 0) for it in variants]
    assert len({p.tobytes() for p in pixels}) == 8  # the 8 rotations / mirrors of a noisy image differ
    assert {p.shape[:2] for p in pixels} == {(70, 90), (90, 70)}
    with pytest.raises(ValueError, match="odd, even or all"):
        cvip_items(data, "left")


def test_finetune_protocol_cross_evaluates_and_is_reproducible(world, tmp_path):
    """Pretrain (tiny), fine-tune on each CVIP half, test each half with the model that did not
    see it: rows per (test, model), same numbers twice, fine-tunes reused on a rerun."""
    from forenscope.benchmarks.benchmark import load_protocol, run_benchmark

    data, forgeries = world
    _tiny_cvip(data)
    (tmp_path / "ft.yaml").write_text("""
name: tiny-ft
kind: triage
seed: 3
train:
  family: cooc
  network: {width: 0.125, block5: false, block6_convs: 1}
  input: {levels: 32}
  data: {tampered_kinds: [splice], generated_variants: 1}
  train: {steps: 6, batch: 12, val_every: 3, warmup: 2, threads: 2}
finetune:
  steps: 4
  lr: 0.001
  batch: 12
  variants: 2
  runs:
    - {name: on odd, sources: [{source: cvip, half: odd}]}
    - {name: on even, sources: [{source: cvip, half: even}]}
tests:
  - {name: odd, models: [pretrained, on even], sources: [{source: cvip, half: odd}]}
  - {name: even, models: [on odd], sources: [{source: cvip, half: even}]}
""")
    proto = load_protocol(str(tmp_path / "ft.yaml"))
    a = run_benchmark(proto, tmp_path / "a", data, forgeries, log=lambda m: None)
    assert list(a["metrics"]) == ["odd · pretrained", "odd · on even", "even · on odd"]
    assert a["metrics"]["odd · on even"]["support"] == [1, 2, 0]
    ft = tmp_path / "a" / "model" / "finetune" / "tiny-ft"
    cards = [json.loads((ft / n / "card.json").read_text()) for n in ("on-odd", "on-even")]
    assert all(c["training"]["steps_run"] == 4 and c["training"]["train_generated"] > 0 for c in cards)
    assert cards[0]["weights_sha256"] != cards[1]["weights_sha256"]
    b = run_benchmark(proto, tmp_path / "b", data, forgeries, log=lambda m: None)
    assert a["metrics"] == b["metrics"]
    logs = []
    run_benchmark(proto, tmp_path / "a", data, forgeries, log=logs.append)
    assert sum("reusing" in m for m in logs) == 3


def test_every_shipped_protocol_loads_and_names_valid_views():
    """A typo in a shipped protocol (a fusion of a row that is not there, a view that does not
    exist) fails here, not an hour into a benchmark run."""
    from forenscope.benchmarks.benchmark import load_protocol, protocol_names
    from forenscope.train.probe_features import network_views

    names = protocol_names()
    assert "generator-holdout-fast" in names
    for name in names:
        proto = load_protocol(name)
        for m in proto.get("methods", []) if proto["kind"] == "families" else []:
            if m["kind"] == "probe":
                assert network_views(m), (name, m["name"])
