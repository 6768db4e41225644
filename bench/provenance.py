"""Provenance evidence on real data and on files made here, and what it costs per image.

    .venv/bin/python bench/provenance.py [--data ../shared/data] [--limit 0] [--out bench/results/provenance.json]

Sets: every image of generated_train and generators_pool (generated), real and real_scenes
(real photos), and files this script makes from one shipped example: PNGs with each known
generator signature, JPEGs with camera EXIF, the SD 1.x and SDXL watermarks (PNG; JPEG q90 with
4:4:4 and with 4:2:0 chroma; JPEG q50), and a C2PA-signed JPEG (a certificate chain made here,
as in tests/test_provenance.py). For each set: how many images get strong evidence (and of
which claim), weak, info only, or none. Time per image: reading the file's evidence from its
bytes (decode excluded: every detector needs the pixels anyway), reading the watermark from the
pixels, and both; the target is under 20 ms for images without a manifest.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from forenscope.detectors import load_detector  # noqa: E402
from forenscope.records import environment, git_commit  # noqa: E402
from forenscope.imageio import IMAGE_EXTENSIONS, decode_image, file_provenance  # noqa: E402
from forenscope.provenance.watermark import PAYLOADS, read_watermarks  # noqa: E402

EXAMPLE = REPO / "examples" / "forged" / "astronaut_copymove.png"


def shared_sets(data: Path, limit: int) -> dict[str, list[tuple[str, bytes]]]:
    sets = {}
    for name, roots in {"generated (generated_train + generators_pool)": ["generated_train", "generators_pool"],
                        "real photos (real + real_scenes)": ["real", "real_scenes"]}.items():
        files = sorted(p for r in roots for p in (data / r).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        files = files[:limit] if limit else files
        sets[name] = [(str(p), p.read_bytes()) for p in files]
    return sets


def made_sets() -> dict[str, list[tuple[str, bytes]]]:
    """Files with known evidence, made from the shipped example."""
    import cv2
    from test_provenance import SIGNED_TEXT, _certificate_chain, png_bytes

    rgb = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    small = rgb[::4, ::4].copy()
    out = {"made: generator metadata (PNG)": [(k, png_bytes(small, *v)) for k, v in SIGNED_TEXT.items()]}
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D Mark IV"
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92, exif=exif)
    out["made: camera EXIF only (JPEG)"] = [("camera", buf.getvalue())]
    try:
        import imwatermark
    except ImportError:
        print("invisible-watermark not installed: no watermarked files", file=sys.stderr)
    else:
        marked = []
        sd1 = imwatermark.WatermarkEncoder()
        sd1.set_watermark("bytes", b"StableDiffusionV1")
        sdxl = imwatermark.WatermarkEncoder()
        sdxl.set_watermark("bits", list(PAYLOADS["SDXL (48-bit message)"]))
        for name, img in (("sd1", sd1.encode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), "dwtDct")[..., ::-1]),
                          ("sdxl", sdxl.encode(rgb.copy(), "dwtDct"))):
            img = np.ascontiguousarray(img)
            for label, kw in (("png", None), ("jpeg q90 4:4:4", {"quality": 90, "subsampling": 0}),
                              ("jpeg q90 4:2:0", {"quality": 90, "subsampling": 2}), ("jpeg q50", {"quality": 50})):
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, "PNG" if kw is None else "JPEG", **(kw or {}))
                marked.append((f"{name} {label}", buf.getvalue()))
        out["made: watermarked"] = marked
    try:
        import c2pa
    except ImportError:
        print("c2pa-python not installed: no signed file", file=sys.stderr)
    else:
        chain, key, _ = _certificate_chain()
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
        src, dst = io.BytesIO(), io.BytesIO()
        Image.fromarray(rgb).save(src, "JPEG", quality=90)
        manifest = {"claim_generator_info": [{"name": "TestGen", "version": "1"}], "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType":
             "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}]}
        c2pa.Builder(manifest).sign(signer, "image/jpeg", io.BytesIO(src.getvalue()), dst)
        out["made: C2PA signed (JPEG)"] = [("c2pa", dst.getvalue())]
    return out


def measure(files: list[tuple[str, bytes]], det) -> dict:
    counts, file_ms, mark_ms, details = {}, [], [], []
    for name, data in files:
        rgb, meta = decode_image(data, source=name)
        t = time.perf_counter()
        file_provenance(data, rgb, meta)
        file_ms.append(1e3 * (time.perf_counter() - t))
        t = time.perf_counter()
        read_watermarks(rgb)
        mark_ms.append(1e3 * (time.perf_counter() - t))
        a = det.analyze(rgb, meta)
        items = a.extras["evidence"]
        strong = sorted({i["claim"] for i in items if i["strength"] == "strong"})
        key = ("strong " + "+".join(strong) if strong else
               "weak" if any(i["strength"] == "weak" for i in items) else
               "info only" if items else "none")
        counts[key] = counts.get(key, 0) + 1
        details.append({"file": name, "label": a.label, "evidence": key,
                        "watermark": a.extras.get("watermark", {}).get("status")})
    both = np.add(file_ms, mark_ms)
    return {"n": len(files), "counts": counts,
            "ms_file_evidence_median": float(np.median(file_ms)), "ms_watermark_median": float(np.median(mark_ms)),
            "ms_total_median": float(np.median(both)), "ms_total_p95": float(np.percentile(both, 95)),
            "details": details if len(files) <= 20 else None}


def package_decoder_ms(repeats: int = 5) -> float | None:
    """invisible-watermark's own reader (a Python loop over 4x4 blocks), for comparison."""
    try:
        from imwatermark.maxDct import EmbedMaxDct
    except ImportError:
        return None
    bgr = np.ascontiguousarray(np.asarray(Image.open(EXAMPLE).convert("RGB"))[..., ::-1])
    t = time.perf_counter()
    for _ in range(repeats):
        EmbedMaxDct(watermarks=[], wmLen=136).decode(bgr)
    return 1e3 * (time.perf_counter() - t) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("FORENSCOPE_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--limit", type=int, default=0, help="at most this many files per shared set (0: all)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "provenance.json")
    args = ap.parse_args()
    det = load_detector("provenance")
    sets = made_sets()
    if args.data.is_dir():
        sets = shared_sets(args.data, args.limit) | sets
    result = {"sets": {}, "git": git_commit(), "environment": environment(), "limit": args.limit}
    print(f"{'set':52} {'n':>5}  {'file ms':>7} {'mark ms':>7} {'total ms (p95)':>15}  evidence")
    for name, files in sets.items():
        m = measure(files, det)
        result["sets"][name] = m
        print(f"{name:52} {m['n']:5d}  {m['ms_file_evidence_median']:7.2f} {m['ms_watermark_median']:7.2f} "
              f"{m['ms_total_median']:7.2f} ({m['ms_total_p95']:5.1f})  {json.dumps(m['counts'])}")
        for d in m["details"] or []:
            print(f"    {d['file']:40} {d['label']:12} {d['evidence']:20} watermark: {d['watermark']}")
    result["package_decoder_ms"] = package_decoder_ms()
    if result["package_decoder_ms"]:
        print(f"invisible-watermark's own dwtDct decoder on the 512x512 example: {result['package_decoder_ms']:.1f} ms "
              "(one payload, one channel order)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
