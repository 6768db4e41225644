"""Calibrated scores: Platt scaling recovers a known miscalibration, ECE is what its definition
says, a card's calibration changes scores but never labels, and a tiny run ships its figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import noisy_photo, tiny_forgeries, tiny_generated_train
from forenscope.analysis import Analysis
from forenscope.detectors.base import Detector
from forenscope.detectors.registry import register_detector
from forenscope.detectors.calibration import calibrate, uncalibrate
from forenscope.evaluate.calibration import CalibrationError, ece, fit_platt, reliability


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_platt_recovers_a_known_miscalibration():
    """Labels drawn with P(y=1) = sigmoid(z); the detector reports sigmoid((z - 1) / 2), so the
    true map back is a = 2, b = 1. The fit finds it and removes the calibration error."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2.5, 40_000)
    y = (rng.random(z.size) < _sigmoid(z)).astype(int)
    raw = _sigmoid((z - 1) / 2)
    cal = fit_platt(y, raw)
    assert cal["a"] == pytest.approx(2.0, abs=0.08) and cal["b"] == pytest.approx(1.0, abs=0.08)
    p = np.array([calibrate(cal, s) for s in raw])
    assert ece(y, raw, 10) > 0.08 and ece(y, p, 10) < 0.01


def test_a_detector_ranking_the_classes_backwards_is_refused():
    y = np.r_[np.zeros(50), np.ones(50)]
    with pytest.raises(CalibrationError, match="slope"):
        fit_platt(y, np.r_[np.full(50, 0.8), np.full(50, 0.2)] + np.linspace(0, 0.01, 100))
    with pytest.raises(CalibrationError, match="both classes"):
        fit_platt(np.zeros(10), np.linspace(0.1, 0.9, 10))


def test_ece_by_hand():
    """Two bins: [0.1, 0.1, 0.1, 0.1] with 1 positive (rate 0.25) and [0.9, 0.9] with 2 (1.0):
    ECE = (4 * 0.15 + 2 * 0.1) / 6."""
    y = [0, 0, 0, 1, 1, 1]
    p = [0.1, 0.1, 0.1, 0.1, 0.9, 0.9]
    assert ece(y, p, 10) == pytest.approx((4 * 0.15 + 2 * 0.1) / 6)
    bins = reliability(y, p, 10)
    assert [b["n"] for b in bins] == [4, 2] and bins[0]["positive_rate"] == 0.25
    assert ece([0, 1], [1.0, 1.0], 10) == pytest.approx(0.5)  # p = 1 falls in the last bin


def test_calibration_map_is_monotone_and_invertible():
    cal = {"a": 0.7, "b": -1.3}
    raw = np.linspace(0.001, 0.999, 200)
    p = np.array([calibrate(cal, s) for s in raw])
    assert np.all(np.diff(p) > 0)
    assert np.allclose([uncalibrate(cal, q) for q in p], raw, atol=1e-9)


def test_card_calibration_changes_scores_never_labels(monkeypatch):
    """A card with a calibration: load_detector reports calibrated probabilities, keeps the raw
    score in extras, maps the threshold, and takes a user threshold on the calibrated scale;
    other parameters (which change raw scores) leave the detector uncalibrated."""
    from forenscope.detectors import base, registry

    card = dict(base.load_card("noise"), calibration={"method": "platt", "a": 0.5, "b": 0.4})
    monkeypatch.setattr(base, "load_card", lambda name: card if name == "noise" else None)
    monkeypatch.setattr(registry, "load_card", lambda name: card if name == "noise" else None)

    raw_det = registry.load_detector("noise", calibrated=False)
    det = registry.load_detector("noise")
    assert det.threshold == pytest.approx(calibrate(card["calibration"], card["threshold"]))
    assert det.raw_threshold == pytest.approx(card["threshold"])
    images = [noisy_photo(96, 128, seed) for seed in range(4)]
    images[1][20:60, 30:80] = np.random.default_rng(1).integers(0, 255, (40, 50, 3))  # a noisier patch
    for img in images:
        a, r = det.analyze(img), raw_det.analyze(img)
        assert a.extras["raw_score"] == pytest.approx(r.score)
        assert a.score == pytest.approx(calibrate(card["calibration"], r.score))
        assert a.label == r.label and np.array_equal(a.mask, r.mask)
    assert registry.load_detector("noise", threshold=0.6).raw_threshold == pytest.approx(
        uncalibrate(card["calibration"], 0.6))
    assert registry.load_detector("noise", z_half=4.0).calibration is None
    card["calibration"] = {"method": None, "not_calibrated": "the fitted slope is -0.1 <= 0"}
    assert registry.load_detector("noise").calibration is None  # recorded why, scores stay raw


class _Upsampled(Detector):
    """Score = share of pixels equal to their right neighbour: high on the tiny world's
    nearest-upsampled fakes, ~0 on its noisy photos."""

    def _analyze(self, rgb, meta):
        score = float((rgb[:, 1:] == rgb[:, :-1]).all(-1).mean())
        return Analysis(self.name, self.task, score, self.label_for(score))


class _Backwards(_Upsampled):
    def _analyze(self, rgb, meta):
        a = super()._analyze(rgb, meta)
        return Analysis(self.name, self.task, 1 - a.score, self.label_for(1 - a.score))


register_detector("test-upsampled", task="generated")(_Upsampled)
register_detector("test-backwards", task="generated")(_Backwards)


def test_tiny_calibration_run_writes_figures_and_ships_them(tmp_path):
    import shutil

    from forenscope.detectors.base import weights_dir
    from forenscope.evaluate.calibration import load_config, run_calibration, ship

    data, forgeries = tiny_forgeries(tmp_path, ("splice",), {"train": 0, "val": 2, "test": 2})
    tiny_generated_train(data)
    cfg_file = tmp_path / "cal.toml"
    cfg_file.write_text(f"""
seed = 3
[generated]
detectors = ["test-upsampled", "test-backwards"]
fit_generators = ["latent_diffusion"]
generators = ["latent_diffusion"]
limit = 8
[localize]
detectors = ["noise"]
forgeries = "{forgeries.as_posix()}"
limit = 6
""")
    cfg = load_config(cfg_file)
    result = run_calibration(cfg, tmp_path / "out", data, log=lambda m: None, config_path="cal.toml")
    backwards = result["detectors"]["test-backwards"]
    assert "slope" in backwards["error"]  # reported with its raw figures; the others go on
    assert backwards["test"]["false_positive_rate"] == 1.0 and "ece" not in backwards["test"]
    assert "not calibrated" in (tmp_path / "out" / "results.md").read_text()
    for name in ("test-upsampled", "noise"):
        e = result["detectors"][name]
        assert e["calibration"]["a"] > 0 and 0 < e["threshold"] < 1
        assert e["validation"]["n"] == sum(b["n"] for b in e["validation"]["reliability"])
        assert (tmp_path / "out" / f"{name}.png").stat().st_size > 0
    up = result["detectors"]["test-upsampled"]
    assert up["test"]["true_positive_rate"] == 1.0 and up["test"]["false_positive_rate"] == 0.0
    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(weights_dir() / "noise.json", weights / "noise.json")
    (weights / "test-backwards.json").write_text(json.dumps({"name": "test-backwards", "threshold": 0.5}))
    assert ship(result, "docs/results/calibration", log=lambda m: None, weights=weights) == ["test-backwards", "noise"]
    shipped = json.loads((weights / "noise.json").read_text())["calibration"]
    assert shipped["a"] == result["detectors"]["noise"]["calibration"]["a"]
    assert shipped["reliability_diagram"] == "docs/results/calibration/noise.png"
    raw = json.loads((weights / "test-backwards.json").read_text())["calibration"]
    assert raw["method"] is None and "slope" in raw["not_calibrated"]
    assert raw["test"]["ece_raw"] == backwards["test"]["ece_raw"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[generated]\ndetector = ['npr']\n")
    with pytest.raises(CalibrationError, match="unknown key"):
        load_config(bad)


def test_platt_fit_matches_scikit_learn():
    """The numpy Newton fit is scikit-learn's L2 logistic regression (C = 1) on the logit."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(4)
    raw = rng.uniform(0.01, 0.99, 300)
    y = (rng.random(300) < raw ** 2).astype(int)
    cal = fit_platt(y, raw)
    z = np.log(raw / (1 - raw))[:, None]
    ref = sklearn.LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(z, y)
    assert cal["a"] == pytest.approx(ref.coef_[0, 0], abs=1e-4)
    assert cal["b"] == pytest.approx(ref.intercept_[0], abs=1e-4)


def test_every_committed_training_config_loads():
    """Each configs/*.toml with a `family` loads through the trainer's loader (a `status` key
    once made the research configs unloadable)."""
    import tomllib
    from pathlib import Path

    from forenscope.train.config import load_config

    root = Path(__file__).resolve().parent.parent / "configs"
    trained = [p for p in sorted(root.glob("*.toml")) if "family" in tomllib.loads(p.read_text())]
    assert len(trained) >= 10
    for path in trained:
        cfg = load_config(path)
        assert cfg["name"] and cfg["family"], path
        if cfg["status"]:
            assert cfg["status"] == "research reproduction" and cfg["status_note"], path
    assert {"jlstm", "hlstm", "effunet", "lite-probe"} <= {load_config(p)["name"] for p in trained}


def test_committed_configs_load_and_name_registered_detectors():
    from pathlib import Path

    from forenscope.detectors import available_detectors
    from forenscope.evaluate import robustness
    from forenscope.evaluate.calibration import load_config

    root = Path(__file__).resolve().parent.parent / "configs"
    cal = load_config(root / "calibration.toml")
    short = robustness.load_config(root / "robustness-cards.toml")
    named = set(cal["generated"]["detectors"] + cal["localize"]["detectors"]
                + short["generated"]["detectors"] + short["localize"]["detectors"])
    assert named <= set(available_detectors())
    shipped_cards = {p.stem for p in (root.parent / "src" / "forenscope" / "weights").glob("*.json")}
    assert shipped_cards <= named  # every shipped card gets its calibration and robustness summary
