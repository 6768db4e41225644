"""What int8 would buy a generated-image detector here: its shipped ONNX graph against the same
graph statically quantised by ONNX Runtime (QOperator, per-channel weights, uint8 activations
calibrated on the shipped examples/), timed in alternation so that a slow minute of this machine
hits both alike, and how far the quantised logits move on images it was not calibrated on.

A measurement, not a shipped path: the probes were fitted on FP32 features, so an int8 detector
would need its probes refitted on int8 features (and its leave-family-out figures rerun).

    .venv/bin/python bench/int8_speed.py --detector lite-probe-pair --out bench/results/int8_speed.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from forenscope.detectors import load_detector  # noqa: E402
from forenscope.imageio import read_image  # noqa: E402
from forenscope.records import environment, git_commit  # noqa: E402


def quantised(fp32: Path, out: Path, inputs: list[np.ndarray]) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.left = iter(inputs)

        def get_next(self):
            x = next(self.left, None)
            return None if x is None else {"x": x}

    pre = out.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32), str(pre))
    quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out


def calibration_inputs(det) -> tuple[list[Path], list[np.ndarray]]:
    """The shipped examples/ images and the detector's first input tile of each (calibration data)."""
    examples = sorted(p for sub in ("original", "forged") for p in (REPO / "examples" / sub).iterdir()
                      if p.suffix.lower() in (".png", ".jpg"))
    return examples, [det.method.tiles(read_image(p)[0], det.settings)[:1] for p in examples]


def alternating_rates(sessions: dict, x: np.ndarray, rounds: int, per_round: int) -> dict:
    """Images/s of each session over ``rounds`` alternating rounds: best and median."""
    for s in sessions.values():
        s.run(None, {"x": x})
    got = {k: [] for k in sessions}
    for _ in range(rounds):
        for k, s in sessions.items():
            t = time.perf_counter()
            for _ in range(per_round):
                s.run(None, {"x": x})
            got[k].append(per_round / (time.perf_counter() - t))
    return {k: {"best": max(v), "median": float(np.median(v))} for k, v in got.items()}


def main() -> None:
    import onnxruntime as ort

    from forenscope.methods.onnx import export_onnx

    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", default="lite-probe-pair")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "int8_speed.json")
    args = ap.parse_args()
    det = load_detector(args.detector, backend="torch")
    examples, calib = calibration_inputs(det)
    rng = np.random.default_rng(0)
    # unseen inputs: crops of the examples at other offsets, flipped (no shared data needed)
    unseen = [np.ascontiguousarray(c[..., 16:, 16:][..., ::-1]) for c in calib]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        fp32.write_bytes(export_onnx(det.net, det.method, det.card)[0])
        int8 = quantised(fp32, Path(tmp) / "int8.onnx", calib)
        sessions = {k: ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
                    for k, p in (("fp32", fp32), ("int8", int8))}
        x = rng.uniform(0, 1, (1, 3, args.size, args.size)).astype(np.float32)
        rates = alternating_rates(sessions, x, args.rounds, 8)
        shift = [float(np.abs(sessions["int8"].run(None, {"x": u})[0] - sessions["fp32"].run(None, {"x": u})[0]).max())
                 for u in unseen]
        sizes = {k: p.stat().st_size for k, p in (("fp32", fp32), ("int8", int8))}
    result = {"detector": args.detector, "size": args.size, "threads": 2, "images_per_s": rates,
              "int8_over_fp32_median": rates["int8"]["median"] / rates["fp32"]["median"],
              "max_abs_logit_shift_unseen": max(shift), "mean_abs_logit_shift_unseen": float(np.mean(shift)),
              "calibration_images": [p.relative_to(REPO).as_posix() for p in examples], "onnx_bytes": sizes,
              "git": git_commit(), "environment": environment()}
    for k, v in rates.items():
        print(f"{args.detector} {k}: {v['median']:.1f} img/s median, {v['best']:.1f} best ({args.size} px, network alone)")
    print(f"int8 / fp32: {result['int8_over_fp32_median']:.2f}x; logit shift on unseen crops: max "
          f"{result['max_abs_logit_shift_unseen']:.3f}, mean {result['mean_abs_logit_shift_unseen']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
