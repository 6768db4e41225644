"""The perturbation suite: each perturbation does what it says (and moves masks with pixels);
a tiny suite on a tiny world gives the same numbers twice."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import noisy_photo, textured, tiny_forgeries, tiny_generated_train
from forenscope.data.perturb import PERTURBATIONS, perturb


def _marked(h=120, w=160):
    """An image whose mask can be read back from its pixels: red square = manipulated."""
    rgb = textured(h, w, seed=3)
    rgb[30:70, 50:110] = (250, 0, 0)
    mask = np.zeros((h, w), bool)
    mask[30:70, 50:110] = True
    return rgb, mask


@pytest.mark.parametrize("name,strength", [("resize-bilinear", 0.5), ("resize-bicubic", 1.5),
                                           ("resize-area", 0.75), ("crop", 0.6)])
def test_geometric_perturbations_move_the_mask_with_the_pixels(name, strength):
    rgb, mask = _marked()
    out, m = perturb(name, rgb, mask, strength, np.random.default_rng(0))
    assert out.shape[:2] == m.shape
    side = (round(120 * strength), round(160 * strength))
    assert out.shape[:2] == side if name != "crop" else out.shape[:2] == (72, 96)
    red = (out[..., 0] > 200) & (out[..., 1] < 60)
    inner = m & ~(m ^ np.roll(m, 2, 0)) & ~(m ^ np.roll(m, -2, 1))  # away from the square's edge
    assert red[inner].mean() > 0.95 and m[red].mean() > 0.9


def test_pixel_perturbations_keep_size_and_change_pixels():
    rgb, mask = _marked()
    rng = np.random.default_rng(0)
    for name, s in (("jpeg", 50), ("webp", 50), ("blur", 1.0), ("noise", 5), ("gamma", 1.4), ("contrast", 0.7)):
        out, m = perturb(name, rgb, mask, s, rng)
        assert out.shape == rgb.shape and out.dtype == np.uint8 and m is mask, name
        assert np.abs(out.astype(int) - rgb).mean() > 0.5, name
    noisy, _ = perturb("noise", rgb, None, 10, np.random.default_rng(1))
    assert 8 < np.std(noisy.astype(float) - rgb) < 11  # sigma 10, less where clipped


def test_social_chain_shrinks_large_images_only():
    rng = np.random.default_rng(0)
    big = np.zeros((1500, 3000, 3), np.uint8)
    out, _ = perturb("social", big, None, 1, rng)
    assert 1080 <= max(out.shape[:2]) <= 2048
    small = noisy_photo(200, 300, 1)
    out, _ = perturb("social", small, None, 1, rng)
    assert out.shape == small.shape and not np.array_equal(out, small)  # JPEG, not resized
    with pytest.raises(ValueError, match="did you mean 'blur'"):
        perturb("blurr", small, None, 1, rng)
    assert set(PERTURBATIONS) >= {"jpeg", "webp", "crop", "blur", "noise", "gamma", "contrast", "social"}


def test_tiny_suite_is_reproducible(tmp_path):
    """Localisation with the noise detector on tiny forgeries; generated with npr on a tiny
    generated_train; twice from scratch, the same numbers."""
    from forenscope.evaluate.robustness import load_config, run_robustness

    data, forgeries = tiny_forgeries(tmp_path, ("splice",), {"train": 0, "val": 0, "test": 2})
    tiny_generated_train(data)
    cfg_file = tmp_path / "suite.toml"
    cfg_file.write_text(f"""
seed = 5
[generated]
detectors = ["npr"]
generators = ["latent_diffusion"]
limit = 6
[localize]
detectors = ["noise"]
forgeries = "{forgeries.as_posix()}"
limit = 3
[[perturbation]]
name = "jpeg"
strengths = [90, 50]
[[perturbation]]
name = "crop"
strengths = [0.7]
""")
    cfg = load_config(cfg_file)
    a = run_robustness(cfg, tmp_path / "a", data, log=lambda m: None)
    b = run_robustness(cfg, tmp_path / "b", data, log=lambda m: None)
    assert a["generated"] == b["generated"] and a["localize"] == b["localize"]
    assert list(a["localize"]["noise"]) == ["none", "jpeg@90", "jpeg@50", "crop@0.7"]
    assert set(a["generated"]["npr"]["jpeg@50"]) >= {"ap", "acc"}
    assert (tmp_path / "a" / "curves.png").stat().st_size > 0
    import json
    import shutil

    from forenscope.detectors.base import weights_dir
    from forenscope.evaluate.robustness import ship

    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(weights_dir() / "noise.json", weights / "noise.json")
    assert ship(a, "docs/results/x", log=lambda m: None, weights=weights) == ["noise"]  # npr: no card here
    summary = json.loads((weights / "noise.json").read_text())["robustness"]["localize"]
    values = {k: v["mean_pixel_f1"] for k, v in a["localize"]["noise"].items()}
    worst = min((k for k in values if k != "none"), key=values.get)
    assert summary["unperturbed"] == values["none"] and summary["worst"] == {"perturbation": worst, "mean_pixel_f1": values[worst]}
    assert summary["source"] == "docs/results/x/results.json" and summary["points"] == 4
    bad = tmp_path / "bad.toml"
    bad.write_text('[[perturbation]]\nname = "jpg"\nstrengths = [90]\n')
    with pytest.raises(ValueError, match="unknown perturbation"):
        load_config(bad)
    bad.write_text('[localize]\nforgery = "work/x"\n')  # a typo of `forgeries` must not fall back to the default
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['forgery'\] in \[localize\]"):
        load_config(bad)
