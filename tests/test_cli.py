import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import REPO, encode, textured
from forenscope.cli import app

runner = CliRunner()
FIELDS = {"path", "detector", "score", "label", "error"}


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def folder_with_broken(tmp_path):
    """20 files in nested folders: 16 good images, 4 broken in four different ways."""
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    for i in range(16):
        where = root if i < 8 else (root / "sub" if i < 12 else root / "sub" / "deeper")
        fmt = ("PNG", "JPEG", "WEBP", "BMP")[i % 4]
        ext = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp"}[fmt]
        (where / f"good{i}.{ext}").write_bytes(encode(textured(48 + i, 64, seed=i), fmt))
    (root / "empty.png").write_bytes(b"")
    (root / "text.jpg").write_text("not an image")
    (root / "sub" / "truncated.jpg").write_bytes(encode(textured(64, 64), "JPEG")[:300])
    (root / "sub" / "deeper" / "garbage.webp").write_bytes(bytes(range(256)) * 4)
    (root / "README.txt").write_text("ignored: not an image extension")
    return root


def test_folder_with_four_broken_images(folder_with_broken, tmp_path):
    res = run("detect", folder_with_broken, "-d", "noise", "-f", "jsonl", "--no-progress")
    assert res.exit_code == 1
    lines = [json.loads(l) for l in res.stdout.splitlines()]
    assert len(lines) == 20 and all(set(l) == FIELDS for l in lines)
    ok = [l for l in lines if l["error"] is None]
    bad = [l for l in lines if l["error"] is not None]
    assert len(ok) == 16 and len(bad) == 4
    assert all(0 <= l["score"] <= 1 and l["label"] in ("authentic", "tampered", "uncertain") for l in ok)
    assert all(l["score"] is None and l["label"] is None and l["path"] in l["error"] for l in bad)
    assert {l["path"].rsplit("/", 1)[-1] for l in bad} == {"empty.png", "text.jpg", "truncated.jpg", "garbage.webp"}
    assert "16 analysed, 4 failed" in res.stderr


@pytest.mark.parametrize("command", ["detect", "localize"])
def test_looping_and_dangling_links_are_reported_and_the_rest_analysed(tmp_path, command):
    """Issue 19, defect 1: `ln -s self.jpg d/self.jpg` crashed detect and localize before any
    image was analysed."""
    d = tmp_path / "d"
    d.mkdir()
    Image.fromarray(textured(40, 48)).save(d / "good.png")
    (d / "self.jpg").symlink_to("self.jpg")
    (d / "dangling.jpg").symlink_to("nothere.jpg")
    res = run(command, d, "-d", "ela", "-f", "jsonl", "--no-progress", *(["--out", tmp_path / "o"] if command == "localize" else []))
    assert res.exit_code == 1, res.output
    lines = {json.loads(l)["path"].rsplit("/", 1)[-1]: json.loads(l) for l in res.stdout.splitlines()}
    assert lines["good.png"]["error"] is None and lines["good.png"]["score"] is not None
    assert "link loop" in lines["self.jpg"]["error"] and "broken symbolic link" in lines["dangling.jpg"]["error"]


def test_all_good_exits_zero_and_csv_has_the_same_fields(tmp_path):
    for i in range(3):
        Image.fromarray(textured(40, 40, seed=i)).save(tmp_path / f"{i}.png")
    res = run("detect", tmp_path / "*.png", "-d", "ela", "-f", "csv")
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 3 and set(rows[0]) == FIELDS and rows[0]["error"] == ""


def test_localize_writes_maps_at_the_exact_input_size(tmp_path):
    rgb = np.zeros((30, 20, 3), np.uint8)
    rgb[..., :] = textured(30, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 20 wide, shown 30 wide: maps follow the displayed size
    Image.fromarray(rgb).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    Image.fromarray(textured(33, 47)).save(tmp_path / "odd.png")
    out = tmp_path / "out"
    res = run("localize", tmp_path / "rot.jpg", tmp_path / "odd.png", "-d", "noise", "-o", out,
              "--overlay", "-f", "jsonl")
    assert res.exit_code == 0, res.output
    lines = [json.loads(l) for l in res.stdout.splitlines()]
    assert all(set(l) == FIELDS | {"heatmap", "mask", "overlay"} for l in lines)
    sizes = {}
    for l in lines:
        heat, mask = Image.open(l["heatmap"]), Image.open(l["mask"])
        assert heat.mode == "L" and mask.mode == "L" and heat.size == mask.size
        assert set(np.unique(np.asarray(mask))) <= {0, 255}
        assert Image.open(l["overlay"]).size == heat.size
        sizes[l["path"].rsplit("/", 1)[-1]] = heat.size
    assert sizes == {"rot.jpg": (30, 20), "odd.png": (47, 33)}


def test_localize_output_names_never_collide(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        Image.fromarray(textured(16, 16)).save(tmp_path / d / "same.png")
    Image.fromarray(textured(16, 16)).save(tmp_path / "same.png")
    res = run("localize", tmp_path / "a" / "same.png", tmp_path / "b" / "same.png", tmp_path / "same.png",
              "-o", tmp_path / "o", "-f", "jsonl")
    heatmaps = [json.loads(l)["heatmap"] for l in res.stdout.splitlines()]
    assert len(set(heatmaps)) == 3


def test_missing_input_and_unknown_detector(tmp_path):
    res = run("detect", tmp_path / "nothing-here.png", "-f", "jsonl")
    assert res.exit_code == 1 and "no such file" in json.loads(res.stdout)["error"]
    res = run("detect", tmp_path, "-d", "elaa")
    assert res.exit_code == 2 and "Did you mean 'ela'" in res.output


def test_detector_params_and_bad_params(tmp_path):
    Image.fromarray(textured(40, 40)).save(tmp_path / "a.png")
    assert run("detect", tmp_path / "a.png", "-d", "ela", "-p", "quality=75").exit_code == 0
    res = run("detect", tmp_path / "a.png", "-d", "ela", "-p", "quality=500")
    assert res.exit_code == 2 and "quality" in res.output


def test_pixel_limit_option(tmp_path):
    Image.fromarray(textured(64, 64)).save(tmp_path / "a.png")
    res = run("detect", tmp_path / "a.png", "--max-pixels", "1000", "-f", "jsonl")
    assert res.exit_code == 1 and "too many pixels" in json.loads(res.stdout)["error"]


def test_models_lists_every_detector():
    res = run("models", "-f", "json")
    cards = {c["name"]: c for c in json.loads(res.stdout)}
    assert {"ela", "noise", "jpeg-ghost", "copymove-sift", "effunet", "iidnet"} <= set(cards)
    assert all(c["task"] and c["licence"] for c in cards.values())
    assert run("models").exit_code == 0
    from forenscope.cli.evaluation import card_metrics as _card_metrics  # nested test metrics (per subset + mean) -> short text

    short = _card_metrics(cards["effunet"])
    assert "test synthetic (mean): F1" in short and "git" not in short
    card = {"calibration": {"test": {"ece_raw": 0.31, "ece": 0.04}},
            "robustness": {"generated": {"metric": "ap", "unperturbed": 0.9, "social@1": 0.86,
                                         "worst": {"perturbation": "resize-area@1.5", "ap": 0.52}}}}
    assert _card_metrics(card) == ("calibrated: test ECE 0.31 -> 0.04; robustness (ap): unperturbed 0.90, "
                                   "social chain 0.86, worst 0.52 (resize-area@1.5)")


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "forenscope.cli", "models"], capture_output=True, text=True)
    assert out.returncode == 0 and "jpeg-ghost" in out.stdout


def test_forced_progress_bar_goes_to_stderr_only(tmp_path):
    for i in range(3):
        Image.fromarray(textured(24, 24, seed=i)).save(tmp_path / f"{i}.png")
    res = run("detect", tmp_path, "-d", "noise", "-f", "jsonl", "--progress")
    assert res.exit_code == 0
    assert [json.loads(l)["error"] for l in res.stdout.splitlines()] == [None] * 3


def test_detect_band_marks_scores_near_the_threshold_uncertain(tmp_path):
    import json as _json

    from PIL import Image as _Image
    from typer.testing import CliRunner as _Runner

    from conftest import noisy_photo as _photo
    from forenscope.cli import app as _app
    from forenscope.detectors import load_detector as _load_detector
    from forenscope.verdict import logit as _logit

    _Image.fromarray(_photo(96, 128, 2)).save(tmp_path / "a.png")
    det = _load_detector("noise")
    score = det.analyze(_photo(96, 128, 2)).score
    margin = abs(_logit(score) - _logit(det.threshold))
    runner = _Runner()
    wide = runner.invoke(_app, ["detect", str(tmp_path / "a.png"), "-d", "noise", "-f", "jsonl", "--band", str(margin + 0.5)])
    narrow = runner.invoke(_app, ["detect", str(tmp_path / "a.png"), "-d", "noise", "-f", "jsonl", "--band", str(margin / 2)])
    off = runner.invoke(_app, ["detect", str(tmp_path / "a.png"), "-d", "noise", "-f", "jsonl", "--band", "0"])
    default = runner.invoke(_app, ["detect", str(tmp_path / "a.png"), "-d", "noise", "-f", "jsonl"])
    assert _json.loads(wide.stdout)["label"] == "uncertain"
    assert _json.loads(narrow.stdout)["label"] == _json.loads(off.stdout)["label"] != "uncertain"
    assert (_json.loads(default.stdout)["label"] == "uncertain") == (margin < 1.0)  # scan's band, 1.0


def test_texts_name_the_right_thing_and_keep_commands_whole(tmp_path):
    """Issue 19, defect 7 (and 9: an empty folder is an error for scan as for detect)."""
    help_text = runner.invoke(app, ["scan", "--help"], env={"COLUMNS": "250"}).stdout
    assert "forenscope[distributed]" in help_text
    bad = run("export", "nope", "--onnx")
    assert bad.exit_code == 2 and "MODEL" in bad.output and "--detector" not in bad.output
    photo = tmp_path / "one.png"
    Image.fromarray(textured(40, 40)).save(photo)
    long_dir = tmp_path / ("a-rather-long-folder-name-" * 3)
    long_dir.mkdir()
    res = run("scan", photo, "--out", tmp_path / "rep", "-d", "ela")
    assert res.exit_code == 2 and "is a file: scan takes a folder" in res.stderr
    assert f"forenscope detect {photo}" in res.stderr.replace("\n", "")  # and the line is not broken
    assert all(len(line) > 80 for line in res.stderr.splitlines() if "forenscope detect" in line)
    empty = run("scan", long_dir, "--out", tmp_path / "rep2", "-d", "ela")
    assert empty.exit_code == 2 and f"no images in {long_dir}" in empty.stderr
    assert run("detect", long_dir, "-d", "ela").exit_code == 2


def test_long_runs_report_progress_lines_when_stderr_is_not_a_terminal(tmp_path):
    """Issue 19, defect 8: 2 min 22 s of silence on 500 images when not on a terminal."""
    for i in range(30):
        Image.fromarray(textured(32, 32, seed=i)).save(tmp_path / f"{i}.png")
    res = run("detect", tmp_path, "-d", "ela", "-f", "jsonl")
    lines = [l for l in res.stderr.splitlines() if l.startswith("ela: ")]
    assert len(lines) == 10 and lines[-1].startswith("ela: 30/30") and "s left" in lines[0]
    quiet = run("detect", tmp_path, "-d", "ela", "-f", "jsonl", "--no-progress")
    assert not [l for l in quiet.stderr.splitlines() if l.startswith("ela: ")]


def test_research_reproductions_say_so_and_are_never_defaults(tmp_path):
    """Issue 19 (10): cooc3's card says it is not fit for triage, from its config (a retrain
    keeps it); listing and use say so; no default of detect / localize / scan / serve is one."""
    import tomllib
    from pathlib import Path

    from forenscope import DEFAULT_DETECTOR, DEFAULT_LOCALIZER
    from forenscope.detectors.base import RESEARCH, load_card

    repo = Path(__file__).resolve().parent.parent
    card = load_card("cooc3")
    config = tomllib.loads((repo / "configs" / "cooc3.toml").read_text())
    assert card["status"] == config["status"] == RESEARCH and card["status_note"] == config["status_note"]
    assert "48 %" in card["status_note"]
    for name in (DEFAULT_DETECTOR, DEFAULT_LOCALIZER, "effunet"):
        assert (load_card(name) or {}).get("status") != RESEARCH, name
    listed = {c["name"]: c for c in json.loads(run("models", "--format", "json").output)}
    assert listed["cooc3"]["status"] == RESEARCH and "status" not in listed["lite-probe"]
    assert "(research" in run("models").output
    Image.fromarray(textured(96, 96)).save(tmp_path / "a.png")
    used = runner.invoke(app, ["detect", str(tmp_path / "a.png"), "-d", "cooc3"])
    assert used.exit_code == 0 and "cooc3 is a research reproduction" in " ".join(used.output.split())
    quiet = runner.invoke(app, ["detect", str(tmp_path / "a.png"), "-d", "noise"])
    assert "research reproduction" not in quiet.output


def test_a_trained_card_copies_the_status_of_its_config(tmp_path):
    import torch

    from forenscope.train.engine import model_card

    net = torch.nn.Linear(2, 1)
    cfg = {"name": "x", "family": "npr", "network": {}, "input": {}, "status": "research reproduction",
           "status_note": "why"}
    state = {"config_hash": "h", "best": {"step": 1}, "step": 1}
    card = model_card(net, cfg, state, tmp_path, task="generated", threshold=0.5, threshold_note="", counts={},
                      data_sha256="d")
    assert card["status"] == "research reproduction" and card["status_note"] == "why"
    assert "status" not in model_card(net, {k: v for k, v in cfg.items() if not k.startswith("status")}, state,
                                      tmp_path, task="generated", threshold=0.5, threshold_note="", counts={},
                                      data_sha256="d")


def test_usage_errors_are_one_plain_line_when_not_on_a_terminal(tmp_path):
    """Issue 19 (7, typer's own panels): a usage error piped to a log is not framed or cut."""
    res = subprocess.run([sys.executable, "-m", "forenscope.cli", "detect", str(tmp_path / "a.jpg"), "-d", "nosuch"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "╭" not in res.stderr
    line = next(x for x in res.stderr.splitlines() if x.startswith("Error:"))
    assert "unknown detector 'nosuch'" in line and "lite-probe" in line and line.rstrip().endswith("provenance.")


def test_benchmark_help_lists_every_shipped_protocol():
    from pathlib import Path

    shipped = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "src" / "forenscope" / "protocols").glob("*.yaml"))
    text = " ".join(run("benchmark", "--help").output.replace("│", " ").split())
    assert "generator-holdout-views" in shipped and all(name in text for name in shipped)


def test_a_candidate_config_cannot_ship_over_the_model_its_name_ships(tmp_path):
    """Issue 21: npr-jpeg.toml is named "npr"; --ship from it would overwrite the shipped npr."""
    from typer.testing import CliRunner

    from forenscope.cli import app
    res = CliRunner().invoke(app, ["train", str(REPO / "configs" / "npr-jpeg.toml"), "--ship", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "candidate" in res.output and "npr.toml" in res.output
    assert not any(tmp_path.iterdir())  # refused before any training


def test_a_reseeded_run_cannot_ship(tmp_path):
    """``--seed`` trains the config under another seed: not the committed config, so never shipped."""
    from typer.testing import CliRunner

    from forenscope.cli import app
    res = CliRunner().invoke(app, ["train", str(REPO / "configs" / "effunet.toml"), "--seed", "1", "--ship",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--seed" in res.output and "without --ship" in " ".join(res.output.split())
    assert not any(tmp_path.iterdir())


def test_every_method_names_the_config_that_ships_it():
    """The missing-weights hint names ``method.config``: it must exist, train this method and
    ship under the method's detector name (iidnet ships from iidnet-telea.toml)."""
    import tomllib

    from forenscope.methods import available_methods, get_method

    for name in available_methods():
        method = get_method(name)
        cfg = tomllib.loads((REPO / method.config).read_text(encoding="utf-8"))
        assert cfg["family"] == method.name and cfg["name"] == method.detector_name, method.config
        assert not cfg.get("status", "").startswith("candidate"), method.config


def test_every_command_is_registered():
    """The command modules register themselves; none may go missing when the package changes."""
    from typer.main import get_command

    from forenscope.cli import app

    group = get_command(app)
    assert {"detect", "localize", "scan", "eval", "models", "audit", "train", "benchmark", "robustness",
            "calibrate", "export", "serve", "synth"} <= set(group.commands)
    assert {"generators", "forgeries"} <= set(group.commands["synth"].commands)


def test_tcmalloc_restart_only_for_the_command_itself(monkeypatch, tmp_path):
    """Re-executing argv[0] restarts the *host* program when the CLI runs in-process (pytest
    running `train` would start the whole suite over, its output captured away)."""
    from forenscope.cli import common

    lib = tmp_path / "libtcmalloc_minimal.so.4"
    lib.write_bytes(b"")
    calls = []
    monkeypatch.setattr(common, "TCMALLOC", str(lib))
    monkeypatch.setattr(common.os, "execve", lambda exe, argv, env: calls.append((argv, env["LD_PRELOAD"])))
    monkeypatch.delenv("FORENSCOPE_NO_TCMALLOC", raising=False)
    monkeypatch.setenv("LD_PRELOAD", "")
    host = tmp_path / "pytest_main.py"
    host.write_text("")
    monkeypatch.setattr(common.sys, "argv", [str(host), "train", "x.toml"])
    common.reexec_with_tcmalloc()
    assert calls == []
    for argv0 in (tmp_path / "bin" / "forenscope", tmp_path / "forenscope" / "__main__.py"):
        argv0.parent.mkdir(parents=True, exist_ok=True)
        argv0.write_text("")
        monkeypatch.setattr(common.sys, "argv", [str(argv0), "train", "x.toml"])
        common.reexec_with_tcmalloc()
        assert calls[-1] == ([common.sys.executable, str(argv0), "train", "x.toml"], str(lib))
    assert len(calls) == 2
