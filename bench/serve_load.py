"""A bounded load test of `forenscope serve` on loopback: a fixed number of requests at a fixed
concurrency, in several rounds, against a server started by this script.

Prints per round: requests/s, p50 / p99 latency, status counts (5xx other than the intended
503 are errors), and the server's resident memory after the round and at its peak, so growth
across rounds is visible. Writes bench/results/serve_load.json.

    .venv/bin/python bench/serve_load.py [--requests 2000] [--concurrency 8] [--rounds 3]
        [--detector npr --detector effunet-cm] [--size 256]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from forenscope.records import environment, git_commit  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_images(n: int, size: int) -> list[bytes]:
    """A few distinct JPEGs (smooth content plus noise), cycled through by the requests."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        y, x = np.mgrid[0:size, 0:size] / size
        base = np.stack([128 + 90 * np.sin(6 * x + rng.uniform(0, 6)), 128 + 90 * np.cos(5 * y), 128 + 60 * x], -1)
        img = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def multipart(data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident set size of a process, KiB, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


KEY = secrets.token_urlsafe(32)  # the service runs with authentication, as a team would run it


def one_request(port: int, body: bytes, ctype: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/v1/analyze", body=body, headers={"Content-Type": ctype, "Authorization": f"Bearer {KEY}"})
        resp = conn.getresponse()
        resp.read()
        status = resp.status
    except OSError:
        status = -1  # connection refused / reset: counted as an error
    finally:
        conn.close()
    return status, time.perf_counter() - t0


def run_round(port: int, bodies: list, requests: int, concurrency: int) -> dict:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda i: one_request(port, *bodies[i % len(bodies)]), range(requests)))
    wall = time.perf_counter() - t0
    lat = np.array([r[1] for r in results]) * 1000
    codes: dict[str, int] = {}
    for status, _ in results:
        codes[str(status)] = codes.get(str(status), 0) + 1
    errors = sum(n for c, n in codes.items() if c == "-1" or (c.startswith("5") and c != "503"))
    return {"requests": requests, "seconds": round(wall, 2), "requests_per_s": round(requests / wall, 2),
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "status": codes, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--detector", action="append", default=[])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve_load.json")
    args = ap.parse_args()
    detectors = args.detector or ["npr", "effunet-cm"]
    port = free_port()
    # one client sends everything here: its per-client limits are off, the global queue (503) stays
    cmd = [sys.executable, "-c", "from forenscope.cli import main; main()", "serve", "--port", str(port),
           "--workers", str(args.workers), "--rate", "0", "--client-concurrency", "0"] + \
        [x for d in detectors for x in ("-d", d)]
    log = tempfile.TemporaryFile()  # the server logs a line per request: a pipe nobody reads would fill
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log,
                              env=dict(os.environ, FORENSCOPE_API_KEYS=f"{KEY} load-test"))
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            log.seek(0)
            raise SystemExit(f"server did not start: {log.read().decode()[-2000:]}")
        bodies = [multipart(b) for b in test_images(8, args.size)]
        peak = {"max": 0}
        stop = threading.Event()

        def watch():  # RSS every 50 ms: the peak between rounds too
            while not stop.wait(0.05):
                peak["max"] = max(peak["max"], rss_kib(server.pid)[0])

        threading.Thread(target=watch, daemon=True).start()
        rounds = []
        print(f"{len(detectors)} detectors ({', '.join(detectors)}), {args.size}x{args.size} JPEG, "
              f"{args.requests} requests x {args.rounds} rounds at {args.concurrency} concurrent, {args.workers} workers")
        print(f"{'round':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'RSS MiB':>8} {'peak MiB':>9}  status")
        for k in range(args.rounds):
            r = run_round(port, bodies, args.requests, args.concurrency)
            r["rss_mib_after"] = round(rss_kib(server.pid)[0] / 1024, 1)
            r["peak_rss_mib"] = round(max(peak["max"], rss_kib(server.pid)[1]) / 1024, 1)
            rounds.append(r)
            print(f"{k + 1:>5} {r['requests_per_s']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['errors']:>7} "
                  f"{r['rss_mib_after']:>8} {r['peak_rss_mib']:>9}  {r['status']}")
        stop.set()
    finally:
        server.terminate()
        server.wait(30)
    growth = rounds[-1]["rss_mib_after"] - rounds[0]["rss_mib_after"]
    print(f"memory after the last round minus after the first: {growth:+.1f} MiB; server errors: "
          f"{sum(r['errors'] for r in rounds)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()} | {"detectors": detectors},
        "rounds": rounds, "rss_growth_mib": round(growth, 1),
        "git": git_commit(), "environment": environment()}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
