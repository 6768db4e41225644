import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import textured
from forenscope.cli import app
from forenscope.data.datasets import DatasetError, find_binary_subsets, find_pixel_pairs, manifest_hash
from forenscope.detectors import load_detector
from forenscope.evaluate.metrics import pixel_f1_at
from forenscope.evaluate.dataset_eval import EvalRun, evaluate

runner = CliRunner()


def noisy_paste(seed, size=96):
    """An image with a noisier square and its mask: the noise detector finds these."""
    rng = np.random.default_rng(seed)
    img = textured(size, size, seed=seed, noise=2.0).astype(np.float32)
    mask = np.zeros((size, size), bool)
    mask[24:56, 32:64] = True
    img[mask] += rng.normal(0, 12, (mask.sum(), 3))
    return np.clip(img, 0, 255).astype(np.uint8), mask


def save(arr, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture
def binary_tree(tmp_path):
    """Two 'generators', each with 0_real (clean) and 1_fake (noisy paste) images."""
    root = tmp_path / "bench"
    for g, gen in enumerate(("ganA", "ganB")):
        for i in range(4):
            save(textured(96, 96, seed=100 + 10 * g + i), root / gen / "0_real" / f"r{i}.png")
            save(noisy_paste(200 + 10 * g + i)[0], root / gen / "1_fake" / f"f{i}.png")
    return root


def test_binary_tree_discovery(binary_tree):
    subsets = find_binary_subsets(binary_tree)
    assert list(subsets) == ["ganA", "ganB"]
    assert sorted(i.label for i in subsets["ganA"]) == [0] * 4 + [1] * 4
    with pytest.raises(DatasetError, match="0_real"):
        find_binary_subsets(binary_tree / "ganA" / "0_real")


def test_image_level_eval_rows_and_mean(binary_tree, tmp_path):
    res = runner.invoke(app, ["eval", str(binary_tree), "-d", "noise", "-o", str(tmp_path / "out"), "--seed", "7"])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "out" / "results.json").read_text())
    rows = out["metrics"]["noise"]
    assert set(rows) == {"ganA", "ganB", "mean"} and out["kind"] == "image" and out["seed"] == 7
    assert rows["mean"]["acc"] == pytest.approx((rows["ganA"]["acc"] + rows["ganB"]["acc"]) / 2)
    assert rows["ganA"]["n_real"] == rows["ganA"]["n_fake"] == 4
    assert rows["ganA"]["roc_auc"] == 1.0  # noisy pastes are unmistakable here
    assert out["dataset"]["n_files"] == 16 and len(out["dataset"]["manifest_sha256"]) == 64
    assert "commit" in out["git"] and out["detectors"]["noise"]["threshold"] == load_detector("noise").threshold
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| noise | **mean** |" in md and "ganB" in md
    assert len((tmp_path / "out" / "per_image.jsonl").read_text().splitlines()) == 16


@pytest.fixture
def pixel_folder(tmp_path):
    root = tmp_path / "casia_like"
    for i in range(3):
        img, mask = noisy_paste(300 + i)
        save(img, root / "Tp" / f"Tp_{i}.png")
        save(np.where(mask, 255, 0).astype(np.uint8), root / "Gt" / f"Tp_{i}_gt.png")
    save(textured(96, 96, seed=400), root / "Au" / "Au_0.png")
    save(textured(96, 96, seed=401), root / "Au" / "Au_1.png")
    return root


def test_pixel_eval_matches_direct_metrics(pixel_folder):
    run = EvalRun(dataset=pixel_folder, detectors=[load_detector("noise")])
    out = evaluate(run)
    row = out["metrics"]["noise"]["casia_like"]
    assert row["n_manipulated"] == 3 and row["n_authentic"] == 2 and out["n_errors"] == 0
    det = load_detector("noise")
    f1s = [pixel_f1_at(noisy_paste(300 + i)[1], det.analyze(noisy_paste(300 + i)[0]).heatmap) for i in range(3)]
    assert row["f1_mean_per_image"] == pytest.approx(np.mean(f1s)) and row["f1_mean_per_image"] > 0.5
    assert row["image_ap"] is not None


def test_csv_manifest_with_empty_mask_for_authentic(pixel_folder, tmp_path):
    csv = pixel_folder / "list.csv"
    csv.write_text("image,mask\nTp/Tp_0.png,Gt/Tp_0_gt.png\nAu/Au_0.png,\n")
    samples = find_pixel_pairs(csv)
    assert [s.mask is None for s in samples] == [False, True]
    out = evaluate(EvalRun(dataset=csv, detectors=[load_detector("noise")]))
    row = out["metrics"]["noise"]["list"]
    assert row["n_manipulated"] == 1 and row["n_authentic"] == 1


def test_problems_are_reported_not_fatal(pixel_folder):
    (pixel_folder / "Tp" / "Tp_nomask.png").write_bytes((pixel_folder / "Tp" / "Tp_0.png").read_bytes())
    (pixel_folder / "Tp" / "Tp_broken.png").write_bytes(b"broken")
    (pixel_folder / "Gt" / "Tp_broken_gt.png").write_bytes((pixel_folder / "Gt" / "Tp_0_gt.png").read_bytes())
    save(textured(50, 50), pixel_folder / "Tp" / "Tp_small.png")
    (pixel_folder / "Gt" / "Tp_small_gt.png").write_bytes((pixel_folder / "Gt" / "Tp_0_gt.png").read_bytes())
    out = evaluate(EvalRun(dataset=pixel_folder, detectors=[load_detector("noise")]))
    errors = " ".join(e["error"] for e in out["errors"])
    assert out["n_errors"] == 3 and "no mask" in errors and "not a recognised image" in errors
    assert "50x50" in errors and out["metrics"]["noise"]["casia_like"]["n_manipulated"] == 3


def test_unrecognised_layout_is_a_clear_error(tmp_path):
    (tmp_path / "photos").mkdir()
    res = runner.invoke(app, ["eval", str(tmp_path), "-d", "noise", "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "mask folder" in res.output


def test_manifest_hash_names_content(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"1")
    b.write_bytes(b"2")
    h = manifest_hash([a, b], tmp_path)
    assert h == manifest_hash([b, a], tmp_path)
    b.write_bytes(b"3")
    assert manifest_hash([a, b], tmp_path) != h


def test_cvip_copymove_eval(shared_data, tmp_path):
    """The public copy-move set reads in place: 50 forged with masks + 10 originals."""
    samples = find_pixel_pairs(shared_data / "copymove_cvip")
    assert sum(s.mask is not None for s in samples) == 50 and sum(s.mask is None for s in samples) == 10
    assert all(s.error is None for s in samples)


def test_a_detector_failing_on_one_image_is_recorded_not_fatal(pixel_folder):
    det = load_detector("noise")
    original = det.analyze

    def flaky(pixels, meta=None):
        if meta is not None and meta.source.endswith("Tp_1.png"):
            raise RuntimeError("boom")
        return original(pixels, meta)

    det.analyze = flaky
    out = evaluate(EvalRun(dataset=pixel_folder, detectors=[det]))
    assert out["n_errors"] == 1 and "RuntimeError: boom" in out["errors"][0]["error"]
    assert out["metrics"]["noise"]["casia_like"]["n_manipulated"] == 2


def test_pixel_level_image_accuracy_uses_the_detector_threshold(pixel_folder):
    lenient = evaluate(EvalRun(dataset=pixel_folder, detectors=[load_detector("noise", threshold=0.0)]))
    assert lenient["metrics"]["noise"]["casia_like"]["image_acc"] == pytest.approx(3 / 5)  # all called tampered


def test_git_commit_ignores_result_folders(tmp_path):
    """A job writing several result folders in a row still records a clean tree; a changed
    source file does not."""
    import shutil
    import subprocess

    from forenscope.records import git_commit

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    run = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "docs" / "results" / "r.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    run("add", "-A")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (tmp_path / "docs" / "results" / "r.json").write_text('{"a": 1}')
    assert git_commit(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path)["dirty"] is True


def _labelled_tree(root, fake_format: str, rng_seed: int = 0):
    from PIL import Image

    rng = np.random.default_rng(rng_seed)
    for label in ("0_real", "1_fake"):
        (root / label).mkdir(parents=True)
        for i in range(30):
            h, w = (int(v) for v in rng.integers(48, 96, 2))
            img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            fmt = fake_format if label == "1_fake" else "JPEG"
            img.save(root / label / f"{i}.{'png' if fmt == 'PNG' else 'jpg'}", fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return root


def test_audit_warns_when_the_format_gives_the_label_away(tmp_path):
    from forenscope.evaluate.audit import audit

    leaky = audit(_labelled_tree(tmp_path / "leaky", "PNG"), log=lambda m: None)
    assert leaky["single_feature_auc"]["is_png"] == 1.0 and leaky["logistic_regression_cv_auc"] > 0.9
    assert any("is_png alone" in w for w in leaky["warnings"])
    fair = audit(_labelled_tree(tmp_path / "fair", "JPEG", rng_seed=1), log=lambda m: None)
    assert fair["counts"] == {"negative": 30, "positive": 30}
    assert fair["single_feature_auc"]["is_jpeg"] == 0.5 and fair["single_feature_auc"]["jpeg_quality"] == 0.5
    assert fair["logistic_regression_cv_auc"] < 0.7  # sizes drawn alike for both classes


def test_audit_reads_mask_layouts_and_skips_unreadable_files(tmp_path):
    from PIL import Image

    from forenscope.evaluate.audit import audit

    for sub in ("forged", "masks", "original"):
        (tmp_path / sub).mkdir()
    for i in range(4):
        Image.new("RGB", (40, 30)).save(tmp_path / "forged" / f"im{i}.png")
        Image.new("L", (40, 30)).save(tmp_path / "masks" / f"im{i}_mask.png")
        Image.new("RGB", (40, 30)).save(tmp_path / "original" / f"o{i}.png")
    (tmp_path / "original" / "bad.png").write_text("no")
    rep = audit(tmp_path, log=lambda m: None)
    assert rep["counts"] == {"negative": 4, "positive": 4} and len(rep["unreadable"]) == 1
    assert rep["layout"].startswith("image + mask")


def test_pixel_eval_scores_the_trivial_maps_beside_the_detectors(pixel_folder, tmp_path):
    """Issue 19 (12): flag-everything and flag-nothing rows, computed from the masks alone."""
    from forenscope.evaluate.dataset_eval import write_results

    out = evaluate(EvalRun(dataset=pixel_folder, detectors=[load_detector("noise")]))
    every = out["baselines"]["flag everything"]["casia_like"]
    masks = [noisy_paste(300 + i)[1] for i in range(3)]
    assert every["f1_mean_per_image"] == pytest.approx(np.mean([2 * m.sum() / (m.sum() + m.size) for m in masks]))
    assert every["false_positive_area_mean_per_authentic_image"] == 1.0
    assert every["image_roc_auc"] == 0.5 and every["image_acc"] == pytest.approx(3 / 5)
    nothing = out["baselines"]["flag nothing"]["casia_like"]
    assert nothing["f1_mean_per_image"] == 0.0 and nothing["false_positive_area_mean_per_authentic_image"] == 0.0
    # the authentic images' patches count against flag-everything in the all-images patch F1 only
    assert every["patch_f1_from_map_pooled_over_all_images"] < every["patch_f1_from_map_pooled_over_manipulated_images"]
    write_results(out, [], tmp_path / "o")
    assert "| *baseline: flag everything* | casia_like |" in (tmp_path / "o" / "results.md").read_text()


def test_eval_prints_a_summary_that_fits_80_columns(pixel_folder, tmp_path):
    """Issue 19 (demo in 80 columns): the terminal gets the headline figures and the baselines;
    results.md keeps every metric."""
    res = runner.invoke(app, ["eval", str(pixel_folder), "-d", "noise", "-d", "ela", "-o", str(tmp_path / "o"),
                              "--no-progress"])
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if str(tmp_path) not in line]  # paths are never cut
    assert max(len(line) for line in lines) <= 80
    text = " ".join(lines)
    assert "flag everything" in text and "pixel F1" in text and "noise" in text
    assert "patch_f1_from_map_pooled_over_all_images" in (tmp_path / "o" / "results.md").read_text()


def test_patch_f1_over_all_images_borrows_the_authentic_subsets_false_alarms(pixel_folder):
    """A manifest whose authentic images form their own subset: each kind's all-images patch F1
    counts the authentic images' flagged patches too; the authentic subset has no such F1."""
    from forenscope.evaluate.metrics import patch_labels

    csv = pixel_folder / "kinds.csv"
    csv.write_text("image,mask,subset\nTp/Tp_0.png,Gt/Tp_0_gt.png,splice\nAu/Au_0.png,,authentic\n"
                   "Au/Au_1.png,,authentic\n")
    out = evaluate(EvalRun(dataset=csv, detectors=[load_detector("noise")]))
    every = out["baselines"]["flag everything"]
    truth = patch_labels(noisy_paste(300)[1])
    tp, fp = int(truth.sum()), int((~truth).sum()) + 2 * 9  # two 96 x 96 authentic images: 3 x 3 patches each
    assert every["splice"]["patch_f1_from_map_pooled_over_all_images"] == pytest.approx(2 * tp / (2 * tp + fp))
    assert every["splice"]["patch_f1_from_map_pooled_over_manipulated_images"] == pytest.approx(
        2 * tp / (2 * tp + int((~truth).sum())))
    assert every["authentic"]["patch_f1_from_map_pooled_over_all_images"] is None or \
        np.isnan(every["authentic"]["patch_f1_from_map_pooled_over_all_images"])
