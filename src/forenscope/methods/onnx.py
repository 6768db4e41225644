"""A trained network as ONNX, checked against PyTorch on inputs of another batch size (and image
size, where the network takes any) than the one it was traced with. The inputs are exactly what
the detectors feed their networks (the method's ``batch``). Used in memory by the detectors
(ONNX Runtime inference) and by ``forenscope export``.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch

from forenscope.methods.base import Method


def example_inputs(method: Method, card: dict, batch: int, size: tuple[int, int], seed: int,
                   smooth: bool = False) -> tuple[torch.Tensor, ...]:
    """Inputs as the detector builds them, from seeded random-texture images (``smooth``:
    large flat areas and no noise, where data-dependent choices inside a network differ)."""
    rng = np.random.default_rng(seed)

    def image(h, w):
        import cv2

        cell = 32 if smooth else 8
        small = rng.integers(0, 256, (h // cell + 1, w // cell + 1, 3)).astype(np.uint8)
        up = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST if smooth else cv2.INTER_CUBIC)
        return up if smooth else np.clip(up + rng.normal(0, 6, up.shape), 0, 255).astype(np.uint8)

    if method.fixed_tile:
        size = (method.fixed_tile, method.fixed_tile)
    return method.batch([image(*size) for _ in range(batch)], card.get("input", {}))


def _names(n_in: int, n_out: int) -> tuple[list[str], list[str]]:
    ins = ["x"] if n_in == 1 else ["x", "features"][:n_in]
    outs = ["logits"] if n_out == 1 else [f"output{i}" for i in range(n_out)]
    return ins, outs


def export_onnx(net: torch.nn.Module, method: Method, card: dict, atol: float = 1e-4) -> tuple[bytes, dict]:
    """ONNX bytes and a check report: max |ORT - PyTorch| on a fresh input (batch 3, another
    size where the network allows it), which must be within ``atol``."""
    import onnxruntime as ort

    net.eval()
    trace = example_inputs(method, card, 1, (64, 96), seed=0)
    with torch.no_grad():
        out = net(*trace)
    outs = out if isinstance(out, tuple) else (out,)
    in_names, out_names = _names(len(trace), len(outs))
    dyn = {n: {0: "n"} for n in in_names + out_names}
    if method.dynamic_size:
        dyn["x"] = {0: "n", 2: "h", 3: "w"}
        for n in out_names:
            if outs[out_names.index(n)].dim() == 4:
                dyn[n] = {0: "n", 2: "h", 3: "w"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, trace, buf, input_names=in_names, output_names=out_names, dynamic_axes=dyn,
                          opset_version=17, dynamo=False)
    model = buf.getvalue()
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    diff = 0.0
    for smooth in (False, True):  # a graph that froze a data-dependent value fails one of them
        check = example_inputs(method, card, 3, (96, 160) if method.dynamic_size else (64, 96), 1, smooth)
        got = sess.run(None, {n: t.numpy() for n, t in zip(in_names, check)})
        with torch.no_grad():
            ref = net(*check)
        ref = ref if isinstance(ref, tuple) else (ref,)
        diff = max(diff, *(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref)))
    report = {"family": method.name, "inputs": {n: list(t.shape) for n, t in zip(in_names, check)},
              "outputs": {n: list(g.shape) for n, g in zip(out_names, got)},
              "dynamic_axes": dyn, "max_abs_diff": diff, "atol": atol, "passes": diff <= atol,
              "opset": 17, "bytes": len(model)}
    return model, report
