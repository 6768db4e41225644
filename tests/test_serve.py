"""The HTTP service with FastAPI's test client: good images, each kind of bad input, limits,
a bounded queue under concurrent requests, models loaded once."""

from __future__ import annotations

import base64
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import encode, noisy_photo  # noqa: E402
from forenscope.analysis import Analysis  # noqa: E402
from forenscope.detectors import register_detector  # noqa: E402
from forenscope.detectors.base import Detector  # noqa: E402
from forenscope.report.verdict import VERDICTS  # noqa: E402
from forenscope.serve.app import create_app  # noqa: E402

PNG = encode(noisy_photo(96, 128, 5), "PNG")
RELEASE = threading.Event()
STARTED = threading.Semaphore(0)


@register_detector("test-blocking", task="generated")
class Blocking(Detector):
    """Holds its worker until RELEASE is set: makes "requests in flight" a known number."""

    def _analyze(self, rgb, meta):
        STARTED.release()
        RELEASE.wait(30)
        return Analysis(self.name, self.task, 0.25, "authentic")


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(["noise", "ela"])) as c:
        yield c


def _post(c, data: bytes, name="x.png", ctype="image/png", **form):
    return c.post("/v1/analyze", files={"file": (name, data, ctype)}, data=form)


def test_good_image_gives_verdict_scores_and_heatmaps(client):
    r = _post(client, PNG)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"]["verdict"] in VERDICTS and body["image"]["width"] == 128
    assert [a["detector"] for a in body["analyses"]] == ["noise", "ela"]
    heat = Image.open(io.BytesIO(base64.b64decode(body["analyses"][0]["heatmap_png"])))
    assert heat.mode == "RGBA" and heat.size == (128, 96)
    only = _post(client, PNG, detectors="ela").json()
    assert [a["detector"] for a in only["analyses"]] == ["ela"]


def test_bad_inputs_get_clear_errors(client):
    assert _post(client, b"hello, this is text").status_code == 415          # content sniffed
    r = _post(client, PNG[: len(PNG) // 2])                                  # truncated
    assert r.status_code == 422 and "truncated or corrupt" in r.json()["detail"]
    assert _post(client, b"").status_code == 422                              # empty
    r = _post(client, PNG, detectors="nosie")
    assert r.status_code == 422 and "Did you mean 'noise'" in r.json()["detail"]
    assert client.post("/v1/analyze", data={"detectors": "noise"}).status_code == 422  # no file
    assert client.post("/v1/analyze", json={"file": "/etc/passwd"}).status_code == 422  # paths are not files


def test_declared_type_and_name_are_not_trusted(client):
    assert _post(client, PNG, name="notes.txt", ctype="text/plain").status_code == 200
    assert _post(client, b"GIF89a but not really", name="x.gif", ctype="image/gif").status_code in (415, 422)


def test_size_and_pixel_limits():
    with TestClient(create_app(["noise"], max_upload_bytes=20_000, max_pixels=1_000_000)) as c:
        big = encode(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8), "PNG")
        assert len(big) > 20_000
        r = _post(c, big)
        assert r.status_code == 413 and "too large" in r.json()["detail"]
        buf = io.BytesIO()
        Image.new("1", (4000, 4000)).save(buf, "PNG")  # 16 MP in a few kB: a decompression bomb in miniature
        assert len(buf.getvalue()) < 20_000
        r = _post(c, buf.getvalue())
        assert r.status_code == 413 and "too many pixels" in r.json()["detail"]


def test_concurrent_requests_are_bounded_and_models_loaded_once():
    RELEASE.clear()
    app = create_app(["test-blocking"], workers=1, queue=1)
    with TestClient(app) as c, ThreadPoolExecutor(6) as pool:
        first = pool.submit(_post, c, PNG)
        assert STARTED.acquire(timeout=30)            # one analysis running
        second = pool.submit(_post, c, PNG)           # one waiting
        deadline = threading.Event()
        while c.get("/healthz").json()["pending"] < 2 and not deadline.wait(0.01):
            pass
        turned_away = [pool.submit(_post, c, PNG) for _ in range(3)]
        codes = [f.result(timeout=30).status_code for f in turned_away]
        assert codes == [503, 503, 503]
        RELEASE.set()
        assert first.result(timeout=30).status_code == 200 and second.result(timeout=30).status_code == 200
        health = c.get("/healthz").json()
        assert health["loaded"] == ["test-blocking"] and health["pending"] == 0


def test_models_page_and_schema(client):
    models = client.get("/v1/models").json()
    assert {"npr", "effunet-cm", "noise"} <= {m["name"] for m in models["models"]}
    assert models["defaults"] == ["noise", "ela"]
    page = client.get("/")
    assert page.status_code == 200 and 'id="file"' in page.text and 'id="opacity"' in page.text
    schema = client.get("/openapi.json").json()
    assert "/v1/analyze" in schema["paths"] and client.get("/healthz").json()["status"] == "ok"
