"""Trained pixel localisers, trained here by ``forenscope train configs/<name>.toml`` on
synthetic forgeries: ``iidnet`` (Wu & Zhou 2022, compact CPU profile), ``hlstm`` and ``jlstm``
(Bappy et al. 2019 / 2017) and ``effunet`` (EfficientNet-Lite0 encoder, ImageNet-initialised,
+ noise-residual branch, U-Net decoder).

Whole images of any size are analysed in non-overlapping tiles (the card's ``tile``, 256 by
default; 256 / 64 for H-LSTM / J-LSTM, whose grids are fixed) after reflection padding, so
memory stays bounded and the heatmap is at the input's exact size. The image score is the mean of the top 1 % of the map; the card's
threshold on it is calibrated on validation authentic images.
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


# Bappy et al.'s networks work on a fixed grid: H-LSTM on 256x256 images (64 patches of 32x32),
# J-LSTM on 64x64 patches. Images are padded to whole tiles of that size.
FIXED_TILE = {"hlstm": 256, "jlstm": 64}


def network_input(rgb: np.ndarray, family: str) -> np.ndarray:
    """C x H x W float32 as the family expects it (IID-Net: RGB in [-1, 1]; H-LSTM: RGB / 127,
    as the original)."""
    if family == "iidnet":
        return (rgb.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
    if family == "effunet":
        return (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)
    if family == "jlstm":  # centred, unit-ish scale: with [0, 1] input the LSTM saw near-constant steps
        return ((rgb.astype(np.float32) - 127.5) / 64.0).transpose(2, 0, 1)
    if family == "hlstm":
        return (rgb.astype(np.float32) / 127.0).transpose(2, 0, 1)
    raise ValueError(f"no localiser input defined for family {family!r}")


def network_batch(crops: list[np.ndarray], family: str):
    """The network's input for equal-sized RGB crops: a tensor, or for H-LSTM a tuple (images,
    Hilbert-curve resampling features of their 32x32 patches)."""
    x = torch.from_numpy(np.stack([network_input(np.ascontiguousarray(c), family) for c in crops]))
    if family == "hlstm":
        from forenscope.signals.resampling import image_resampling_features

        return x, torch.from_numpy(np.stack([image_resampling_features(c) for c in crops]))
    return x


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


def image_score(prob: np.ndarray) -> float:
    """Image-level evidence from a probability map: the mean of its top 1 % of pixels."""
    flat = prob.ravel()
    k = max(1, flat.size // 100)
    return float(np.partition(flat, flat.size - k)[flat.size - k:].mean())


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
            from forenscope.export import export_onnx

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
        score = image_score(heat)
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
