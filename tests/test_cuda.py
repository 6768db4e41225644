"""The trainer on a GPU: float16 autocast with loss scaling learns what the CPU learns, the
checkpoints hold CPU tensors the CPU detector loads, a stopped CUDA run resumes where it
stopped, and float32 on CUDA stays within tolerance of the CPU. Skipped without CUDA (CI has
none); run on a GPU machine with `pytest tests/test_cuda.py`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from forenscope.train.distributed import current_world
from forenscope.train.generated import train

from test_train import _config, tiny_root  # noqa: F401  (fixture reused)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here; CI has none)")


@pytest.fixture
def on(monkeypatch):
    """on("cuda") / on("cpu"): where the next training runs (the world is cached per process)."""
    def use(device: str) -> None:
        monkeypatch.setenv("FORENSCOPE_DEVICE", "auto" if device == "cuda" else "cpu")
        current_world.cache_clear()
    yield use
    current_world.cache_clear()


def _amp(cfg: dict, enabled: bool) -> dict:
    cfg["train"]["amp"] = enabled
    return cfg


def test_amp_training_on_cuda_learns_and_saves_cpu_weights(tiny_root, tmp_path, on):
    from forenscope.detectors import load_detector

    on("cuda")
    card = train(_config(tmp_path, 40), tmp_path / "run", tiny_root, tmp_path, log=lambda m: None)
    assert card["training"]["hardware"] == {"device": "cuda", "world_size": 1, "amp": True}
    assert card["metrics"]["validation"]["ap"] > 0.9
    weights = load_file(tmp_path / "run" / "model.safetensors")
    assert all(v.device.type == "cpu" and torch.isfinite(v).all() for v in weights.values())
    on("cpu")
    det = load_detector("npr", run=str(tmp_path / "run"), backend="torch")
    fake = np.kron(np.random.default_rng(0).integers(0, 255, (32, 32, 3)), np.ones((2, 2, 1))).astype(np.uint8)
    assert 0.0 <= det.analyze(fake).score <= 1.0


def test_stopped_cuda_run_resumes_to_the_uninterrupted_result(tiny_root, tmp_path, on):
    on("cuda")
    cfg = _amp(_config(tmp_path, 20), False)  # float32: resumption must be exact up to kernels' order
    whole = train(cfg, tmp_path / "whole", tiny_root, tmp_path, log=lambda m: None)
    assert train(cfg, tmp_path / "cut", tiny_root, tmp_path, log=lambda m: None, stop_after=10) is None
    resumed = train(cfg, tmp_path / "cut", tiny_root, tmp_path, log=lambda m: None)
    assert json.loads((tmp_path / "cut" / "state.json").read_text())["step"] == 20
    a, b = load_file(tmp_path / "whole" / "last.safetensors"), load_file(tmp_path / "cut" / "last.safetensors")
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-4), k
    assert abs(whole["metrics"]["validation"]["ap"] - resumed["metrics"]["validation"]["ap"]) < 1e-3


def test_float32_on_cuda_is_within_tolerance_of_the_cpu(tiny_root, tmp_path, on, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # TF32 convolutions round to 10 bits
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    cfg = _amp(_config(tmp_path, 12), False)
    on("cpu")
    cpu = train(cfg, tmp_path / "cpu", tiny_root, tmp_path, log=lambda m: None)
    on("cuda")
    gpu = train(cfg, tmp_path / "gpu", tiny_root, tmp_path, log=lambda m: None)
    assert cpu["training"]["hardware"]["device"] == "cpu" and gpu["training"]["hardware"]["device"] == "cuda"
    a, b = load_file(tmp_path / "cpu" / "last.safetensors"), load_file(tmp_path / "gpu" / "last.safetensors")
    worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert worst < 1e-3, worst
    assert abs(cpu["metrics"]["validation"]["ap"] - gpu["metrics"]["validation"]["ap"]) < 0.02
