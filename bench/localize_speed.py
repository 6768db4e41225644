"""Cost of localisation as images grow: megapixels/s and peak memory at 1, 6 and 24 MP.

    python bench/localize_speed.py [--detector copymove-sift --detector effunet ...]
        [--run effunet=work/runs/effunet] [--megapixels 1 6 24]

For each detector and size, one fresh process decodes the JPEG, loads the detector and
localises the image (heatmap and mask at full size); the analysis time is measured inside the
process (so start-up and model loading are not counted in MP/s) and peak resident memory of
the whole process by /usr/bin/time (or getrusage). Inputs are made from the shipped example
photo (upscaled, with sensor-like noise). Writes bench/results/localize_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from localize_memory import LIMIT_BYTES, make_big_jpeg, measure  # noqa: E402

CHILD = r"""
import json, sys, time
from forenscope.detectors import load_detector
from forenscope.imageio import read_image
params = json.loads(sys.argv[3])
det = load_detector(sys.argv[2], **params)
t0 = time.perf_counter()
pixels, meta = read_image(sys.argv[1], max_pixels=200_000_000)
t1 = time.perf_counter()
a = det.analyze(pixels, meta)
t2 = time.perf_counter()
assert a.heatmap.shape == pixels.shape[:2]
open(sys.argv[4], "w").write(json.dumps({"decode_s": t1 - t0, "analyze_s": t2 - t1, "score": a.score}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", action="append", default=None)
    ap.add_argument("--run", action="append", default=[], help="NAME=DIR of a training run")
    ap.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 6.0, 24.0])
    args = ap.parse_args()
    runs = dict(r.split("=", 1) for r in args.run)
    detectors = args.detector or ["ela", "copymove-sift"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mp in args.megapixels:
            img = Path(tmp) / f"{mp:g}mp.jpg"
            w, h = make_big_jpeg(img, mp)
            for det in detectors:
                params = {"run": runs[det]} if det in runs else {}
                report = Path(tmp) / "timing.json"
                report.unlink(missing_ok=True)
                peak, wall, rc = measure([sys.executable, "-c", CHILD, str(img), det, json.dumps(params), str(report)])
                timing = json.loads(report.read_text()) if rc == 0 and report.is_file() else {}
                secs = timing.get("analyze_s")
                rows.append({"detector": det, "megapixels": round(w * h / 1e6, 2), "width": w, "height": h,
                             "analyze_s": secs, "decode_s": timing.get("decode_s"),
                             "megapixels_per_s": (w * h / 1e6 / secs) if secs else None,
                             "peak_rss_bytes": peak, "under_2GB": peak < LIMIT_BYTES, "exit_code": rc})
                mps = f"{w * h / 1e6 / secs:6.2f} MP/s" if secs else "failed"
                print(f"{det:14s} {w * h / 1e6:5.1f} MP  {mps}  analyse {secs or 0:6.2f} s  "
                      f"peak {peak / 1024**3:.2f} GiB  exit {rc}")
    from forenscope.records import environment, git_commit

    result = {"results": rows, "limit_bytes": LIMIT_BYTES, "runs": runs, "git": git_commit(),
              "environment": environment(), "cpu_count": os.cpu_count()}
    dest = REPO / "bench" / "results" / "localize_speed.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
