"""``forenscope scan`` (a folder into a resumable report), ``serve`` (the HTTP service) and
``export`` (a network as ONNX)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from forenscope import DEFAULT_DETECTORS
from forenscope.cli.common import MAXPIX, PROGRESS, app, check_name, exit_on, fail, load, log, stderr, warn_if_research
from forenscope.cli.progress import progress_bar


@app.command()
def scan(
    folder: Path = typer.Argument(..., help="Folder of images (searched recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="Report folder: results.jsonl, report.html, summary.png, assets/. A rerun resumes."),
    detector: list[str] = typer.Option([], "--detector", "-d", help=f"Detectors to run (repeatable; default {', '.join(DEFAULT_DETECTORS)})."),
    band: float = typer.Option(1.0, "--band", help="Margin in logit units around each threshold that counts as uncertain."),
    views: bool = typer.Option(True, "--views/--no-views", help="ELA and noise pictures per image."),
    engine: str = typer.Option("local", "--engine", help="local | ray (Ray actors; pip install 'forenscope\\[distributed]')."),
    workers: int = typer.Option(2, "--workers", help="With --engine ray: actors (one CPU each)."),
    gpus_per_worker: float = typer.Option(0.0, "--gpus-per-worker", help="With --engine ray: GPUs per actor (needs onnxruntime-gpu on the workers)."),
    parquet: bool = typer.Option(False, "--parquet", help="Also write results.parquet (flat columns + each full line; needs pyarrow)."),
    max_pixels: int = MAXPIX,
    progress: Optional[bool] = PROGRESS,
) -> None:
    """Scan a folder into a report: one verdict per image (authentic / generated / tampered /
    uncertain) with the scores behind it, heatmaps, ELA, noise, EXIF and JPEG facts. Resumable:
    killed and run again, it skips what is done. Exit status 1 if any input failed."""
    from forenscope.scan.job import ScanConfig, scan as run_scan

    if folder.is_file():
        fail(f"{folder} is a file: scan takes a folder and writes one report for it; for single files use "
             f"`forenscope detect {folder}`")
    cfg = ScanConfig(detectors=detector or list(DEFAULT_DETECTORS), band=band,
                     max_pixels=max_pixels, views=views)
    dets = [load(name, {}) for name in cfg.detectors]  # unknown names fail here, before any work
    if engine not in ("local", "ray"):
        raise typer.BadParameter("must be local or ray", param_hint="--engine")
    if engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            fail("--engine ray needs Ray: pip install 'forenscope[distributed]'")
    if parquet:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            fail("--parquet needs pyarrow: pip install pyarrow")
    with ExitStack() as stack:
        def bar(total):
            return stack.enter_context(progress_bar(total, progress, "scan"))
        with exit_on(FileNotFoundError):
            counts = run_scan(folder, out, cfg, log=log, progress=bar, detectors=dets, engine=engine, workers=workers,
                              parquet=parquet, gpus_per_worker=gpus_per_worker)
    stderr.print(f"{counts['analysed']} analysed, {counts['failed']} failed, {counts['duplicates']} duplicates, "
                 f"{counts['skipped']} done before; report: {out / 'report.html'}", highlight=False)
    raise typer.Exit(1 if counts["failed"] else 0)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; 0.0.0.0 exposes the service to your network."),
    port: int = typer.Option(8000, "--port"),
    detector: list[str] = typer.Option([], "--detector", "-d", help=f"Default detectors (repeatable; default {', '.join(DEFAULT_DETECTORS)}); a request may name others."),
    workers: int = typer.Option(2, "--workers", help="Analyses running at once."),
    queue: int = typer.Option(8, "--queue", help="Requests that may wait; beyond, 503."),
    max_upload_mb: float = typer.Option(25.0, "--max-upload-mb", help="Largest upload accepted (413 beyond)."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help="Largest image in pixels (413 beyond; decompression bombs)."),
    api_key_file: Optional[Path] = typer.Option(None, "--api-key-file", help="API keys, one per line as `KEY [NAME]`; also $FORENSCOPE_API_KEYS (comma-separated). Clients send `Authorization: Bearer KEY`."),
    insecure: bool = typer.Option(False, "--insecure", help="Allow binding beyond loopback without API keys (anyone who reaches the port may use it)."),
    rate: int = typer.Option(120, "--rate", help="Requests per minute per client (key, or address without keys); 429 beyond. 0: no limit."),
    client_concurrency: int = typer.Option(4, "--client-concurrency", help="Analyses at once per client; 429 beyond. 0: no limit."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds for a whole request: 408 if the upload is not in by then, 503 if the analysis is not done."),
    cors_origin: Optional[str] = typer.Option(None, "--cors-origin", help="Let pages from this origin (e.g. https://desk.example.org) call the API; off by default."),
) -> None:
    """Serve the detectors over HTTP: POST /v1/analyze, GET /v1/models, /healthz, /openapi.json,
    and a page at / to drop an image on."""
    import logging

    import uvicorn

    from forenscope.serve.app import create_app
    from forenscope.serve.security import KeyError_, is_loopback, load_keys

    with exit_on(KeyError_):
        keys = load_keys(api_key_file)
    if not keys and not is_loopback(host) and not insecure:
        fail(f"refusing to serve on {host} without API keys: anyone who can reach the port could use it. "
             "Give --api-key-file FILE (or $FORENSCOPE_API_KEYS), bind 127.0.0.1, or add --insecure.")
    names = detector or list(DEFAULT_DETECTORS)
    for name in names:  # fail now, with "did you mean", not on the first request (no weights loaded yet)
        check_name(name)
    with exit_on(FileNotFoundError):  # preload loads each detector once (missing weights: exit 2)
        app_ = create_app(names, max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_pixels=max_pixels,
                          workers=workers, queue=queue, preload=True, api_keys=keys, rate_per_minute=rate,
                          concurrent_per_client=client_concurrency, request_timeout=timeout, cors_origin=cors_origin)
    for name in names:
        warn_if_research(name)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    access = f"{len(keys)} API key(s)" if keys else "NO AUTHENTICATION (--insecure)" if not is_loopback(host) \
        else "no API keys (loopback only)"
    log(f"forenscope serving on http://{host}:{port}/ (detectors {', '.join(names)}; {access}; "
        f"{rate or 'unlimited'} requests/min and {client_concurrency or 'unlimited'} analyses at once "
        f"per client; {timeout:g} s per request)")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command()
def export(
    model: str = typer.Argument(..., help="A detector with a trained network (see `forenscope models`), or `all`."),
    onnx: bool = typer.Option(False, "--onnx", help="Export to ONNX (the only format so far)."),
    out: Path = typer.Option(Path("export"), "--out", "-o", help="Output .onnx file, or a folder (with `all`, or when it is one)."),
    run: Optional[Path] = typer.Option(None, "--run", help="Export a training run's network instead of the shipped one."),
    atol: float = typer.Option(1e-4, "--atol", help="Largest |ONNX Runtime - PyTorch| accepted on the check input."),
) -> None:
    """Export a network to ONNX, checked against PyTorch (report beside it as <file>.json)."""
    from forenscope.export import export_detector
    from forenscope.methods import available_methods, get_method

    if not onnx:
        raise typer.BadParameter("choose a format: --onnx", param_hint="--onnx")
    if model == "all":  # every detector with a trained network, from the methods registry (no weights loaded)
        names = [get_method(m).detector_name for m in available_methods()]
    else:
        check_name(model, "MODEL")  # "did you mean" on typos, without loading the detector
        names = [model]
    failed = 0
    for name in names:
        path = out / f"{name}.onnx" if (model == "all" or out.is_dir() or not out.suffix) else out
        try:
            r = export_detector(name, path, str(run) if run else None, atol)
            stderr.print(f"{name}: {path} ({r['bytes'] / 1e6:.1f} MB), max |ORT - PyTorch| {r['max_abs_diff']:.1e}",
                         highlight=False)
        except (ValueError, FileNotFoundError) as exc:
            failed += 1
            stderr.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
    raise typer.Exit(1 if failed else 0)

