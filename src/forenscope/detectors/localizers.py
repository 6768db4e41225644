"""Trained pixel localisers, trained here by ``forenscope train configs/<name>.toml`` on
synthetic forgeries: ``iidnet`` (Wu & Zhou 2022, compact CPU profile), ``hlstm`` and ``jlstm``
(Bappy et al. 2019 / 2017) and ``effunet`` (EfficientNet-Lite0 encoder, ImageNet-initialised,
+ noise-residual branch, U-Net decoder).

Whole images of any size are analysed in non-overlapping tiles (the card's ``tile``, 256 by
default; 256 / 64 for H-LSTM / J-LSTM, whose grids are fixed) after reflection padding, so
memory stays bounded and the heatmap is at the input's exact size. The image score is the
card's ``image_head`` (a logistic model on a few statistics of the map, fitted on validation
images) where the card has one, else the mean of the top 1 % of the map; the card's threshold on
it flags a set share of validation authentic images.
"""

from __future__ import annotations

import numpy as np
import torch
from safetensors.torch import load_file

from forenscope.analysis import Analysis
from forenscope.detectors.base import Detector, onnx_providers
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.nets.factory import build_network
from forenscope.nets.inputs import FIXED_TILE, network_batch, network_input  # noqa: F401 (re-exported)


def probabilities(family: str, output) -> torch.Tensor:
    """(B, 1, H, W) probability of manipulation from the network's output."""
    if family == "iidnet":
        from forenscope.nets.iidnet import IIDNet

        return IIDNet.probabilities(output)
    if family == "effunet":
        return torch.sigmoid(output)
    if family == "hlstm":  # two sigmoid channels, prediction = argmax: p = softmax channel 1
        return torch.softmax(output, 1)[:, 1:2]
    if family == "jlstm":  # (patch class logits, segmentation logits)
        return torch.softmax(output[1], 1)[:, 1:2]
    raise ValueError(f"unknown localiser family {family!r}")


def top_share_mean(values: np.ndarray, share: float) -> float:
    """Mean of the largest ``share`` of ``values`` (at least one)."""
    flat = values.ravel()
    k = max(1, int(flat.size * share + 1e-9))  # floor, immune to 0.01 * n rounding below n // 100
    return float(np.partition(flat, flat.size - k)[flat.size - k:].mean())


# Probabilities are clipped before the logit: maps are often stored as float16, whose spacing
# near 1 (5e-4) would otherwise make the statistics depend on how the map was kept.
LOGIT_CLIP = 1e-3
MAP_STATISTICS = ("top_0.1%_logit", "top_1%_logit", "top_10%_logit", "mean_logit", "area_above_0.5",
                  "area_above_0.9", "largest_region_area", "largest_region_mean_logit")


def map_statistics(prob: np.ndarray) -> np.ndarray:
    """The statistics of a probability map that an image head reads (``MAP_STATISTICS``): how
    strong its strongest pixels are, how much of the image is flagged, and how large and how
    confident its largest connected flagged region is (one compact object vs scattered noise)."""
    import cv2

    p = np.clip(prob.astype(np.float32), LOGIT_CLIP, 1 - LOGIT_CLIP)
    z = np.log(p / (1 - p))
    flagged = (p >= 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(flagged, connectivity=8)
    if n > 1:
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        region_area, region_logit = stats[biggest, cv2.CC_STAT_AREA] / p.size, float(z[labels == biggest].mean())
    else:
        region_area, region_logit = 0.0, float(np.log(LOGIT_CLIP / (1 - LOGIT_CLIP)))
    return np.array([top_share_mean(z, 0.001), top_share_mean(z, 0.01), top_share_mean(z, 0.1), float(z.mean()),
                     float(flagged.mean()), float((p >= 0.9).mean()), region_area, region_logit])


# What a trainer's image head reads by default: the strongest pixels against the image's own
# level (a map that is high everywhere, as on some textures, is not a tampered region). Chosen
# by out-of-fold image ROC-AUC on effunet's validation maps (docs/results/localize/image-head).
HEAD_STATISTICS = ("top_1%_logit", "mean_logit")


def head_probability(head: dict, stats: np.ndarray) -> np.ndarray:
    """The image head's tamper probability from rows of ``map_statistics`` (or one row): the
    statistics it names, standardised, through a logistic model."""
    unknown = set(head["statistics"]) - set(MAP_STATISTICS)
    if unknown:
        raise ValueError(f"image head reads {sorted(unknown)}, which this version does not compute")
    x = np.asarray(stats)[..., [MAP_STATISTICS.index(n) for n in head["statistics"]]]
    z = ((x - np.asarray(head["mean"])) / np.asarray(head["scale"])) @ np.asarray(head["weight"]) + head["bias"]
    return 1 / (1 + np.exp(-z))


def image_score(prob: np.ndarray, head: dict | None = None) -> float:
    """Image-level evidence from a probability map: the image head's probability when there is
    one, else the mean of the map's top 1 % of pixels."""
    return float(head_probability(head, map_statistics(prob))) if head else top_share_mean(prob, 0.01)


@torch.no_grad()
def predict_map(net: torch.nn.Module, family: str, rgb: np.ndarray, tile: int = 256, multiple: int = 16,
                pixels_per_batch: int = 1 << 18) -> np.ndarray:
    """Probability map at the image's size, from non-overlapping ``tile`` tiles of the image
    padded (by reflection) to a multiple of ``multiple`` (of the tile for fixed-grid networks).
    Equal-sized tiles go through the network together, up to ``pixels_per_batch`` pixels."""
    net.eval()
    if family in FIXED_TILE:
        tile = multiple = FIXED_TILE[family]
    h, w = rgb.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    padded = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else rgb
    H, W = padded.shape[:2]
    out = np.zeros((H, W), np.float32)
    groups: dict[tuple, list] = {}
    for y in range(0, H, tile):
        for x in range(0, W, tile):
            crop = padded[y:y + tile, x:x + tile]
            groups.setdefault(crop.shape, []).append((y, x, crop))
    for shape, items in groups.items():
        per_batch = max(1, pixels_per_batch // (shape[0] * shape[1]))
        for i in range(0, len(items), per_batch):
            chunk = items[i:i + per_batch]
            x = network_batch([c for _, _, c in chunk], family)
            prob = probabilities(family, net(*x) if isinstance(x, tuple) else net(x))[:, 0].numpy()
            for (y0, x0, c), p in zip(chunk, prob):
                out[y0:y0 + c.shape[0], x0:x0 + c.shape[1]] = p
    return out[:h, :w]


class OnnxNetwork:
    """An ONNX Runtime session called like the torch module it was exported from (tensors in,
    a tensor or a tuple of tensors out), so ``predict_map`` takes either. An input the graph
    cannot take (IID-Net's top-15 on a tile with fewer than 15 positions) goes to the module."""

    def __init__(self, model: bytes, module: torch.nn.Module, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4  # a refused input is handled below, not logged as an error
        self.session = ort.InferenceSession(model, opts, providers=onnx_providers())
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.module = module

    def eval(self):
        return self

    def __call__(self, *xs: torch.Tensor):
        try:
            outs = self.session.run(None, {n: x.numpy() for n, x in zip(self.inputs, xs)})
        except Exception:  # onnxruntime raises its own Fail / InvalidArgument types
            with torch.no_grad():
                return self.module(*xs)
        outs = [torch.from_numpy(o) for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)


BACKENDS = ("auto", "onnx", "torch")


class LocalizerNetwork(Detector):
    """A trained localiser plus its card; ``run=DIR`` loads a training run instead of the
    shipped weights. ``backend="auto"`` runs the network in ONNX Runtime when it is installed
    (exported in memory at load time and checked against PyTorch; about 2x faster here), else
    in PyTorch."""

    def __init__(self, threshold: float | None = None, run: str | None = None, backend: str = "auto",
                 threads: int = 0):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        weights = self._trained_weights(threshold, run)
        self.run = run
        self.family = self.card["family"]
        self.tile = FIXED_TILE.get(self.family, int(self.card.get("input", {}).get("tile", 256)))
        self.net = build_network(self.family, self.card["network"])
        self.net.load_state_dict(load_file(str(weights)))
        self.net.eval()
        self.runner = self._onnx(threads) if backend in ("auto", "onnx") else None
        if backend == "onnx" and self.runner is None:
            raise RuntimeError("backend 'onnx' needs the onnxruntime and onnx packages")
        self.backend = "torch" if self.runner is None else "onnx"
        self.runner = self.runner or self.net

    def _onnx(self, threads: int) -> OnnxNetwork | None:
        import os

        try:
            from forenscope.nets.onnx import export_onnx

            model, report = export_onnx(self.net, self.family, self.card)
        except Exception:  # exporter or runtime missing or failing: PyTorch still works
            return None
        if not report["passes"]:
            return None
        return OnnxNetwork(model, self.net, threads or os.cpu_count() or 1)

    def config(self) -> dict:
        return {**super().config(), "run": self.run, "tile": self.tile, "backend": self.backend,
                "weights_sha256": self.card.get("weights_sha256")}

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        if min(rgb.shape[:2]) < 16:
            raise ValueError(f"image too small for {self.name}: {rgb.shape[1]}x{rgb.shape[0]}")
        heat = predict_map(self.runner, self.family, rgb, self.tile)
        score = image_score(heat, self.card.get("image_head"))
        return Analysis(self.name, self.task, score, self.label_for(score), heatmap=heat, mask=heat >= 0.5,
                        extras={"tile": self.tile, "backend": self.backend})


@register_detector("iidnet", task="localize")
class IIDNetDetector(LocalizerNetwork):
    """IID-Net: enhancement (Bayar + first differences) -> NAS cells -> global/local attention."""


@register_detector("hlstm", task="localize")
class HLSTMDetector(LocalizerNetwork):
    """H-LSTM (Bappy et al., TIP 2019): residual encoder fused with an LSTM over Hilbert-ordered
    resampling features of 32x32 patches; 256x256 tiles."""


@register_detector("jlstm", task="localize")
class JLSTMDetector(LocalizerNetwork):
    """J-LSTM (Bappy et al., ICCV 2017): conv + 3-layer LSTM over the 8x8 blocks of each 64x64
    patch, segmentation head; 64x64 tiles."""


@register_detector("effunet", task="localize")
class EfficientUNetDetector(LocalizerNetwork):
    """EfficientNet-Lite0 RGB encoder + SRM/Bayar noise branch, U-Net decoder."""
