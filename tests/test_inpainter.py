"""The learned inpainter (nets/inpainter.py, train/inpainter.py) and its use in synth forgeries."""

import json

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import noisy_photo
from forenscope.nets.inpainter import InpaintNet, coarse_fill, fill
from forenscope.synth import forgeries as fg
from forenscope.synth.inpaint import inpaint, learned_inpainter, learned_weights_path
from forenscope.synth.regions import ellipse_region
from forenscope.train.inpainter import classical_fills, hole_errors, inpaint_loss

CFG = {"loss": {"hole_weight": 6.0, "gradient_weight": 1.0}}


@pytest.mark.parametrize("coarse", ["none", "telea"])
@pytest.mark.parametrize("size", [(37, 50), (64, 64)])
def test_fill_changes_only_the_hole_at_any_size(size, coarse):
    torch.manual_seed(0)
    rgb = noisy_photo(*size, seed=1)
    mask = ellipse_region(size, 0.1, np.random.default_rng(0))
    out = fill(InpaintNet(width=4, coarse=coarse), rgb, mask)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], rgb[~mask])
    assert (out[mask] != rgb[mask]).any()


def test_a_refining_inpainter_starts_from_its_coarse_fill():
    """With the output layer at zero, the refiner returns the coarse (Telea) fill unchanged."""
    rgb = noisy_photo(48, 64, seed=4)
    mask = ellipse_region((48, 64), 0.1, np.random.default_rng(2))
    net = InpaintNet(width=4, coarse="telea")
    torch.nn.init.zeros_(net.out.weight)
    torch.nn.init.zeros_(net.out.bias)
    assert np.array_equal(fill(net, rgb, mask), coarse_fill(rgb, mask))
    with pytest.raises(ValueError, match="coarse"):
        net(torch.rand(1, 3, 48, 64), torch.zeros(1, 1, 48, 64))
    with pytest.raises(ValueError, match="telea"):
        InpaintNet(coarse="patchmatch")


def test_loss_is_zero_for_the_photo_and_weighs_the_hole_more():
    rgb = torch.rand(2, 3, 32, 32)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:20, 8:20] = 1
    target = torch.cat([rgb, mask], 1)
    assert inpaint_loss(rgb, target, CFG).item() == pytest.approx(0.0, abs=1e-7)
    off = torch.full_like(rgb, 0.1)  # a constant offset: the composed image's gradients move only on the hole's edge
    in_hole = inpaint_loss(rgb + off * mask, target, CFG).item()
    outside = inpaint_loss(rgb + off * (1 - mask), target, CFG).item()
    assert in_hole > 5 * outside > 0


def test_classical_baselines_rank_as_expected_on_a_smooth_photo():
    """On a smooth gradient, diffusion fills (Telea, Navier-Stokes) beat a flat ring-mean fill."""
    yy, xx = np.mgrid[0:96, 0:96]
    crop = np.stack([xx * 2, yy * 2, (xx + yy)], -1).clip(0, 255).astype(np.uint8)
    hole = np.zeros((96, 96), bool)
    hole[30:66, 30:66] = True
    err = {k: hole_errors(f, crop[None], hole[None]) for k, f in classical_fills(crop[None], hole[None]).items()}
    assert err["telea"][0] < err["ring-mean"][0] and err["ns"][0] < err["ring-mean"][0]
    assert hole_errors(crop[None], crop[None], hole[None])[0] == 0.0


def test_training_lowers_the_hole_error_and_writes_a_card(tmp_path):
    from forenscope.train.config import INPAINT_DEFAULTS, _merge
    from forenscope.train.inpainter import train_inpainter

    data = tmp_path / "data"
    (data / "real" / "kodak24").mkdir(parents=True)
    for i in range(16):
        cv2.imwrite(str(data / "real" / "kodak24" / f"k{i}.png"), noisy_photo(80, 96, i)[..., ::-1])
    cfg = _merge(INPAINT_DEFAULTS, {"name": "inpainter", "network": {"width": 8},
                                     "data": {"crop": 32, "val_crops": 8, "photo_long_side": 96},
                                     "train": {"steps": 150, "batch": 8, "val_every": 30, "warmup": 1,
                                               "lr": 3e-3, "threads": 1}}, "")
    card = train_inpainter(cfg, tmp_path / "run", data, log=lambda m: None)
    history = json.loads((tmp_path / "run" / "state.json").read_text())["history"]
    assert card["metrics"]["validation"]["hole_mae"] < 0.75 * history[0]["hole_mae"]
    assert set(card["metrics"]["validation"]["baselines"]) == {"telea", "ns", "ring-mean"}
    assert (tmp_path / "run" / "model.safetensors").is_file() and card["task"] == "inpaint"


def test_shipped_inpainter_fills_a_gradient_better_than_a_flat_fill():
    yy, xx = np.mgrid[0:128, 0:160]
    photo = np.stack([40 + xx, 60 + yy, 200 - xx // 2], -1).clip(0, 255).astype(np.uint8)
    hole = ellipse_region(photo.shape[:2], 0.08, np.random.default_rng(3))
    out = inpaint(photo, hole, "learned", np.random.default_rng(0))
    ring_mean = hole_errors(classical_fills(photo[None], hole[None])["ring-mean"], photo[None], hole[None])[0]
    assert hole_errors(out[None], photo[None], hole[None])[0] < 0.5 * ring_mean


def test_learned_kind_is_opt_in_and_recorded():
    assert "inpaint-learned" not in fg.KINDS  # the default sets stay as they were made
    fg.ForgeryConfig(kinds=("inpaint-learned",))
    sample = fg.inpainted(noisy_photo(96, 128, 2), "learned", np.random.default_rng(0))
    assert sample.recipe["kind"] == "inpaint-learned" and sample.recipe["radius"] is None
    with pytest.raises(ValueError, match="inpaint-learned"):
        fg.ForgeryConfig(kinds=("inpaint-leaned",))


def test_synth_without_the_learned_weights_says_how_to_get_them(tmp_path, monkeypatch):
    from forenscope.cli import app
    from forenscope.synth import inpaint as inpaint_module

    data = tmp_path / "data"
    (data / "real" / "kodak24").mkdir(parents=True)
    cv2.imwrite(str(data / "real" / "kodak24" / "k0.png"), noisy_photo(96, 128, 0)[..., ::-1])
    monkeypatch.setattr(inpaint_module, "learned_weights_path", lambda: tmp_path / "none" / "inpainter.safetensors")
    learned_inpainter.cache_clear()
    try:
        result = CliRunner().invoke(app, ["synth", "forgeries", "--kind", "inpaint-learned", "--data", str(data),
                                          "--out", str(tmp_path / "out"), "--no-progress"])
    finally:
        learned_inpainter.cache_clear()
    assert result.exit_code == 2
    assert "configs/inpainter.toml" in result.output
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def test_shipped_inpainter_is_what_its_committed_config_trains():
    from pathlib import Path

    from forenscope.nets.weights import weights_sha256
    from forenscope.train.config import config_hash, load_config

    card = json.loads(learned_weights_path().with_suffix(".json").read_text())
    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / "inpainter.toml")
    assert card["training"]["config_hash"] == config_hash(cfg)
    assert card["weights_sha256"] == weights_sha256(learned_weights_path())
    assert card["network"] == cfg["network"]
    # the card's claim: on the validation holes, better than each classical fill by its own objective
    v = card["metrics"]["validation"]
    assert all(v["objective"] < b["objective"] for b in v["baselines"].values())


def test_feature_distances_vanish_for_the_photo_and_grow_with_a_flat_fill():
    from forenscope.train.inpainter import FeatureDistances

    photo = torch.from_numpy(noisy_photo(64, 64, seed=5)).permute(2, 0, 1)[None].float() / 255
    flat = photo.clone()
    flat[..., 16:48, 16:48] = photo[..., 16:48, 16:48].mean((-1, -2), keepdim=True)
    distances = FeatureDistances()
    assert [d.item() for d in distances(photo, photo)] == [0.0, 0.0]
    perceptual, style = distances(flat, photo)
    assert perceptual.item() > 0 and style.item() > 0
    assert not any(p.requires_grad for p in distances.parameters())  # frozen: only the inpainter learns
