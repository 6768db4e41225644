"""End to end in a real browser (headless Chromium driven by Playwright): drop an image on the
service's page and see the verdict and the heatmap overlay; open a scan report and its views.

Needs Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it) and the
`playwright` Python package (a dev dependency); skips with the reason otherwise. With
FORENSCOPE_SCREENSHOTS=docs/images it also writes the README's screenshots there.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("FORENSCOPE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "forged" / "coffee_splice.jpg"

if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (CI does) to run the browser test",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def _screens(tmp_path: Path) -> list[Path]:
    out = [tmp_path]
    if os.environ.get("FORENSCOPE_SCREENSHOTS"):
        out.append(Path(os.environ["FORENSCOPE_SCREENSHOTS"]))
        out[-1].mkdir(parents=True, exist_ok=True)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from forenscope.serve.app import create_app

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(preload=True), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 120
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_page_shows_verdict_and_overlay(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    page.goto(server)
    page.wait_for_function("document.getElementById('dets').textContent.includes('lite-probe-pair')")
    page.set_input_files("#file", str(EXAMPLE))
    page.wait_for_function("document.getElementById('verdict').textContent.length > 0", timeout=120_000)
    verdict = page.text_content("#verdict")
    assert verdict in ("authentic", "generated", "tampered", "uncertain")
    assert page.is_visible("#overlay")
    assert page.evaluate("document.getElementById('overlay').src.startsWith('data:image/png;base64,')")
    page.wait_for_function("document.getElementById('overlay').naturalWidth > 0")
    page.fill("#opacity", "85")
    assert page.evaluate("getComputedStyle(document.getElementById('overlay')).opacity") == "0.85"
    assert page.locator("#scores tr").count() == 3  # provenance, lite-probe-pair, effunet-cm
    # the provenance panel lists what the file says about itself (the example carries no
    # generator evidence: its JPEG tables at least, or the explicit "no evidence" line)
    assert page.is_visible("#provenance") and page.locator("#evidence li").count() >= 1
    assert page.text_content("#error") == ""
    for folder in _screens(tmp_path):
        page.screenshot(path=str(folder / "serve-page.png"))
    page.close()


def test_page_reports_a_bad_file(server, browser, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    page = browser.new_page()
    page.goto(server)
    page.set_input_files("#file", str(bad))
    page.wait_for_function("document.getElementById('error').textContent.length > 0", timeout=60_000)
    assert page.text_content("#error").startswith("415")
    page.close()


def test_scan_report_opens_with_its_pictures(browser, tmp_path):
    from forenscope.scan.job import ScanConfig, scan

    folder = tmp_path / "examples"
    shutil.copytree(REPO / "examples" / "forged", folder / "forged")
    shutil.copytree(REPO / "examples" / "original", folder / "original")
    scan(folder, tmp_path / "report", ScanConfig(), log=lambda m: None)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto((tmp_path / "report" / "report.html").as_uri())
    assert page.locator("tr.r").count() == 5
    page.wait_for_function("[...document.querySelectorAll('img.t')].every(i => i.complete && i.naturalWidth > 0)")
    page.click("th[data-k='file']")  # sort by name
    names = page.locator("tr.r td:nth-child(2)").all_text_contents()
    assert names == sorted(names)
    page.click("tr.r >> nth=0")
    details = page.locator("tr[id^='d-r']:visible")
    assert details.count() == 1
    page.wait_for_function("[...document.querySelectorAll('tr[id^=d-r]:not([hidden]) .views img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    for folder in _screens(tmp_path):
        page.screenshot(path=str(folder / "scan-report.png"))
    page.close()
