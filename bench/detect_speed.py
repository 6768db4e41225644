"""Speed of the generated-image detectors on this CPU, in one run:

- the machine's FP32 matmul GFLOP/s (the practical limit a conv net can approach),
- `forenscope detect` on a folder of JPEGs (256x256 unless ``--size``), decode included (in process, and end to
  end as a subprocess with start-up),
- the model alone on preprocessed inputs of that size (the shipped inference path: ONNX Runtime
  when installed), and a plain PyTorch eager reference of the same network,
- each model rate as a fraction of the matmul limit (network FLOPs x images/s / GFLOP/s).

    .venv/bin/python bench/detect_speed.py [--detector npr] [--images 200] [--size 256]
    .venv/bin/python bench/detect_speed.py --detector lite-probe --detector npr --size 512 \
        --out bench/results/detect_speed_512.json

Prints a table and writes bench/results/detect_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from forenscope.detectors import load_detector  # noqa: E402
from forenscope.records import environment, git_commit  # noqa: E402
from forenscope.imageio import read_image  # noqa: E402


def matmul_gflops(n: int = 2048, seconds: float = 3.0) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best, t_end = 0.0, time.time() + seconds
    while time.time() < t_end:
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def network_gflop(net: torch.nn.Module, shape) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(*shape))
    return counter.get_total_flops() / shape[0] / 1e9


def rate(fn, n_images: int, seconds: float = 4.0) -> float:
    fn()  # warm-up
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        done += n_images
    return done / (time.perf_counter() - t0)


def make_folder(folder: Path, n: int, seed: int = 0, size: int = 256) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.uniform(0, 255, (20, 20, 3)).astype(np.uint8)
        img = np.asarray(Image.fromarray(small).resize((size, size), Image.BICUBIC), dtype=np.float32)
        img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:04d}.jpg", quality=90)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", action="append", default=None)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--size", type=int, default=256, help="side of the square test JPEGs")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "detect_speed.json")
    args = ap.parse_args()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    limit = matmul_gflops()
    print(f"FP32 matmul: {limit:.0f} GFLOP/s on {threads} threads")
    results = {"matmul_gflops": limit, "threads": threads, "images": args.images, "size": args.size, "detectors": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_folder(folder, args.images, size=args.size)
        paths = sorted(folder.iterdir())
        for name in args.detector or ["npr", "pelee-hpf"]:
            fast = load_detector(name)
            eager = load_detector(name, backend="torch")
            x1 = fast.method.tiles(read_image(paths[0])[0], fast.settings)
            xb = np.repeat(x1, 16, axis=0)
            gflop = network_gflop(eager.net, x1.shape)
            net = eager.net

            def eager_ref(x):
                with torch.no_grad():
                    net(torch.from_numpy(x))

            r = {
                "backend": fast.backend,
                "gflop_per_image": gflop,
                "detect_in_process_img_s": rate(lambda: [fast.analyze(read_image(p)[0]) for p in paths[:50]], 50),
                "model_batch1_img_s": rate(lambda: fast.outputs(torch.from_numpy(x1)), 1),
                "model_batch16_img_s": rate(lambda: fast.outputs(torch.from_numpy(xb)), 16),
                "eager_batch1_img_s": rate(lambda: eager_ref(x1), 1),
                "eager_batch16_img_s": rate(lambda: eager_ref(xb), 16),
            }
            t0 = time.perf_counter()
            proc = subprocess.run([str(REPO / ".venv" / "bin" / "forenscope"), "detect", str(folder),
                                   "--detector", name, "--format", "jsonl"], capture_output=True, text=True)
            wall = time.perf_counter() - t0
            r["detect_cli_end_to_end_img_s"] = args.images / wall if proc.returncode == 0 else None
            for key in ("model_batch1", "model_batch16", "eager_batch1", "eager_batch16"):
                r[f"{key}_fraction_of_matmul_limit"] = r[f"{key}_img_s"] * gflop / limit
            r["speedup_vs_eager_batch1"] = r["model_batch1_img_s"] / r["eager_batch1_img_s"]
            r["speedup_vs_eager_batch16"] = r["model_batch16_img_s"] / r["eager_batch16_img_s"]
            results["detectors"][name] = r
            print(f"\n{name} ({r['backend']}), {gflop:.3f} GFLOP per {args.size}x{args.size} image")
            for key in ("detect_cli_end_to_end", "detect_in_process", "model_batch1", "model_batch16",
                        "eager_batch1", "eager_batch16"):
                v = r[f"{key}_img_s"]
                frac = r.get(f"{key}_fraction_of_matmul_limit")
                extra = f"  ({frac:.0%} of the matmul limit)" if frac is not None else ""
                print(f"  {key:24s} {v:8.1f} img/s{extra}" if v else f"  {key:24s}   failed")
            print(f"  speed-up over eager: {r['speedup_vs_eager_batch1']:.2f}x (batch 1), "
                  f"{r['speedup_vs_eager_batch16']:.2f}x (batch 16)")
    results.update(git=git_commit(), environment=environment())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
