"""``forenscope export MODEL --onnx``: a shipped network (or a training run's) as an ONNX file,
checked against PyTorch on inputs of another batch size (and image size, where the network
takes any) than the one it was traced with.

The inputs are exactly what the detector feeds its network (the method's ``batch``), so the
exported graph can replace PyTorch in any runtime.
"""

from __future__ import annotations

import json
from pathlib import Path

from forenscope.methods import get_method
from forenscope.methods.onnx import export_onnx
from forenscope.records import write_json


def export_detector(name: str, out: Path, run: str | None = None, atol: float = 1e-4) -> dict:
    """Export the network of detector ``name`` (shipped, or ``run``'s) to ``out``; the check
    report is written beside it as ``<out>.json``. Raises ValueError for detectors without a
    network and when the check fails."""
    from forenscope.detectors import describe_detector
    from forenscope.nets.weights import load_weights

    if run:
        card = json.loads((Path(run) / "card.json").read_text())
        weights = Path(run) / "model.safetensors"
    else:
        card = describe_detector(name)
        from importlib import resources

        weights = Path(str(resources.files("forenscope") / "weights" / f"{name}.safetensors"))
    if "family" not in card or "network" not in card:
        raise ValueError(f"{name!r} has no trained network to export (a classical detector, or a fusion)")
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found")
    method = get_method(card["family"])
    net = method.build(card["network"])
    net.load_state_dict(load_weights(weights))  # and its shards, when it has any
    model, report = export_onnx(net, method, card, atol)
    report |= {"detector": name, "weights_sha256": card.get("weights_sha256"), "path": str(out)}
    if not report["passes"]:
        raise ValueError(f"{name}: ONNX differs from PyTorch by {report['max_abs_diff']:.2e} > {atol:g}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(model)
    write_json(Path(str(out) + ".json"), report)
    return report
