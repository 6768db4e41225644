import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import forenscope
from conftest import jpeg_roundtrip, textured
from forenscope.analysis import Analysis
from forenscope.detectors import Detector, UnknownDetectorError, load_detector, register_detector
from forenscope.evaluate.metrics import pixel_auc, pixel_f1_at

CLASSICAL = ["ela", "noise", "jpeg-ghost"]


def raw_score(a: Analysis) -> float:
    """The detector's own score (shipped detectors report it calibrated when their card says how)."""
    return a.extras.get("raw_score", a.score)


def square_mask(h, w, top, left, size):
    m = np.zeros((h, w), bool)
    m[top:top + size, left:left + size] = True
    return m


@pytest.mark.parametrize("name", CLASSICAL)
@pytest.mark.parametrize("shape", [(96, 128), (97, 131), (7, 5)])
def test_contract_shapes_ranges_determinism(name, shape):
    img = textured(*shape, seed=3)
    a = forenscope.analyze(img, detector=name)
    assert isinstance(a, Analysis) and a.detector == name and a.task == "localize"
    assert a.heatmap.shape == shape and a.heatmap.dtype == np.float32
    assert 0.0 <= a.heatmap.min() and a.heatmap.max() <= 1.0 and 0.0 <= a.score <= 1.0
    assert np.array_equal(a.mask, a.heatmap >= 0.5)
    assert a.label in ("authentic", "tampered")
    b = load_detector(name).analyze(img)
    assert np.array_equal(a.heatmap, b.heatmap) and a.score == b.score


@pytest.mark.parametrize("name", CLASSICAL)
def test_constant_image_has_no_evidence(name):
    a = forenscope.analyze(np.full((64, 64, 3), 128, np.uint8), detector=name)
    assert raw_score(a) == 0.0 and not a.mask.any() and a.label == "authentic"


def test_noise_finds_a_noisier_paste():
    rng = np.random.default_rng(1)
    img = textured(192, 192, seed=1, noise=2.0).astype(np.float32)
    truth = square_mask(192, 192, 64, 96, 64)
    img[truth] += rng.normal(0, 10, (truth.sum(), 3))
    a = forenscope.analyze(np.clip(img, 0, 255).astype(np.uint8), detector="noise")
    assert pixel_auc(truth, a.heatmap) > 0.95 and pixel_f1_at(truth, a.heatmap) > 0.6
    clean = forenscope.analyze(textured(192, 192, seed=1, noise=2.0), detector="noise")
    assert raw_score(a) > raw_score(clean) + 0.2


def test_label_follows_the_card_threshold():
    """On the raw scale exactly; on the calibrated scale (the default) up to the round trip of
    the threshold through the calibration map."""
    det = load_detector("noise", calibrated=False)
    assert det.threshold == det.card["threshold"] == pytest.approx(load_detector("noise").raw_threshold)
    img = textured(64, 64, seed=9)
    score = det.analyze(img).score
    assert load_detector("noise", calibrated=False, threshold=score).analyze(img).label == "tampered"
    assert load_detector("noise", calibrated=False, threshold=score + 1e-6).analyze(img).label == "authentic"
    p = load_detector("noise").analyze(img).score
    assert load_detector("noise", threshold=p - 1e-6).analyze(img).label == "tampered"
    assert load_detector("noise", threshold=p + 1e-6).analyze(img).label == "authentic"


def test_noise_finds_a_smoothed_region_too():
    import cv2
    fine = textured(24, 24, seed=2, noise=0.0)  # blobs a few pixels wide: texture that survives a blur
    img = textured(192, 192, seed=2, noise=4.0) // 2 + np.kron(fine, np.ones((8, 8, 1), np.uint8)) // 2
    truth = square_mask(192, 192, 48, 48, 64)
    blurred = cv2.GaussianBlur(img, (0, 0), 2.0)
    img[truth] = blurred[truth]
    a = forenscope.analyze(img, detector="noise")
    assert pixel_auc(truth, a.heatmap) > 0.9


def test_ela_finds_an_uncompressed_paste_in_a_jpeg():
    base = jpeg_roundtrip(textured(192, 192, seed=4, noise=3.0), 75).copy()
    paste = textured(192, 192, seed=5, noise=3.0)  # never compressed
    truth = square_mask(192, 192, 64, 64, 64)
    base[truth] = paste[truth]
    a = forenscope.analyze(base, detector="ela")
    assert pixel_auc(truth, a.heatmap) > 0.95 and pixel_f1_at(truth, a.heatmap) > 0.6
    assert a.extras["quality"] == 90
    assert forenscope.analyze(base, detector="ela", quality=80).extras["quality"] == 80


def test_jpeg_ghost_finds_a_region_once_saved_at_lower_quality():
    pristine = textured(256, 256, seed=6, noise=3.0)
    truth = square_mask(256, 256, 64, 128, 96)  # grid-aligned, as Farid's ghosts need
    img = pristine.copy()
    img[truth] = jpeg_roundtrip(pristine, 60)[truth]
    a = forenscope.analyze(img, detector="jpeg-ghost")
    assert pixel_auc(truth, a.heatmap) > 0.9 and pixel_f1_at(truth, a.heatmap) > 0.5
    assert a.extras["ghost_quality"] == 60


def test_bad_detector_options_are_clear():
    with pytest.raises(ValueError, match="quality"):
        load_detector("ela", quality=150)
    with pytest.raises(TypeError):
        load_detector("noise", colour="red")


# ---------------------------------------------------------------- registry

def test_did_you_mean():
    with pytest.raises(UnknownDetectorError) as e:
        load_detector("nosie")
    assert "Did you mean 'noise'" in str(e.value) and "Available:" in str(e.value)
    with pytest.raises(UnknownDetectorError) as e:
        load_detector("zzzzzz")
    assert "Did you mean" not in str(e.value)


def test_builtins_are_imported_lazily():
    code = ("import sys, forenscope; a = 'forenscope.detectors.jpeg_ghost' in sys.modules; "
            "forenscope.load_detector('jpeg-ghost'); print(a, 'forenscope.detectors.jpeg_ghost' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_register_a_custom_detector():
    @register_detector("test-brightness", task="tampered")
    class Brightness(Detector):
        def _analyze(self, rgb, meta):
            score = float(rgb.mean() / 255.0)
            return Analysis(self.name, self.task, score, self.label_for(score))

    assert "test-brightness" in forenscope.available_detectors()
    assert forenscope.analyze(np.full((4, 4, 3), 255, np.uint8), detector="test-brightness").label == "tampered"
    assert forenscope.describe_detector("test-brightness")["task"] == "tampered"
    with pytest.raises(ValueError, match="already registered"):
        register_detector("test-brightness", task="tampered")(type("Other", (Detector,), {}))


def test_analyze_reads_paths(tmp_path):
    from PIL import Image
    Image.fromarray(textured(40, 40)).save(tmp_path / "a.png")
    a = forenscope.analyze(tmp_path / "a.png", detector="noise")
    assert a.heatmap.shape == (40, 40)
    with pytest.raises(forenscope.ImageError):
        forenscope.analyze(tmp_path / "missing.png")


def test_analysis_validates_itself():
    with pytest.raises(ValueError, match="score"):
        Analysis("x", "tampered", 1.5, "tampered")
    with pytest.raises(ValueError, match="label"):
        Analysis("x", "tampered", 0.5, "fake")
    with pytest.raises(ValueError, match="shape"):
        Analysis("x", "localize", 0.5, "tampered", heatmap=np.zeros((4, 4)), mask=np.zeros((4, 5)))


def test_fully_clipped_image_gives_no_evidence_and_no_warning():
    import warnings
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, 32:] = 255  # black and white halves: nothing measurable anywhere
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = forenscope.analyze(img, detector="noise")
    assert raw_score(a) == 0.0 and a.extras["median_noise_sigma"] is None


def test_classical_thresholds_are_fitted_without_test_photos(tmp_path):
    """Issue 19 (14): thresholds come from the train + validation photos only."""
    import json

    from forenscope.data.splits import REAL_PHOTO_FOLDERS, fitting_photos, split_of

    for i in range(40):
        path = tmp_path / REAL_PHOTO_FOLDERS[i % 4] / f"p{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    chosen = {p.relative_to(tmp_path).as_posix() for p in fitting_photos(tmp_path)}
    every = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")}
    test = {k for k in every if split_of(k) == "test"}
    assert test and chosen == every - test
    cards = Path(__file__).resolve().parent.parent / "src" / "forenscope" / "weights"
    for name in ("ela", "noise", "jpeg-ghost", "copymove-sift"):
        source = json.loads((cards / f"{name}.json").read_text())["threshold_source"]
        assert source["data"]["splits"] == ["train", "val"], name


def test_results_are_written_as_strict_json(tmp_path):
    import json
    import math

    from forenscope.analysis import jsonable
    from forenscope.records import write_json

    extras = {"sigma": np.float32("nan"), "n": np.int64(3), "table": np.arange(4.0), "big": np.zeros(100), "p": tmp_path}
    small = jsonable(extras)  # what a detector's extras become: numbers, null for undefined, big arrays described
    assert small == {"sigma": None, "n": 3, "table": [0.0, 1.0, 2.0, 3.0], "big": "array (100,)", "p": str(tmp_path)}
    text = write_json(tmp_path / "r.json", {"auc": float("inf"), "map": np.ones((2, 2), np.float32)}).read_text()
    assert json.loads(text, parse_constant=lambda c: math.nan) == {"auc": None, "map": [[1.0, 1.0], [1.0, 1.0]]}
