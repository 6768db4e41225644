import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import textured
from forenscope.evaluate.shortcuts import image_features, shortcut_report
from forenscope.nets.decoders import UPSAMPLING_KINDS, Autoencoder
from forenscope.synth.generators import SynthConfig, psnr, synthesize_generators


@pytest.mark.parametrize("kind", UPSAMPLING_KINDS)
def test_decoders_keep_the_size(kind):
    assert Autoencoder(kind, width=8, latent=4)(torch.rand(2, 3, 32, 48)).shape == (2, 3, 32, 48)


def test_unknown_upsampling_is_rejected():
    with pytest.raises(ValueError, match="up-sampling"):
        Autoencoder("cubic")


def test_psnr_known_values():
    a = np.zeros((4, 4, 3), np.uint8)
    assert psnr(a, a) == float("inf")
    assert psnr(a, a + 1) == pytest.approx(10 * np.log10(255**2), rel=1e-9)  # MSE 1 -> 48.13 dB


def test_synth_writes_pairs_split_by_photo_and_resumes(tmp_path):
    root = tmp_path / "data"
    (root / "real" / "kodak24").mkdir(parents=True)
    for i in range(24):
        Image.fromarray(textured(140, 150, seed=i)).save(root / "real" / "kodak24" / f"k{i}.png")
    cfg = SynthConfig(steps=2, batch=2, crop=32, width=8, latent=4, sample_size=128)
    out = tmp_path / "synth"
    logs = []
    report = synthesize_generators(root, out, ["ae-nearest", "gan-nearest"], cfg, log=logs.append)
    rows = [json.loads(l) for l in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == report["pairs"] > 0
    split_of_source = {}
    for r in rows:
        assert split_of_source.setdefault(r["source"], r["split"]) == r["split"]  # never straddles
        real = np.asarray(Image.open(out / r["real"]))
        fake = np.asarray(Image.open(out / r["fake"]))
        assert real.shape == fake.shape and real.shape[0] % 2 == 0 and real.shape[1] % 2 == 0
        assert r["psnr_db"] == pytest.approx(psnr(real, fake), abs=0.01)
        assert 0.25 <= r["scale"] <= 1.0 and r["generator"] in ("ae-nearest", "gan-nearest")
    assert set(report["generators"]) == {"ae-nearest", "gan-nearest"}
    assert "heldout_psnr_db" in report["generators"]["ae-nearest"]
    # run again: decoders are reused, output identical
    synthesize_generators(root, out, ["ae-nearest"], cfg, log=logs.append)
    assert any("reusing" in m for m in logs)


def test_shortcut_report_flags_a_blur_shortcut_and_passes_matched_classes():
    reals = [textured(64, 64, seed=i, noise=8.0) for i in range(60)]
    blurred = [np.asarray(Image.fromarray(r).filter(__import__("PIL.ImageFilter").ImageFilter.GaussianBlur(1.5)))
               for r in reals]
    feats = np.array([image_features(x) for x in reals + blurred])
    labels = np.r_[np.zeros(60), np.ones(60)]
    assert not shortcut_report(feats, labels)["passes"]
    same = np.array([image_features(textured(32, 32, seed=100 + i, noise=8.0)) for i in range(2000)])
    report = shortcut_report(same, np.r_[np.zeros(1000), np.ones(1000)])
    assert report["passes"], report
