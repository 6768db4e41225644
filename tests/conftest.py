import importlib.util
import io
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FORENSCOPE_DATA", REPO.parent / "shared" / "data"))
# The suite's exactness checks (resume, two processes vs one) are CPU facts, also on a machine
# with a GPU; tests/test_cuda.py moves its own runs onto the GPU.
os.environ["FORENSCOPE_DEVICE"] = "cpu"


def load_script(name: str):
    """A module of scripts/ (not a package) by file name, for testing its functions."""
    path = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def textured(h=128, w=160, seed=0, noise=2.0) -> np.ndarray:
    """A natural-ish RGB image: smooth random blobs plus mild sensor-like noise."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(40, 215, (h // 16 + 2, w // 16 + 2, 3)).astype(np.uint8)
    base = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32)
    return np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


def noisy_photo(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth colour gradients plus sensor-like Gaussian noise (a Telea fill removes the noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([110 + 70 * np.sin(3 * xx + seed), 90 + 60 * yy, 100 + 40 * np.cos(5 * xx * yy)], -1)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def tiny_forgeries(tmp: Path, kinds: tuple, per_photo: dict) -> tuple[Path, Path]:
    """24 noisy 144x176 photos in ``tmp/data/real/kodak24`` and forgeries made from them (no
    resize, no JPEG) in ``tmp/forgeries``; returns (data root, forgeries folder)."""
    import cv2

    from forenscope.synth import forgeries as fg

    data = tmp / "data"
    (data / "real" / "kodak24").mkdir(parents=True)
    for i in range(24):
        cv2.imwrite(str(data / "real" / "kodak24" / f"k{i}.png"), noisy_photo(144, 176, i)[..., ::-1])
    cfg = fg.ForgeryConfig(kinds=kinds, per_photo=per_photo, resize_prob=0.0, jpeg={"none": 1.0}, area=(0.08, 0.15))
    fg.synthesize_forgeries(data, tmp / "forgeries", cfg, log=lambda m: None)
    return data, tmp / "forgeries"


def tiny_generated_train(data: Path, n: int = 40, seed: int = 900) -> None:
    """``n`` nearest-upsampled textures as Latent Diffusion outputs in ``data/generated_train``
    (one prompt each, so the prompts fall into every split)."""
    import csv

    gen = data / "generated_train" / "latent_diffusion"
    gen.mkdir(parents=True)
    with open(data / "generated_train" / "manifest.tsv", "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["file", "prompt_slug"])
        for i in range(n):
            Image.fromarray(textured(48, 48, seed=seed + i).repeat(2, 0).repeat(2, 1)).save(gen / f"g{i}.png")
            w.writerow([f"latent_diffusion/g{i}.png", f"p{i}"])


def encode(rgb: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(encode(rgb, "JPEG", quality=quality))).convert("RGB"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set FORENSCOPE_DATA)")
    return SHARED_DATA


def _held_detector():
    """Register ``test-held`` once: an analysis that runs until its test lets it go (at most 30 s),
    so that "analyses in flight" is a number a test knows."""
    from forenscope.analysis import Analysis
    from forenscope.detectors import register_detector
    from forenscope.detectors.base import Detector

    @register_detector("test-held", task="generated")
    class Held(Detector):
        state = SimpleNamespace(release=threading.Event(), started=threading.Semaphore(0))

        def _analyze(self, rgb, meta):
            state = type(self).state  # the state of the test that started it, even if it ends first
            state.started.release()
            state.release.wait(30)
            return Analysis(self.name, self.task, 0.25, "authentic")

    return Held


_HELD = None


@pytest.fixture
def held():
    """Fresh ``started`` (released as each held analysis begins) and ``release`` for this test;
    everything still held is let go at its end."""
    global _HELD
    _HELD = _HELD or _held_detector()
    _HELD.state = state = SimpleNamespace(release=threading.Event(), started=threading.Semaphore(0))
    yield state
    state.release.set()
