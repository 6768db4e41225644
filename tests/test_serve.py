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
from forenscope.verdict import VERDICTS  # noqa: E402
from forenscope.serve.app import create_app  # noqa: E402

PNG = encode(noisy_photo(96, 128, 5), "PNG")
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


def test_concurrent_requests_are_bounded_and_models_loaded_once(held):
    app = create_app(["test-held"], workers=1, queue=1, concurrent_per_client=0)
    with TestClient(app) as c, ThreadPoolExecutor(6) as pool:
        first = pool.submit(_post, c, PNG)
        assert held.started.acquire(timeout=30)       # one analysis running
        second = pool.submit(_post, c, PNG)           # one waiting
        deadline = threading.Event()
        while c.get("/healthz").json()["pending"] < 2 and not deadline.wait(0.01):
            pass
        turned_away = [pool.submit(_post, c, PNG) for _ in range(3)]
        codes = [f.result(timeout=30).status_code for f in turned_away]
        assert codes == [503, 503, 503]
        held.release.set()
        assert first.result(timeout=30).status_code == 200 and second.result(timeout=30).status_code == 200
        health = c.get("/healthz").json()
        assert health["loaded"] == ["test-held"] and health["pending"] == 0


def test_models_page_and_schema(client):
    models = client.get("/v1/models").json()
    assert {"npr", "effunet-cm", "noise"} <= {m["name"] for m in models["models"]}
    assert models["defaults"] == ["noise", "ela"]
    page = client.get("/")
    assert page.status_code == 200 and 'id="file"' in page.text and 'id="opacity"' in page.text
    schema = client.get("/openapi.json").json()
    assert "/v1/analyze" in schema["paths"] and client.get("/healthz").json()["status"] == "ok"


def _png(shape, mode):
    h, w = shape
    rng = np.random.default_rng(h * 7 + w)
    base = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    im = base.convert(mode) if mode != "I;16" else Image.fromarray((rng.integers(0, 65535, (h, w))).astype(np.uint16))
    buf = io.BytesIO()
    im.save(buf, format="TIFF" if mode == "CMYK" else "PNG")
    return buf.getvalue()


def test_no_shape_or_mode_gives_a_server_error():
    """Issue 19, defect 2: a 1 x 1 image gave a bare 500 for every trained detector, a
    3 x 100000 one for ela and jpeg-ghost. Every answer is 200 or a 4xx with a JSON reason."""
    names = "lite-probe,npr,effunet-cm,ela,jpeg-ghost,noise"
    with TestClient(create_app(["ela"])) as c:
        for shape in [(1, 1), (2, 3), (7, 7), (8, 8), (3, 100_000), (100_000, 3), (17, 33)]:
            for mode in ["RGB", "L", "LA", "P", "RGBA", "1", "I;16", "CMYK"]:
                if max(shape) > 1000 and mode not in ("RGB", "L"):
                    continue  # the long strips once per colour layout are enough
                r = c.post("/v1/analyze", files={"file": ("x", _png(shape, mode), "application/octet-stream")},
                           data={"detectors": names})
                assert r.status_code in (200, 413, 415, 422), (shape, mode, r.status_code, r.text)
                if r.status_code != 200:
                    assert r.json()["detail"], (shape, mode)
        tiny = c.post("/v1/analyze", files={"file": ("x", _png((1, 1), "RGB"), "image/png")}, data={"detectors": "lite-probe"})
        assert tiny.status_code == 422 and "too small" in tiny.json()["detail"] and "lite-probe" in tiny.json()["detail"]
        long = c.post("/v1/analyze", files={"file": ("x", _png((3, 100_000), "RGB"), "image/png")}, data={"detectors": "ela"})
        assert long.status_code == 422 and "elongated" in long.json()["detail"]


def test_two_file_parts_are_refused_and_repeated_detectors_run_once(client):
    """Issue 19, defect 6."""
    two = client.post("/v1/analyze", files=[("file", ("a.png", PNG, "image/png")), ("file", ("b.png", PNG, "image/png"))])
    assert two.status_code == 422 and "one image per request" in two.json()["detail"]
    once = _post(client, PNG, detectors="ela,ela, ela").json()
    assert [a["detector"] for a in once["analyses"]] == ["ela"]


def test_models_gives_the_threshold_scores_are_compared_with(client):
    """Issue 19, defect 5: /v1/models listed raw thresholds beside calibrated scores."""
    from forenscope.detectors import load_detector

    listed = {m["name"]: m["threshold"] for m in client.get("/v1/models").json()["models"]}
    for name in ("npr", "effunet-cm", "ela"):
        assert listed[name] == pytest.approx(load_detector(name).threshold)
