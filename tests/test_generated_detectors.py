import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from conftest import textured
from forenscope.detectors import load_detector
from forenscope.detectors.trained import MissingWeightsError
from forenscope.methods import get_method
from forenscope.methods.classifier import tile_origins


def _run_dir(tmp_path, family, network, colour="rgb", tile=64, max_tiles=4, threshold=0.5):
    torch.manual_seed(0)
    net = get_method(family).build(network)
    for m in net.modules():  # non-trivial BN statistics, as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    save_file(net.state_dict(), str(tmp_path / "model.safetensors"))
    card = {"family": family, "network": network, "threshold": threshold,
            "input": {"colour": colour, "tile": tile, "max_tiles": max_tiles}}
    (tmp_path / "card.json").write_text(json.dumps(card))
    return tmp_path


@pytest.mark.parametrize("family,network,colour", [
    ("npr", {"width": 8, "blocks": [1, 1]}, "rgb"),
    ("pelee", {"growth": 8, "blocks": [1, 1, 1, 1]}, "hsv"),
])
def test_onnx_runtime_scores_equal_pytorch(tmp_path, family, network, colour):
    pytest.importorskip("onnxruntime")
    run = _run_dir(tmp_path, family, network, colour)
    name = "npr" if family == "npr" else "pelee-hpf"
    fast = load_detector(name, run=str(run), backend="onnx")
    eager = load_detector(name, run=str(run), backend="torch")
    assert fast.backend == "onnx" and eager.backend == "torch"
    for seed, (h, w) in enumerate([(64, 64), (50, 37), (200, 300)]):
        img = textured(h, w, seed=seed)
        a, b = fast.analyze(img), eager.analyze(img)
        assert abs(a.score - b.score) < 1e-4
        assert a.extras["tiles"] == b.extras["tiles"]
    batch = torch.from_numpy(fast.method.tiles(textured(128, 128), fast.settings))
    assert np.abs(fast.outputs(batch).numpy() - eager.outputs(batch).numpy()).max() < 1e-4


def test_large_images_are_tiled_and_small_ones_analysed_whole(tmp_path):
    det = load_detector("npr", run=str(_run_dir(tmp_path, "npr", {"width": 8, "blocks": [1, 1]})), backend="torch")
    assert det.analyze(textured(50, 37)).extras["tiles"] == 1
    assert det.method.tiles(textured(50, 37), det.settings).shape == (1, 3, 50, 36)  # cropped to even for NPR
    assert det.analyze(textured(300, 400)).extras["tiles"] == 4


def test_tile_origins_are_even_and_cover_the_ends():
    assert tile_origins(64, 64, 4) == [0]
    starts = tile_origins(1001, 256, 4)
    assert starts[0] == 0 and starts[-1] == (1001 - 256) // 2 * 2 and all(s % 2 == 0 for s in starts)
    assert len(tile_origins(300, 256, 4)) == 2


def test_score_and_label_follow_the_card_threshold(tmp_path):
    run = _run_dir(tmp_path, "npr", {"width": 8, "blocks": [1, 1]}, threshold=0.0)
    res = load_detector("npr", run=str(run), backend="torch").analyze(textured(64, 64))
    assert 0 <= res.score <= 1 and res.label == "generated" and res.task == "generated"


def test_missing_weights_error_names_the_command(tmp_path, monkeypatch):
    from forenscope.detectors import trained

    monkeypatch.setattr(trained.Detector, "__init__", lambda self, threshold=None: setattr(self, "card", {}))
    with pytest.raises(MissingWeightsError, match="forenscope train configs/pelee-hpf.toml"):
        load_detector("pelee-hpf")


def test_shipped_models_are_listed_and_lite_probe_is_the_default(tmp_path):
    import json as _json

    from PIL import Image
    from typer.testing import CliRunner

    from forenscope.cli import app

    Image.fromarray(textured(96, 128)).save(tmp_path / "a.png")
    runner = CliRunner()
    res = runner.invoke(app, ["detect", str(tmp_path / "a.png"), "-f", "jsonl"])
    assert res.exit_code == 0, res.output
    line = _json.loads(res.stdout.strip().splitlines()[0])
    assert line["detector"] == "lite-probe-pair" and 0 <= line["score"] <= 1
    assert line["label"] in ("authentic", "generated", "uncertain")
    cards = {c["name"]: c for c in _json.loads(runner.invoke(app, ["models", "-f", "json"]).stdout)}
    for name in ("lite-probe", "npr", "pelee-hpf"):
        assert cards[name]["task"] == "generated"
        assert 0 < cards[name]["threshold"] < 1 and "validation" in cards[name]["metrics"]


def test_every_shipped_weight_file_matches_its_card():
    """Issue 19, defect 15: a card must describe the weights shipped beside it."""
    from importlib import resources
    from pathlib import Path

    from forenscope.nets.weights import MAX_SHARD, shard_paths, weights_sha256

    folder = Path(str(resources.files("forenscope") / "weights"))
    files = sorted(folder.glob("*.safetensors"))
    firsts = [w for w in files if (folder / w.name.replace(".safetensors", ".json")).is_file()]
    assert len(firsts) >= 8
    assert sorted(s for w in firsts for s in shard_paths(w)) == files  # every file is a model's or its shard
    for w in firsts:
        card = _json_load(folder / w.name.replace(".safetensors", ".json"))
        assert card["weights_sha256"] == weights_sha256(w), w.name
    assert max(w.stat().st_size for w in files) < MAX_SHARD + (1 << 20)  # no shipped file near the repo limit


def _json_load(path):
    return json.loads(path.read_text(encoding="utf-8"))
