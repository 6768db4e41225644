"""ONNX export of every shipped network, checked against PyTorch; classical detectors refused."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("onnxruntime")

from forenscope.detectors import available_detectors, describe_detector  # noqa: E402
from forenscope.export import export_detector  # noqa: E402

NETWORKS = [n for n in available_detectors() if "family" in describe_detector(n) and "network" in describe_detector(n)]


def test_every_trained_detector_is_covered():
    assert {"npr", "pelee-hpf", "cooc3", "iidnet", "effunet", "hlstm", "jlstm"} <= set(NETWORKS)


@pytest.mark.parametrize("name", NETWORKS)
def test_export_matches_pytorch(name, tmp_path):
    import onnxruntime as ort

    from forenscope.detectors import load_detector

    report = export_detector(name, tmp_path / f"{name}.onnx")
    assert report["passes"] and report["max_abs_diff"] <= 1e-4
    assert json.loads((tmp_path / f"{name}.onnx.json").read_text())["weights_sha256"] == describe_detector(name)["weights_sha256"]
    sess = ort.InferenceSession(str(tmp_path / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == list(report["inputs"])
    det = load_detector(name)  # the same weights the detector analyses with
    assert det.card["weights_sha256"] == report["weights_sha256"]


def test_classical_detectors_have_nothing_to_export(tmp_path):
    with pytest.raises(ValueError, match="no trained network"):
        export_detector("ela", tmp_path / "ela.onnx")
    assert not (tmp_path / "ela.onnx").exists()


@pytest.mark.parametrize("name", ["iidnet", "effunet", "jlstm"])
def test_localisers_give_the_same_map_in_onnx_runtime_and_pytorch(name):
    """Smooth areas and a remainder tile too small for IID-Net's graph (it falls back)."""
    import numpy as np

    from conftest import noisy_photo
    from forenscope.detectors import load_detector

    onnx, torch_ = load_detector(name), load_detector(name, backend="torch")
    assert onnx.backend == "onnx" and torch_.backend == "torch"
    img = noisy_photo(272, 300, 4)
    img[40:200, 30:150] = (120, 130, 140)  # a flat patch
    a, b = onnx.analyze(img), torch_.analyze(img)
    assert np.abs(a.heatmap - b.heatmap).max() < 1e-4 and abs(a.score - b.score) < 1e-5
