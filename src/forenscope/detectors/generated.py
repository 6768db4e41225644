"""Trained real-vs-generated detectors: ``lite-probe`` (a linear probe on frozen ImageNet
EfficientNet-Lite0 features, trained on 24 generator families), ``npr`` (Tan et al. 2024) and
``pelee-hpf`` (Lee & Park 2021), all trained here by ``forenscope train configs/<name>.toml``.

Inference: images up to the card's ``tile`` size are analysed whole (cropped to even sides);
larger ones as up to ``max_tiles`` evenly spread tiles whose logits are averaged, so a 12 MP
photo costs about as much as 16 small images. The network runs in ONNX Runtime when it is
installed (exported in memory from the safetensors weights at load time; ~2.5x faster than
eager PyTorch on CPU), else in PyTorch; both give the same scores within 1e-4 (tested).
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import torch
from safetensors.torch import load_file

from forenscope.analysis import Analysis
from forenscope.detectors.base import Detector, MissingWeightsError, onnx_providers  # noqa: F401 (re-exported)
from forenscope.detectors.registry import register_detector
from forenscope.imageio import ImageMeta
from forenscope.nets.factory import build_network
from forenscope.signals.preprocess import network_input

BACKENDS = ("auto", "onnx", "torch")


def tile_origins(length: int, tile: int, count: int) -> list[int]:
    """``count`` evenly spread starts of tiles covering [0, length), even so that NPR's 2 x 2
    grid stays aligned with the image's."""
    if length <= tile:
        return [0]
    last = (length - tile) // 2 * 2
    n = max(1, min(count, -(-length // tile)))
    return sorted({int(round(i * last / max(1, n - 1))) // 2 * 2 for i in range(n)})


class NetworkDetector(Detector):
    """A trained network plus its card. ``run=DIR`` loads ``DIR/model.safetensors`` and
    ``DIR/card.json`` (a run of ``forenscope train``) instead of the shipped weights."""

    def __init__(self, threshold: float | None = None, run: str | None = None, backend: str = "auto",
                 threads: int = 0):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        weights = self._trained_weights(threshold, run)
        self.run = run
        self.family = self.card["family"]
        self.colour = self.card.get("input", {}).get("colour", "rgb")
        self.tile = int(self.card.get("input", {}).get("tile", 256))
        self.max_tiles = int(self.card.get("input", {}).get("max_tiles", 16))
        self.net = build_network(self.family, self.card["network"])
        self.net.load_state_dict(load_file(str(weights)))
        self.net.eval()
        self.threads = threads or os.cpu_count() or 1
        self.session = self._onnx_session() if backend in ("auto", "onnx") else None
        if backend == "onnx" and self.session is None:
            raise RuntimeError("backend 'onnx' needs the onnxruntime and onnx packages")
        self.backend = "onnx" if self.session is not None else "torch"

    def config(self) -> dict:
        return {**super().config(), "backend": self.backend, "run": self.run, "tile": self.tile,
                "max_tiles": self.max_tiles, "weights_sha256": self.card.get("weights_sha256")}

    def _onnx_session(self):
        try:
            import onnxruntime as ort
        except ImportError:
            return None
        buf = io.BytesIO()
        example = torch.zeros(1, 3, 64, 64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(self.net, (example,), buf, input_names=["x"], output_names=["logits"],
                                  dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}, dynamo=False,
                                  opset_version=17)
            except Exception:  # exporter missing or failing: PyTorch still works
                return None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(buf.getvalue(), opts, providers=onnx_providers())

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw logits for an N x C x H x W float32 batch (the model path the benchmark times)."""
        if self.session is not None:
            return self.session.run(None, {"x": np.ascontiguousarray(batch, dtype=np.float32)})[0]
        with torch.inference_mode():
            torch.set_num_threads(self.threads)
            return self.net(torch.from_numpy(batch)).numpy()

    def tiles(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        th, tw = min(self.tile, h) // 2 * 2, min(self.tile, w) // 2 * 2
        side = max(1, int(np.sqrt(self.max_tiles)))
        crops = [rgb[y:y + th, x:x + tw] for y in tile_origins(h, th, side) for x in tile_origins(w, tw, side)]
        return np.stack([network_input(c, self.family, self.colour) for c in crops])

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        if min(rgb.shape[:2]) < 8:
            raise ValueError(f"image too small for {self.name}: {rgb.shape[1]}x{rgb.shape[0]}")
        batch = self.tiles(rgb)
        logits = self.logits(batch).astype(np.float64)
        if logits.shape[1] == 1:
            score = float(1 / (1 + np.exp(-logits[:, 0].mean())))
        else:
            margin = (logits[:, 1] - logits[:, 0]).mean()  # mean two-class margin = mean logit
            score = float(1 / (1 + np.exp(-margin)))
        return Analysis(self.name, self.task, score, self.label_for(score),
                        extras={"tiles": int(batch.shape[0]), "backend": self.backend})


@register_detector("npr", task="generated")
class NPRDetector(NetworkDetector):
    """NPR residual + truncated ResNet (the published width 64, blocks 2-2 instead of 3-4)."""


@register_detector("pelee-hpf", task="generated")
class PeleeHPFDetector(NetworkDetector):
    """Fixed KV high-pass + PeleeNet (compact), in the colour space its card names."""


@register_detector("lite-probe", task="generated")
class LiteProbeDetector(NetworkDetector):
    """Frozen EfficientNet-Lite0 (ImageNet) features pooled over the native-resolution image
    (channel mean and std of the tapped blocks), one linear layer; images up to 512 px are
    scored whole, larger ones as up to 4 tiles of 512 whose logits are averaged."""
