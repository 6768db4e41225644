"""Cost of the probe pairs a leave-family-out protocol compares (default generator-holdout-fast):
each pair's GFLOP per 512 x 512 image, and the network alone through ONNX Runtime in FP32 and
statically quantised to int8 (bench/int8_speed.py's recipe, calibrated on examples/), timed in
alternation so that a slow minute of this machine hits every graph alike. Random probe weights:
the cost does not depend on them.

    .venv/bin/python bench/probe_views_speed.py --out bench/results/probe_views_speed.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from detect_speed import matmul_gflops, network_gflop  # noqa: E402
from int8_speed import alternating_rates, calibration_inputs, quantised  # noqa: E402
from forenscope.records import environment, git_commit  # noqa: E402


def pairs(protocol: dict) -> dict[str, list[dict]]:
    """Each fusion row of the protocol as the member networks of a ProbeEnsemble."""
    probes = {m["name"]: m for m in protocol["methods"] if m["kind"] == "probe"}
    keys = ("encoder", "taps", "views", "residual_sigma")
    return {m["name"]: [{k: probes[p][k] for k in keys if k in probes[p]} for p in m["of"]]
            for m in protocol["methods"] if m["kind"] == "fusion"}


def main() -> None:
    import onnxruntime as ort
    import torch

    from forenscope.benchmarks.benchmark import load_protocol
    from forenscope.detectors import load_detector
    from forenscope.methods.onnx import export_onnx
    from forenscope.nets.lite_probe import ProbeEnsemble

    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", default="generator-holdout-fast")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "probe_views_speed.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    det = load_detector("lite-probe-pair", backend="torch")  # its method: the pair's input preparation
    calib = calibration_inputs(det)[1]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    gflop, sessions = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, members) in enumerate(pairs(load_protocol(args.protocol)).items()):
            net = ProbeEnsemble(tuple(members)).eval()
            gflop[name] = network_gflop(net, (1, 3, args.size, args.size))
            fp32 = Path(tmp) / f"{k}.onnx"
            fp32.write_bytes(export_onnx(net, det.method, dict(det.card, network={"members": members}))[0])
            int8 = quantised(fp32, Path(tmp) / f"{k}-int8.onnx", calib)
            for tag, path in (("fp32", fp32), ("int8", int8)):
                sessions[f"{name} | {tag}"] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).uniform(0, 1, (1, 3, args.size, args.size)).astype(np.float32)
        rates = alternating_rates(sessions, x, args.rounds, 6)
    limit = matmul_gflops()
    rows = {name: {"gflop": round(g, 2), **{tag: rates[f"{name} | {tag}"] for tag in ("fp32", "int8")}}
            for name, g in gflop.items()}
    print(f"FP32 matmul limit: {limit:.0f} GFLOP/s (2 threads); network alone at {args.size} px, median img/s")
    for name, r in rows.items():
        print(f"{name:60s} {r['gflop']:5.1f} GFLOP  fp32 {r['fp32']['median']:5.1f}  int8 {r['int8']['median']:5.1f}")
    result = {"protocol": args.protocol, "size": args.size, "threads": 2, "matmul_gflops": limit, "pairs": rows,
              "note": "network alone (views, trunks, pooling, probes) on one random 512-px input; random probe "
                      "weights; int8 = ONNX Runtime static quantisation calibrated on examples/",
              "git": git_commit(), "environment": environment()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
