"""``forenscope serve``: the detectors behind an HTTP API and a one-page UI.

- ``POST /v1/analyze``: multipart form, the image in ``file``; ``detectors`` (comma-separated,
  form or query) picks the detectors. Returns the fused verdict, each detector's evidence and,
  for localisers, the heatmap as a base64 PNG (colour, alpha = heat, ready to lay over the image).
- ``GET /v1/models``, ``GET /healthz``, ``GET /openapi.json``, ``GET /`` (the page).

Safety: the request body is refused beyond ``max_upload_bytes`` (413), before it is read when
the client declares its length; the image's width x height is checked against ``max_pixels``
before decoding (413); the content is sniffed, never trusted from the name or the declared type
(415 when it is not an image, 422 when it is corrupt); no path ever comes from the client.
Detectors are loaded once and shared; inference runs in worker threads, at most ``workers`` at
a time with at most ``queue`` requests waiting, beyond which the answer is 503 (memory stays
bounded by workers x max_pixels). Keys, per-client limits, the request deadline and error
bodies without server details: ``serve/security.py``; every status code: docs/OUTPUT.md.
"""

import asyncio
import base64
import io
import threading
import time
from contextlib import asynccontextmanager
from functools import partial
from importlib import resources

import anyio
import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from forenscope import DEFAULT_DETECTORS
from forenscope.serve.security import ClientLimits, Guard, log, scrub

STATUS_OF_IMAGE_ERROR = {"limit": 413, "format": 415, "invalid": 422}
HEATMAP_SIDE = 1024


class Models:
    """Detectors by name, each loaded once (under a lock) and shared by all requests."""

    def __init__(self):
        self._loaded: dict = {}
        self._lock = threading.Lock()

    def get(self, name: str):
        with self._lock:
            if name not in self._loaded:
                from forenscope.detectors import load_detector

                self._loaded[name] = load_detector(name)
            return self._loaded[name]

    @property
    def loaded(self) -> list[str]:
        return sorted(self._loaded)


class Gate:
    """At most ``workers`` requests run and ``queue`` wait; the next one is turned away."""

    def __init__(self, workers: int, queue: int):
        self.workers, self.queue = workers, queue
        self.running = asyncio.Semaphore(workers)
        self.pending = 0

    def full(self) -> bool:
        return self.pending >= self.workers + self.queue


def heatmap_png(heatmap: np.ndarray) -> str:
    """Base64 PNG: jet colours, alpha = heat (so cold areas stay clear), long side <= 1024."""
    import cv2
    from PIL import Image

    h, w = heatmap.shape
    f = min(1.0, HEATMAP_SIDE / max(h, w))
    if f < 1:
        heatmap = cv2.resize(heatmap, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    heat8 = np.rint(np.clip(heatmap, 0, 1) * 255).astype(np.uint8)
    rgb = cv2.cvtColor(cv2.applyColorMap(heat8, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    rgba = np.dstack([rgb, heat8])
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG", compress_level=3)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def create_app(detectors: "list[str] | None" = None, *, max_upload_bytes: int = 25 * 1024 * 1024,
               max_pixels: int = 40_000_000, workers: int = 2, queue: int = 8, band: float = 1.0,
               preload: bool = False, api_keys: "dict[str, str] | None" = None, rate_per_minute: int = 120,
               concurrent_per_client: int = 2, request_timeout: float = 120.0, cors_origin: "str | None" = None):
    """``api_keys``: key -> name (None or empty: no authentication; the CLI refuses that beyond
    loopback unless told --insecure). Limits are per client: the key's name, else the address."""
    from starlette.formparsers import MultiPartParser

    from forenscope import __version__
    from forenscope.detectors import UnknownDetectorError, available_detectors, describe_detector
    from forenscope.detectors.registry import reported_threshold
    from forenscope.imageio import ImageError, decode_image
    from forenscope.verdict import analysis_row, fuse

    defaults = list(detectors or DEFAULT_DETECTORS)
    models = Models()
    gate_holder: dict = {}
    @asynccontextmanager
    async def lifespan(_app):
        if preload:  # load the default detectors before the first request, not during it
            for name in defaults:
                await run_in_threadpool(models.get, name)
        yield

    # /docs and /redoc would fetch their scripts from a CDN; the schema is at /openapi.json
    app = FastAPI(title="forenscope", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Is an image generated, was it tampered with, and where.")

    def gate() -> Gate:  # made inside the running event loop (its semaphore belongs to it)
        loop = asyncio.get_running_loop()
        if gate_holder.get("loop") is not loop:
            gate_holder.update(loop=loop, gate=Gate(workers, queue))
        return gate_holder["gate"]

    # uploads stay in memory (at most (workers + queue) x max_upload_bytes): nothing is written
    # to disk, so nothing is left behind by a client that disconnects mid-upload
    MultiPartParser.spool_max_size = max_upload_bytes + 64 * 1024
    app.add_middleware(Guard, keys=dict(api_keys or {}), timeout=request_timeout, max_body=max_upload_bytes + 64 * 1024,
                       limits=ClientLimits(rate_per_minute, concurrent_per_client))
    if cors_origin:  # off unless asked: a page elsewhere may not call this service by default
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=[cors_origin], allow_methods=["GET", "POST"],
                           allow_headers=["Authorization"])

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):  # the log has the traceback, the client a line
        log.exception("internal error on %s", request.url.path)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException is one too
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"detail": scrub(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return (resources.files("forenscope") / "serve" / "page.html").read_text(encoding="utf-8")

    @app.get("/healthz")
    def healthz() -> dict:
        g = gate_holder.get("gate")
        return {"status": "ok", "version": __version__, "loaded": models.loaded,
                "pending": g.pending if g else 0, "workers": workers, "queue": queue}

    @app.get("/v1/models")
    def list_models() -> dict:
        out = []
        for name in available_detectors():
            card = describe_detector(name)
            out.append({"name": name, "task": card.get("task"), "threshold": reported_threshold(card),
                        "default": name in defaults})
        return {"models": out, "defaults": defaults}

    @app.post("/v1/analyze")
    async def analyze(request: Request,
                      file: UploadFile = File(..., description="The image; its type is sniffed from the content."),
                      detectors: str | None = Form(None, description="Comma-separated detector names."),
                      detectors_q: str | None = Query(None, alias="detectors")) -> dict:
        if len((await request.form()).getlist("file")) > 1:
            raise HTTPException(422, "one image per request: send each `file` in its own request")
        names = list(dict.fromkeys(n.strip() for n in (detectors or detectors_q or "").split(",") if n.strip())) \
            or defaults
        unknown = [n for n in names if n not in available_detectors()]
        if unknown:
            try:
                describe_detector(unknown[0])
            except UnknownDetectorError as exc:
                raise HTTPException(422, str(exc)) from None
        data = await file.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise HTTPException(413, f"upload too large: more than {max_upload_bytes:,} bytes")
        g = gate()
        if g.full():
            raise HTTPException(503, "busy: too many requests waiting; retry shortly", headers={"Retry-After": "1"})
        g.pending += 1
        try:
            async with g.running:
                # abandoned (not awaited) when the request's deadline cancels it: the slot frees now,
                # the thread finishes its analysis on its own
                return await anyio.to_thread.run_sync(partial(work, data, names), abandon_on_cancel=True)
        finally:
            g.pending -= 1

    def work(data: bytes, names: list[str]) -> dict:
        t0 = time.time()
        try:
            rgb, meta = decode_image(data, source="upload", max_pixels=max_pixels, max_bytes=max_upload_bytes)
        except ImageError as exc:
            raise HTTPException(STATUS_OF_IMAGE_ERROR.get(exc.kind, 422), exc.reason) from None
        evidences, analyses = [], []
        for name in names:
            det = models.get(name)
            try:
                a = det.analyze(rgb, meta)
            except (ValueError, OSError) as exc:  # e.g. too small for a network, too long for JPEG
                raise HTTPException(422, f"{name} cannot analyse this {meta.width}x{meta.height} image: {exc}") from None
            row = analysis_row(a, det.threshold)
            evidences.append(row)
            analyses.append(row | {"heatmap_png": heatmap_png(a.heatmap) if a.heatmap is not None else None})
        return {"image": {"sha256": meta.sha256, "format": meta.format, "width": meta.width, "height": meta.height,
                          "jpeg_quality": meta.jpeg_quality, "has_exif": meta.has_exif},
                "verdict": fuse(evidences, band), "analyses": analyses, "seconds": round(time.time() - t0, 3)}

    return app
