"""What stands between the network and the detectors: API keys, limits per client, a deadline
per request, and error bodies that say what went wrong and nothing about the server.

One ASGI middleware (:class:`Guard`) does it all, before FastAPI reads a byte of the body:

- ``Authorization: Bearer KEY`` checked against every key in constant time (401 otherwise);
  ``OPEN_PATHS`` (the health check and the page that asks for the key) need none.
- Per client (the key's name, or the address when the service runs without keys): requests per
  minute over a sliding window and analyses at once, both answered with 429 and ``Retry-After``.
- A deadline for the whole request: a body still arriving at the deadline gets 408, an analysis
  still running gets 503; either way its slot is freed for the next request.
- A declared body over the upload limit: 413 before it is read.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import time
from collections import deque
from pathlib import Path

from starlette.exceptions import HTTPException

log = logging.getLogger("forenscope.serve")

OPEN_PATHS = frozenset({"/healthz", "/"})
MIN_KEY_LENGTH = 16
ENV_KEYS = "FORENSCOPE_API_KEYS"
_PATH_LIKE = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:/[^\s/'\":,;]+){2,}/?")


class KeyError_(ValueError):
    """A key file or variable that cannot be used (the message says which line and why)."""


def parse_keys(text: str, origin: str) -> dict[str, str]:
    """``KEY [NAME]`` per line (or per comma in the environment variable); ``#`` starts a
    comment. Returns key -> name (a name derived from the key's hash when none is given)."""
    keys: dict[str, str] = {}
    entries = text.splitlines() if "\n" in text or origin != ENV_KEYS else text.split(",")
    for n, raw in enumerate(entries, 1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        key, *rest = entry.split(None, 1)  # any run of spaces or tabs separates key and name
        name = (rest[0].strip() if rest else "") or "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]
        if len(key) < MIN_KEY_LENGTH:
            raise KeyError_(f"{origin}, entry {n}: a key needs at least {MIN_KEY_LENGTH} characters "
                            f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
        if key in keys:
            raise KeyError_(f"{origin}, entry {n}: the same key twice ({keys[key]} and {name})")
        keys[key] = name
    return keys


def load_keys(path: Path | None = None, environ: dict | None = None) -> dict[str, str]:
    """Keys from ``--api-key-file`` and from $FORENSCOPE_API_KEYS, together."""
    environ = os.environ if environ is None else environ
    keys: dict[str, str] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyError_(f"{path}: cannot read the key file ({exc.strerror})") from None
        keys |= parse_keys(text, str(path))
        if not keys:
            raise KeyError_(f"{path}: no keys in the key file")
    if environ.get(ENV_KEYS):
        keys |= parse_keys(environ[ENV_KEYS], ENV_KEYS)
    return keys


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_name(keys: dict[str, str], header: str | None) -> str | None:
    """The name of the key in an ``Authorization: Bearer KEY`` header, or None. Every key is
    compared, each in constant time, so the answer's timing says nothing about which is close."""
    if not header or not header.startswith("Bearer "):
        return None
    given = header[len("Bearer "):].strip().encode()
    found = None
    for key, name in keys.items():
        if hmac.compare_digest(given, key.encode()):
            found = name
    return found


def scrub(message: str) -> str:
    """One line, no file-system paths (a detector's exception may name a server file)."""
    line = " ".join(str(message).split())
    return _PATH_LIKE.sub("<path>", line)


class ClientLimits:
    """Requests per minute (sliding window) and analyses at once, per client."""

    def __init__(self, per_minute: int, concurrent: int, clock=time.monotonic):
        self.per_minute, self.concurrent, self.clock = per_minute, concurrent, clock
        self._recent: dict[str, deque] = {}
        self._running: dict[str, int] = {}

    def admit(self, client: str) -> int:
        """0 when the request may go on (and is counted), else the seconds to wait."""
        now = self.clock()
        recent = self._recent.setdefault(client, deque())
        while recent and now - recent[0] >= 60.0:
            recent.popleft()
        if self.per_minute and len(recent) >= self.per_minute:
            return max(1, int(60.0 - (now - recent[0])) + 1)
        recent.append(now)
        return 0

    def start(self, client: str) -> bool:
        if self.concurrent and self._running.get(client, 0) >= self.concurrent:
            return False
        self._running[client] = self._running.get(client, 0) + 1
        return True

    def finish(self, client: str) -> None:
        self._running[client] -= 1


async def send_json(send, status: int, detail: str, headers: dict | None = None) -> None:
    body = json.dumps({"detail": scrub(detail)}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """The ASGI middleware; see the module docstring."""

    def __init__(self, app, *, keys: dict[str, str], limits: ClientLimits, timeout: float, max_body: int,
                 analysis_paths: frozenset = frozenset({"/v1/analyze"})):
        self.app, self.keys, self.limits = app, keys, limits
        self.timeout, self.max_body, self.analysis_paths = timeout, max_body, analysis_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        start = time.monotonic()
        if self.keys:
            client = key_name(self.keys, headers.get("authorization"))
            if client is None:
                log.warning("401 %s %s from %s", scope["method"], scope["path"], _address(scope))
                return await send_json(send, 401, "missing or wrong API key: send `Authorization: Bearer KEY`",
                                       {"WWW-Authenticate": "Bearer"})
        else:
            client = _address(scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return await send_json(send, 413, f"upload too large: {int(declared):,} bytes > limit {self.max_body:,}")
        wait = self.limits.admit(client)
        if wait:
            return await send_json(send, 429, f"rate limit: {self.limits.per_minute} requests per minute "
                                   f"for {client}; retry in {wait} s", {"Retry-After": wait})
        analysis = scope["path"] in self.analysis_paths
        if analysis and not self.limits.start(client):
            return await send_json(send, 429, f"{client} already has {self.limits.concurrent} analyses "
                                   "running; wait for one to finish", {"Retry-After": 1})
        status = await self._with_deadline(scope, receive, send)
        if analysis:
            self.limits.finish(client)
        log.info("%s %s %s %s %.2fs", client, scope["method"], scope["path"], status, time.monotonic() - start)

    async def _with_deadline(self, scope, receive, send) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        state = {"body_done": scope["method"] in ("GET", "HEAD"), "status": 0}

        async def timed_receive():
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                # an HTTPException passes through FastAPI's body parsing (anything else becomes a 400)
                raise HTTPException(408, f"the request was not received within {self.timeout:g} s") from None
            if message["type"] == "http.request" and not message.get("more_body", False):
                state["body_done"] = True
            return message

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, timed_receive, tracking_send), self.timeout)
        except asyncio.TimeoutError:
            if not state["status"]:
                if state["body_done"]:
                    await send_json(send, 503, f"analysis took longer than {self.timeout:g} s; try a smaller "
                                    "image or fewer detectors", {"Retry-After": 5})
                    state["status"] = 503
                else:
                    await send_json(send, 408, f"the request was not received within {self.timeout:g} s")
                    state["status"] = 408
        return state["status"]


def _address(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"
