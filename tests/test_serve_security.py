"""The service exposed (issue 22): keys, limits per client, deadlines, nothing leaked. Loopback
only, every wait bounded."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from conftest import encode, noisy_photo  # noqa: E402
from forenscope.cli import app as cli_app  # noqa: E402
from forenscope.detectors import register_detector  # noqa: E402
from forenscope.detectors.base import Detector  # noqa: E402
from forenscope.serve.app import create_app  # noqa: E402
from forenscope.serve.security import ClientLimits, KeyError_, key_name, load_keys, parse_keys, scrub  # noqa: E402

PNG = encode(noisy_photo(64, 64, 3), "PNG")
ALICE, BOB = "alice-key-0123456789abcdef", "bob-key-0123456789abcdefgh"
KEYS = {ALICE: "alice", BOB: "bob"}
@register_detector("test-leaky", task="generated")
class Leaky(Detector):
    """Fails the way a careless detector might: with server paths in its messages."""

    def _analyze(self, rgb, meta):
        if rgb.shape[0] == 64:
            raise RuntimeError("cannot open /srv/forenscope/secret/model.bin")
        raise ValueError("weights at /home/ops/models/x.safetensors do not fit")


def _post(c, key=None, data=PNG, **form):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return c.post("/v1/analyze", files={"file": ("x.png", data, "image/png")}, data=form, headers=headers)


def test_key_files_and_variable(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(f"# team keys\n{ALICE} alice\n\n{BOB}   # no name\n")
    keys = load_keys(path, environ={"FORENSCOPE_API_KEYS": "carol-key-0123456789abcd carol, dave-key-0123456789abcdef"})
    assert keys[ALICE] == "alice" and keys[BOB].startswith("key-") and keys["carol-key-0123456789abcd"] == "carol"
    assert len(keys) == 4
    assert parse_keys(f"{ALICE}\talice\n", "f") == {ALICE: "alice"}  # a tab separates too
    with pytest.raises(KeyError_, match="at least 16"):
        parse_keys("short name\n", "f")
    with pytest.raises(KeyError_, match="same key twice"):
        parse_keys(f"{ALICE} a\n{ALICE} b\n", "f")
    with pytest.raises(KeyError_, match="cannot read"):
        load_keys(tmp_path / "missing.txt", environ={})
    assert key_name(KEYS, f"Bearer {ALICE}") == "alice" and key_name(KEYS, f"Bearer {ALICE}x") is None
    assert key_name(KEYS, f"Basic {ALICE}") is None and key_name(KEYS, None) is None


def test_no_key_wrong_key_right_key():
    with TestClient(create_app(["noise"], api_keys=KEYS)) as c:
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200  # open: the page asks for the key
        for headers in ({}, {"Authorization": "Bearer wrong-key-0123456789abcdef"}, {"Authorization": ALICE}):
            r = c.get("/v1/models", headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and "API key" in r.json()["detail"]
        assert c.get("/openapi.json").status_code == 401 and _post(c).status_code == 401
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {ALICE}"}).status_code == 200
        assert _post(c, BOB).status_code == 200


def test_a_client_over_its_rate_gets_429_while_another_is_served():
    with TestClient(create_app(["noise"], api_keys=KEYS, rate_per_minute=3)) as c:
        alice = {"Authorization": f"Bearer {ALICE}"}
        assert [c.get("/v1/models", headers=alice).status_code for _ in range(3)] == [200] * 3
        r = c.get("/v1/models", headers=alice)
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 61 and "alice" in r.json()["detail"]
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {BOB}"}).status_code == 200


def test_rate_window_slides():
    now = [0.0]
    limits = ClientLimits(per_minute=2, concurrent=1, clock=lambda: now[0])
    assert limits.admit("a") == 0 and limits.admit("a") == 0 and limits.admit("a") > 0
    now[0] = 60.5
    assert limits.admit("a") == 0
    assert limits.start("a") and not limits.start("a") and limits.start("b")
    limits.finish("a")
    assert limits.start("a")


def test_concurrent_analyses_are_limited_per_client(held):
    with TestClient(create_app(["test-held"], api_keys=KEYS, concurrent_per_client=1, workers=2)) as c, \
            ThreadPoolExecutor(3) as pool:
        first = pool.submit(_post, c, ALICE)
        assert held.started.acquire(timeout=20)
        second = _post(c, ALICE)
        assert second.status_code == 429 and "retry-after" in second.headers
        other = pool.submit(_post, c, BOB)
        assert held.started.acquire(timeout=20)  # bob's analysis runs while alice waits her turn
        held.release.set()
        assert first.result(timeout=20).status_code == 200 and other.result(timeout=20).status_code == 200


def test_error_bodies_carry_one_line_and_no_server_paths():
    with TestClient(create_app(["test-leaky"]), raise_server_exceptions=False) as c:
        crash = _post(c)
        assert crash.status_code == 500 and crash.json() == {"detail": "internal error; the server log has the details"}
        bad = _post(c, data=encode(noisy_photo(80, 80, 4), "PNG"))
        assert bad.status_code == 422
        for r in (crash, bad, c.get("/nowhere"), _post(c, data=b"not an image")):
            assert "Traceback" not in r.text and "/home" not in r.text and "/srv" not in r.text
        assert "<path>" in bad.json()["detail"]
    assert scrub("a\nb  /usr/lib/x.so failed") == "a b <path> failed"
    assert scrub("image/png 3/4 ok") == "image/png 3/4 ok"


def test_binding_beyond_loopback_needs_keys_or_insecure(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli_app, ["serve", "--host", "0.0.0.0", "-d", "noise"], env={"FORENSCOPE_API_KEYS": ""})
    assert res.exit_code == 2 and "without API keys" in res.output and "--insecure" in res.output
    (tmp_path / "k").write_text("tooshort\n")
    res = runner.invoke(cli_app, ["serve", "--api-key-file", str(tmp_path / "k")])
    assert res.exit_code == 2 and "at least 16" in res.output


# ---------------------------------------------------------------- a real server on loopback


@pytest.fixture
def server(monkeypatch, tmp_path):
    """Start uvicorn in a thread with a private temporary folder; yields (port, that folder)."""
    import uvicorn

    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    servers = []

    def start(app):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=srv.run, daemon=True).start()
        deadline = time.time() + 20
        while not srv.started and time.time() < deadline:
            time.sleep(0.02)
        servers.append(srv)
        return port

    yield start, private
    for srv in servers:
        srv.should_exit = True


def _raw(port: int, body_declared: int, body_sent: bytes, key: str = ALICE) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((f"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: multipart/form-data; boundary=BOUND\r\nContent-Length: {body_declared}\r\n\r\n").encode()
              + body_sent)
    return s


def _multipart(data: bytes) -> bytes:
    return (b"--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--BOUND--\r\n")


def _status(s: socket.socket) -> int:
    return int(s.recv(4096).split(b" ", 2)[1])


def test_slow_upload_times_out_and_a_disconnect_leaves_nothing(server):
    start, private = server
    port = start(create_app(["noise"], api_keys=KEYS, request_timeout=1.0,
                            max_upload_bytes=4 * 1024 * 1024))
    body = _multipart(encode(noisy_photo(900, 900, 9), "PNG"))  # > 1 MB: would have spooled to disk before
    assert len(body) > 1024 * 1024
    t0 = time.time()
    slow = _raw(port, len(body), body[: len(body) // 3])
    assert _status(slow) == 408 and time.time() - t0 < 8
    slow.close()
    gone = _raw(port, len(body), body[: len(body) // 2])
    gone.close()  # the client vanishes mid-upload
    time.sleep(0.5)
    assert list(private.iterdir()) == []
    ok = _raw(port, len(body), body)
    assert _status(ok) == 200
    ok.close()
    assert list(private.iterdir()) == []


def test_a_stuck_analysis_gets_503_and_frees_its_slot(server, held):
    start, _ = server
    port = start(create_app(["test-held"], api_keys=KEYS, request_timeout=1.0, workers=1, queue=0,
                            concurrent_per_client=0))
    t0 = time.time()
    stuck = _raw(port, len(_multipart(PNG)), _multipart(PNG))
    assert _status(stuck) == 503 and time.time() - t0 < 8
    stuck.close()
    # the abandoned analysis still runs, but the only worker slot is free again
    body = _multipart(PNG)[:-len(b"--BOUND--\r\n")] + b'--BOUND\r\nContent-Disposition: form-data; name="detectors"' \
        b"\r\n\r\nnoise\r\n--BOUND--\r\n"
    nxt = _raw(port, len(body), body, key=BOB)
    assert _status(nxt) == 200
    nxt.close()
