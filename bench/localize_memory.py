"""Peak memory of `forenscope localize` on a 24-megapixel JPEG, per classical detector.

    python bench/localize_memory.py [--megapixels 24] [--detector ela ...]

Makes a 6000 x 4000 JPEG (quality 92) from the shipped example photo (upscaled, with
sensor-like noise so it is not trivially smooth), then runs each detector in its own process
under `/usr/bin/time -v` (falling back to getrusage when it is missing) and prints the peak
resident memory and wall time. Writes bench/results/localize_memory.json. Target: < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
LIMIT_BYTES = 2 * 1024**3


def make_big_jpeg(path: Path, megapixels: float, seed: int = 0) -> tuple[int, int]:
    width = int(round(np.sqrt(megapixels * 1e6 * 3 / 2)))
    height = int(round(width * 2 / 3))
    photo = Image.open(REPO / "examples" / "original" / "coffee.jpg").convert("RGB")
    big = np.asarray(photo.resize((width, height), Image.BICUBIC), dtype=np.uint8).copy()
    rng = np.random.default_rng(seed)
    for rows in range(0, height, 500):  # add noise in bands: keeps this script's own memory low
        band = big[rows:rows + 500].astype(np.int16) + rng.integers(-3, 4, big[rows:rows + 500].shape, dtype=np.int16)
        big[rows:rows + 500] = np.clip(band, 0, 255)
    Image.fromarray(big).save(path, quality=92)
    return width, height


def measure(cmd: list[str]) -> tuple[int, float, int]:
    """(peak RSS bytes, wall seconds, exit code) of one command."""
    t0 = time.perf_counter()
    if shutil.which("time") or Path("/usr/bin/time").exists():
        out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
        peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    else:
        out = subprocess.run(cmd, capture_output=True, text=True)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak_kb * 1024, time.perf_counter() - t0, out.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--megapixels", type=float, default=24.0)
    ap.add_argument("--detector", action="append", default=None)
    args = ap.parse_args()
    detectors = args.detector or ["ela", "noise", "jpeg-ghost"]
    exe = str(Path(sys.executable).parent / "forenscope")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        img = Path(tmp) / "big.jpg"
        w, h = make_big_jpeg(img, args.megapixels)
        print(f"input: {w}x{h} = {w * h / 1e6:.1f} MP JPEG, {img.stat().st_size / 1e6:.1f} MB")
        for det in detectors:
            peak, secs, rc = measure([exe, "localize", str(img), "-d", det, "-o", str(Path(tmp) / "out"),
                                      "-f", "jsonl", "--no-progress"])
            rows.append({"detector": det, "peak_rss_bytes": peak, "wall_s": round(secs, 2), "exit_code": rc,
                         "under_2GB": peak < LIMIT_BYTES})
            print(f"{det:12s} peak {peak / 1024**3:.2f} GiB  wall {secs:6.1f} s  exit {rc}")
    from forenscope.records import environment, git_commit
    out = {"input": {"width": w, "height": h, "megapixels": w * h / 1e6, "jpeg_quality": 92},
           "results": rows, "limit_bytes": LIMIT_BYTES, "git": git_commit(), "environment": environment(),
           "cpu_count": os.cpu_count()}
    dest = REPO / "bench" / "results" / "localize_memory.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {dest}")
    sys.exit(0 if all(r["under_2GB"] and r["exit_code"] == 0 for r in rows) else 1)


if __name__ == "__main__":
    main()
