"""The features the generated-image probes are fitted on: views of each image (as served, its
half-scale copy, high-pass residuals, seeded augmentations, a downscaled re-saved copy), pooled
activations of frozen EfficientNet-Lite trunks through ONNX Runtime, cached per view on disk.
``train/probe.py`` fits the probes on them; the leave-family-out benchmark reads the same cache."""

from __future__ import annotations

import hashlib
import io
import os
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from forenscope.data.augment import decode_jpeg, encode_jpeg
from forenscope.data.families import Item, load_item
from forenscope.methods import get_method
from forenscope.nets.lite_probe import LiteProbe, cached_taps, every_tap, load_lite0_trunk, stage_end_taps, tap_channels

Log = Callable[[str], None]
ALL_TAPS = stage_end_taps("lite0")  # (0, 2, 4, 7, 10, 14, 15, 16): every stage's last block, the head conv
# augmentation of the training views, both classes alike (the robustness suite's processing)
VIEW_AUGMENT = {"blur_prob": 0.2, "blur_sigma": (0.2, 1.5), "resize_prob": 0.3, "resize_scale": (0.5, 1.5),
                "noise_prob": 0.0, "jpeg_prob": 0.6, "jpeg_quality": (60, 100)}
L2_GRID = (1e-3, 1e-2, 1e-1)


def tap_columns(taps, all_taps=ALL_TAPS, encoder: str = "lite0") -> np.ndarray:
    """Columns of ``taps``' features inside the all-taps feature vector (means, then stds,
    in the order LiteProbe(taps) produces them)."""
    channels = tap_channels(encoder)
    offsets, start = {}, 0
    for t in all_taps:
        offsets[t] = start
        start += channels[t]
    cols = [np.arange(offsets[t], offsets[t] + channels[t]) for t in sorted(taps)]
    return np.concatenate(cols + [c + start for c in cols])


def pretrained_probe(taps, scales: int = 1, encoder: str = "lite0", network: dict | None = None) -> LiteProbe:
    """``network``: a config's [network] table (its views); else ``scales`` and ``encoder``."""
    from forenscope.train.pretrained import checkpoint_path

    kw = {k: v for k, v in (network or {}).items() if k in ("scales", "residual", "views", "residual_sigma")}
    net = LiteProbe(tuple(taps), encoder=encoder, **({"scales": scales} | kw)).eval()
    state = torch.load(checkpoint_path(f"efficientnet-{encoder}"), map_location="cpu", weights_only=True)
    load_lite0_trunk(net.trunk, state)
    return net


class _Features(torch.nn.Module):
    def __init__(self, net: LiteProbe):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.features(x)


class FeatureExtractor:
    """Pooled features of all taps (the stage ends, or with ``every_block`` every block),
    through ONNX Runtime when it exports (3x eager speed)."""

    def __init__(self, threads: int = 0, encoder: str = "lite0", every_block: bool = False):
        self.net = pretrained_probe(every_tap(encoder) if every_block else stage_end_taps(encoder), encoder=encoder)
        # 0: OMP_NUM_THREADS when set (one core beside a training job), else every core
        self.threads = threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
        self.session = None
        try:
            import onnxruntime as ort

            buf = io.BytesIO()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(_Features(self.net), (torch.zeros(1, 3, 64, 64),), buf, input_names=["x"],
                                  output_names=["f"], dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}},
                                  dynamo=False, opset_version=17)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = self.threads, 1
            self.session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        except Exception:  # no onnxruntime, or the exporter failed: eager PyTorch
            self.session = None

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        if rgb.dtype == np.uint8:
            x = get_method("lite-probe").prepare(rgb, {})[None]
        else:  # a half-scale view, kept in float as the network's own pooling keeps it
            x = (rgb / 255.0).astype(np.float32).transpose(2, 0, 1)[None]
        if self.session is not None:
            return self.session.run(None, {"x": x})[0][0]
        with torch.inference_mode():
            torch.set_num_threads(self.threads)
            return self.net.features(torch.from_numpy(x))[0].numpy()


HALF_SCALE = -1  # the view id of the image area-downsampled by 2 (the second scale of scales=2)
RESIDUAL_VIEW = {1.0: -2, 0.5: -3}  # view ids of the high-pass residual, by its blur's sigma
HALF_RESIDUAL_VIEW = {1.0: -4, 0.5: -5}  # ... and of the half-scale copy's residual
RESIDUAL = RESIDUAL_VIEW[1.0]
# views of the image after a seeded downscale (area, by 0.4-0.8) and a JPEG q95 save, as a photo
# shrunk for the web reaches the detector: training-only extra REAL rows (``downscaled_reals``)
DOWNSCALED_VIEW = {-6: HALF_SCALE, -7: RESIDUAL_VIEW[0.5]}
DOWNSCALE_RANGE = (0.4, 0.8)


def downscaled(rgb: np.ndarray, item: Item) -> np.ndarray:
    """``rgb`` area-downscaled by a factor drawn from the item's path, then saved as JPEG q95."""
    import cv2

    rng = np.random.default_rng(int(hashlib.sha256(("downscale|" + item.path).encode()).hexdigest()[:8], 16))
    f = rng.uniform(*DOWNSCALE_RANGE)
    h, w = rgb.shape[:2]
    small = cv2.resize(np.ascontiguousarray(rgb), (max(32, round(w * f)), max(32, round(h * f))),
                       interpolation=cv2.INTER_AREA)
    return decode_jpeg(encode_jpeg(small, 95))  # raises if encoding fails, never decodes garbage


def probe_views(scales: int = 1, residual: bool = False, views=None, residual_sigma: float = 1.0) -> list[int]:
    """The view ids whose features LiteProbe(...) sets side by side, in its order."""
    from forenscope.nets.lite_probe import probe_view_names

    if float(residual_sigma) not in RESIDUAL_VIEW:
        raise ValueError(f"residual_sigma must be one of {sorted(RESIDUAL_VIEW)}, got {residual_sigma}")
    ids = {"image": 0, "half": HALF_SCALE, "residual": RESIDUAL_VIEW[float(residual_sigma)],
           "half-residual": HALF_RESIDUAL_VIEW[float(residual_sigma)]}
    return [ids[v] for v in probe_view_names(scales, residual, views)]


def network_views(network: dict) -> list[int]:
    """probe_views of a config's or card's [network] table."""
    return probe_views(int(network.get("scales", 1)), bool(network.get("residual", False)), network.get("views"),
                       float(network.get("residual_sigma", 1.0)))


def view_of(rgb: np.ndarray, item: Item, seed: int, view: int) -> np.ndarray:
    """View 0 is the image as served; view v > 0 a seeded augmentation (crop, blur, rescale,
    JPEG); HALF_SCALE the served image at half scale, as LiteProbe(scales=2) computes it."""
    if view == 0:
        return rgb
    if view in DOWNSCALED_VIEW:
        return view_of(downscaled(rgb, item), item, seed, DOWNSCALED_VIEW[view])
    if view == HALF_SCALE:
        h, w = rgb.shape[:2]
        x = rgb[: h - h % 2, : w - w % 2].astype(np.float32)
        return x.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))  # float: no rounding, as the network
    sigmas = {v: k for k, v in RESIDUAL_VIEW.items()} | {v: k for k, v in HALF_RESIDUAL_VIEW.items()}
    if view in sigmas:  # as nets.lite_probe.high_pass computes it, on the 0..255 scale of the other views
        import cv2

        from forenscope.nets.lite_probe import RESIDUAL_GAIN

        x = (view_of(rgb, item, seed, HALF_SCALE) if view in HALF_RESIDUAL_VIEW.values() else rgb).astype(np.float32) / 255.0
        res = 0.5 + RESIDUAL_GAIN * (x - cv2.GaussianBlur(x, (0, 0), sigmas[view]))
        return np.clip(res, 0.0, 1.0) * 255.0

    from forenscope.data.augment import augment, random_crop

    rng = np.random.default_rng([seed, view, int(hashlib.sha256(item.path.encode()).hexdigest()[:8], 16)])
    if rng.random() < 0.5:
        side = int(rng.integers(min(128, min(rgb.shape[:2])), min(rgb.shape[:2]) + 1))
        rgb = random_crop(rgb, side, rng)
    if rng.random() < 0.5:
        rgb = rgb[:, ::-1]
    out = augment(np.ascontiguousarray(rgb), rng, **VIEW_AUGMENT)
    return out if min(out.shape[:2]) >= 32 else rgb


def features(items: list[Item], views: list[tuple[int, int]], cache: Path | None, log: Log = print,
             threads: int = 0, encoder: str = "lite0", every_block: bool = False) -> np.ndarray:
    """(len(items), len(views), dim) features of all taps (``stage_end_taps(encoder)``, or
    ``every_tap(encoder)`` with ``every_block``); ``views`` are (seed, view) pairs. Cached per
    view in ``cache`` (one .npy per view, keyed by the item list, the encoder and the tap set)."""
    key = hashlib.sha256("\n".join(f"{i.path}|{i.side}|{i.prepared}" for i in items).encode()).hexdigest()[:16]
    key += ("" if encoder == "lite0" else f"-{encoder}") + ("-allblocks" if every_block else "")
    out: list[np.ndarray | None] = [None] * len(views)
    todo = []
    for k, (seed, view) in enumerate(views):
        path = cache / f"{key}-s{seed if view > 0 else 0}-v{view}.npy" if cache else None
        if path is not None and path.is_file():
            out[k] = np.load(path)
        else:
            todo.append((k, seed, view, path))
    if todo:
        extractor = FeatureExtractor(threads, encoder, every_block)
        start = time.time()
        arrays = {k: np.zeros((len(items), extractor(np.zeros((64, 64, 3), np.uint8)).shape[0]), np.float32)
                  for k, *_ in todo}
        for n, item in enumerate(items):
            rgb = load_item(item)
            for k, seed, view, _ in todo:
                arrays[k][n] = extractor(view_of(rgb, item, seed, view))
            if (n + 1) % 250 == 0 or n + 1 == len(items):
                rate = (n + 1) / (time.time() - start)
                log(f"  features: {n + 1}/{len(items)} images x {len(todo)} views ({rate:.1f} images/s)")
        for k, seed, view, path in todo:
            out[k] = arrays[k]
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, arrays[k])
    return np.stack(out, 1)


def tap_features(items: list[Item], views: list[tuple[int, int]], cache: Path | None, log: Log, encoder: str,
                 taps) -> np.ndarray:
    """(len(items), len(views), dim) features of ``taps`` only, read from the cache that covers
    them (``cached_taps``: the stage ends, else every block)."""
    all_taps = cached_taps(taps, encoder)
    return features(items, views, cache, log, encoder=encoder, every_block=all_taps != stage_end_taps(encoder))[
        ..., tap_columns(taps, all_taps, encoder)]


def with_downscaled_reals(feats: np.ndarray, items: list[Item], side_by_side: list[int], encoder: str, taps,
                          cache: Path | None, log: Log = print) -> np.ndarray:
    """``feats`` (n, 1, d) of a probe's views, with a second view: the same views of each real
    image after :func:`downscaled` (computed for the reals only); NaN for the fakes, so
    ``training_rows`` adds the shrunk reals as extra real rows and nothing else."""
    down = {v: k for k, v in DOWNSCALED_VIEW.items()}
    if any(v not in down for v in side_by_side):
        raise ValueError(f"downscaled reals need views among half / residual at sigma 0.5, got view ids {side_by_side}")
    real = np.flatnonzero([it.label == 0 for it in items])
    shrunk = tap_features([items[i] for i in real], [(0, down[v]) for v in side_by_side], cache, log, encoder, taps)
    extra = np.full((len(items), 1, feats.shape[-1]), np.nan, np.float32)
    extra[real, 0] = shrunk.reshape(len(real), -1)  # the views side by side, as LiteProbe sets them
    return np.concatenate([feats[:, :1], extra], 1)
