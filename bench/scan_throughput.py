"""Throughput of `forenscope scan`, in one run: the local scan and the Ray scan on 1 and 2
workers over the same folder of synthetic JPEGs, then the per-image cost of the local scan at
0.25, 1, 4 and 16 megapixels, so the growth with image size is visible.

    .venv/bin/python bench/scan_throughput.py [--images 2000] [--side 512] [--detector npr ...]

Prints a table and writes bench/results/scan_throughput.json. Views (ELA, noise pictures) are
on, as in a real scan. Throughput is over the whole run, start-up (loading detectors, starting
Ray) included, as a user sees it; the cost by size is the median of the per-image times the scan
records (start-up excluded: it would swamp a 5-image folder).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from forenscope.records import environment, git_commit  # noqa: E402
from forenscope.scan.job import ScanConfig, scan  # noqa: E402


def make_folder(folder: Path, n: int, h: int, w: int, seed: int = 0) -> None:
    """``n`` distinct JPEGs (smooth random colour fields plus noise; distinct bytes, so none is
    skipped as a duplicate)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = None
    for i in range(n):
        if base is None or i % 50 == 0:
            small = rng.integers(0, 256, (h // 32 + 2, w // 32 + 2, 3)).astype(np.uint8)
            base = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.int16)
        img = np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"img{i:05d}.jpg", quality=90)


def timed_scan(folder: Path, cfg: ScanConfig, engine: str, workers: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="scanbench-"))
    t0 = time.perf_counter()
    counts = scan(folder, out, cfg, log=lambda m: None, engine=engine, workers=workers)
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for line in open(out / "results.jsonl")]
    shutil.rmtree(out, ignore_errors=True)
    per_image = [r["seconds"] for r in rows if r.get("seconds")]
    return {"engine": engine, "workers": workers, "images": counts["analysed"], "failed": counts["failed"],
            "wall_s": round(wall, 1), "images_per_s": round(counts["analysed"] / wall, 2),
            "median_image_s": round(float(np.median(per_image)), 3),
            "sum_image_s": round(float(np.sum(per_image)), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--side", type=int, default=512, help="side of the throughput images")
    ap.add_argument("--detector", action="append", default=[])
    ap.add_argument("--sizes", type=float, nargs="*", default=[0.25, 1, 4, 16], help="megapixels for the cost curve")
    ap.add_argument("--per-size", type=int, default=5)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scan_throughput.json")
    args = ap.parse_args()
    git = git_commit()  # the code that runs: taken before, not after
    cfg = ScanConfig(detectors=args.detector or ["npr", "effunet-cm"])
    work = Path(tempfile.mkdtemp(prefix="scanbench-in-"))
    try:
        make_folder(work / "same", args.images, args.side, args.side)
        runs = [timed_scan(work / "same", cfg, "local", 1)]
        print(f"{args.images} images of {args.side}x{args.side}, detectors {', '.join(cfg.detectors)}")
        print(f"{'engine':>8} {'workers':>7} {'img/s':>7} {'wall s':>7} {'median s/img':>12}")
        print(f"{'local':>8} {1:>7} {runs[0]['images_per_s']:>7} {runs[0]['wall_s']:>7} {runs[0]['median_image_s']:>12}")
        if not args.no_ray:
            import ray

            for workers in (1, 2):
                r = timed_scan(work / "same", cfg, "ray", workers)
                ray.shutdown()
                runs.append(r)
                print(f"{'ray':>8} {workers:>7} {r['images_per_s']:>7} {r['wall_s']:>7} {r['median_image_s']:>12}")
        sizes = []
        print(f"\n{'MP':>6} {'side':>6} {'s/image':>8} {'s/MP':>7}  (median of {args.per_size} images)")
        for mp in args.sizes:
            side = int(round((mp * 1e6) ** 0.5))
            folder = work / f"mp{mp:g}"
            make_folder(folder, args.per_size, side, side, seed=int(mp * 100))
            r = timed_scan(folder, cfg, "local", 1)
            s = r["median_image_s"]
            sizes.append({"megapixels": mp, "side": side, "seconds_per_image": round(s, 3),
                          "seconds_per_megapixel": round(s / mp, 3), "wall_s_with_startup": r["wall_s"],
                          "images": r["images"]})
            print(f"{mp:>6g} {side:>6} {s:>8.3f} {s / mp:>7.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
                                    | {"detectors": cfg.detectors},
                                    "throughput": runs, "cost_by_size": sizes,
                                    "git": git, "environment": environment()}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
