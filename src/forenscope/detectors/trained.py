"""Every trained method as a detector: one class loads the weights (safetensors + card, shipped
or from a ``forenscope train`` run) and runs the network in ONNX Runtime or PyTorch; the
method (``methods/<name>.py``, found by the card's ``family``) prepares the pixels and reads
the score and map.

``backend="auto"`` runs the network in ONNX Runtime when it is installed (exported in memory
at load time and checked against PyTorch on two fresh inputs; about 2x faster here), else in
PyTorch; both give the same scores within 1e-4 (tested).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from forenscope.analysis import Analysis
from forenscope.detectors.base import Detector, MissingWeightsError, onnx_providers  # noqa: F401 (re-exported)
from forenscope.imageio import ImageMeta
from forenscope.methods import Method, get_method, method_for_detector
from forenscope.nets.weights import load_weights

BACKENDS = ("auto", "onnx", "torch")


class OnnxNetwork:
    """An ONNX Runtime session called like the torch module it was exported from (tensors in,
    a tensor or a tuple of tensors out). An input the graph cannot take (IID-Net's top-15 on a
    tile with fewer than 15 positions) goes to the module."""

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
            outs = self.session.run(None, {n: np.ascontiguousarray(x.numpy()) for n, x in zip(self.inputs, xs)})
        except Exception:  # onnxruntime raises its own Fail / InvalidArgument types
            with torch.no_grad():
                return self.module(*xs)
        outs = [torch.from_numpy(o) for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)


def load_network(method: Method, card: dict, weights) -> torch.nn.Module:
    net = method.build(card["network"])
    net.load_state_dict(load_weights(weights))
    return net.eval()


def onnx_runner(net: torch.nn.Module, method: Method, card: dict, threads: int) -> OnnxNetwork | None:
    """The network in ONNX Runtime, or None when the exporter or runtime is missing or the
    exported graph disagrees with PyTorch (PyTorch still works then)."""
    try:
        from forenscope.methods.onnx import export_onnx

        model, report = export_onnx(net, method, card)
    except Exception:
        return None
    return OnnxNetwork(model, net, threads) if report["passes"] else None


class TrainedNetworkDetector(Detector):
    """A trained network plus its card; ``run=DIR`` loads ``DIR/model.safetensors`` and
    ``DIR/card.json`` (a run of ``forenscope train``) instead of the shipped weights."""

    def __init__(self, threshold: float | None = None, run: str | None = None, backend: str = "auto",
                 threads: int = 0):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        shipped_by = method_for_detector(self.name)
        weights = self._trained_weights(threshold, run, shipped_by.config if shipped_by else "")
        self.run = run
        self.method = get_method(self.card["family"])
        self.settings = self.card.get("input", {})
        self.net = load_network(self.method, self.card, weights)
        runner = onnx_runner(self.net, self.method, self.card, threads or os.cpu_count() or 1) \
            if backend in ("auto", "onnx") else None
        if backend == "onnx" and runner is None:
            raise RuntimeError("backend 'onnx' needs the onnxruntime and onnx packages")
        self.backend = "torch" if runner is None else "onnx"
        self.runner = runner or self.net

    def config(self) -> dict:
        return {**super().config(), "backend": self.backend, "run": self.run, **self.method.describe(self.settings),
                "weights_sha256": self.card.get("weights_sha256")}

    def outputs(self, *inputs: torch.Tensor):
        """The network's raw outputs for prepared inputs (the model path benchmarks time)."""
        with torch.inference_mode():
            return self.runner(*inputs)

    def _analyze(self, rgb: np.ndarray, meta: ImageMeta | None) -> Analysis:
        r = self.method.read(self.runner, rgb, self.card)
        mask = None if r.heatmap is None else r.heatmap >= 0.5
        return Analysis(self.name, self.task, r.score, r.label or self.label_for(r.score), heatmap=r.heatmap,
                        mask=mask, extras={**r.extras, "backend": self.backend})


def trained_detector_class(method: Method) -> type[TrainedNetworkDetector]:
    """The detector class of a method (registered under its detector name by the registry)."""
    return type(f"{type(method).__name__}Detector", (TrainedNetworkDetector,),
                {"__doc__": type(method).__doc__, "__module__": __name__})
