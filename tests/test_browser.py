"""A real browser (Debian's Chromium driven by Playwright) against the studio.

Uploads a photo and fractalizes it, shows a clear message for a bad upload, picks a zoom
target by clicking, exports a zoom GIF and checks the download. Screenshots are saved
under ``artifacts/``; ``UPDATE_DOCS_SCREENSHOT=1`` also refreshes ``docs/app/screenshot.png``.
"""

import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import REPO
from PIL import Image
from studio_server import running_studio

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = REPO / "artifacts"

pytestmark = pytest.mark.browser


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser test"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e .[test])"
    return None


@pytest.fixture(scope="module")
def page():
    reason = _skip_reason()
    if reason:
        print(f"\nSKIPPING the browser test: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with running_studio() as (_, url), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        outside = []
        pg.on(
            "request",
            lambda r: outside.append(r.url) if urlparse(r.url).hostname not in ("127.0.0.1", "localhost") else None,
        )
        pg.goto(url)
        pg.wait_for_selector("#photo")
        pg.outside_requests = outside
        yield pg
        browser.close()


def _upload(page, path):
    page.locator("#photo input[type=file]").set_input_files(str(path))


def test_upload_and_fractalize(page, example_photo):
    _upload(page, example_photo)
    page.locator("#strength input[type=number]").fill("0.3")
    page.locator("#strength input[type=number]").press("Enter")
    page.locator("#fractalize-btn").click()
    page.wait_for_function("document.querySelector('#readout').innerText.includes('PSNR')")
    readout = page.inner_text("#readout")
    assert "512×512" in readout and "32×32, d4" in readout
    psnr = float(readout.split("PSNR")[1].split("dB")[0])
    assert 14 < psnr < 35
    # The attractor panel shows an image the server produced, and both downloads are offered.
    src = page.locator("#attractor img").get_attribute("src")
    assert src and "astronaut-collage" in src
    assert page.locator("#png-file a[download$='.png']").count() == 1
    assert page.locator("#code-file a[download$='.collage']").count() == 1
    page.wait_for_selector("#preview img")  # the live preview ran on upload ...
    before = page.locator("#preview img").get_attribute("src")
    grid = page.locator("#grid input[type=number]")
    grid.fill("8")
    grid.press("Enter")
    # ... and follows the sliders.
    page.wait_for_function(f"document.querySelector('#preview img').src != {before!r}", timeout=30_000)
    coarse = page.locator("#preview img").get_attribute("src")
    grid.fill("32")
    grid.press("Enter")
    page.wait_for_function(f"document.querySelector('#preview img').src != {coarse!r}", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "browser-fractalize.png"), full_page=True)
    # The README's screenshot is refreshed on request only, so test runs leave the tree clean.
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        page.evaluate("window.scrollTo(0, 0)")
        clip = {"x": 0, "y": 0, "width": 1400, "height": 900}
        page.screenshot(path=str(REPO / "docs" / "app" / "screenshot.png"), full_page=True, clip=clip)


def test_watch_it_converge(page):
    page.get_by_text("Watch it converge").click()
    page.locator("#converge-btn").click()
    page.locator("#converge-file a[download$='.gif']").wait_for(timeout=60_000)
    assert "Max difference to the attractor" in page.inner_text("body")


def test_bad_upload_shows_a_clear_message(page, bad_uploads, example_photo):
    _upload(page, bad_uploads["tiny"])
    page.get_by_text("both sides must be at least 8 px").first.wait_for()  # said at once, on upload
    page.locator("#fractalize-btn").click()
    page.get_by_text("both sides must be at least 8 px").nth(1).wait_for()  # ... and again on Fractalize
    page.screenshot(path=str(ARTIFACTS / "browser-bad-upload.png"))
    # ... and the page keeps working.
    _upload(page, example_photo)
    page.locator("#fractalize-btn").click()
    page.wait_for_function("document.querySelector('#readout').innerText.includes('PSNR')")
    assert page.get_by_text("both sides must be at least 8 px").count() >= 2
    assert "PSNR" in page.locator("#readout").inner_text()


def test_export_a_zoom_gif_and_download_it(page, tmp_path):
    page.get_by_role("tab", name="Zoom").click()
    source = page.locator("#zoom-source img")
    source.wait_for()
    page.wait_for_function(
        "(() => { const i = document.querySelector('#zoom-source img'); "
        "return i.complete && i.naturalWidth > 0 && i.clientWidth > 0; })()"
    )
    # Click 30% across and 60% down the picture (the <img> box may letterbox it).
    nw, nh, bw, bh = source.evaluate("i => [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight]")
    scale = min(bw / nw, bh / nh)
    left, top = (bw - nw * scale) / 2, (bh - nh * scale) / 2
    source.click(position={"x": left + 0.3 * nw * scale, "y": top + 0.6 * nh * scale})
    page.wait_for_function("document.querySelector('#zoom-target textarea, #zoom-target input').value.includes(',')")
    target = page.locator("#zoom-target textarea, #zoom-target input").first.input_value()
    x, y = (float(v) for v in target.split(","))
    assert abs(x - 0.3) < 0.05 and abs(y - 0.6) < 0.05
    for elem, value in (("#zoom-seconds", "1"), ("#zoom-fps", "3"), ("#zoom-depth", "1")):
        field = page.locator(f"{elem} input[type=number]")
        field.fill(value)
        field.press("Enter")
    page.locator("#zoom-size input").click()
    page.get_by_role("option", name="128×128").click()
    page.locator("#zoom-btn").click()
    link = page.locator("#zoom-file a[download$='.gif']")
    link.wait_for(timeout=120_000)
    with page.expect_download() as info:
        link.click()
    saved = tmp_path / "zoom.gif"
    info.value.save_as(saved)
    with Image.open(saved) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (128, 128)
    shutil.copy(saved, ARTIFACTS / "browser-zoom.gif")
    page.wait_for_selector("#zoom-anim img")
    page.screenshot(path=str(ARTIFACTS / "browser-zoom.png"), full_page=True)


def test_a_long_export_shows_progress_and_can_be_cancelled(page):
    for elem, value in (("#zoom-seconds", "20"), ("#zoom-fps", "24")):
        field = page.locator(f"{elem} input[type=number]")
        field.fill(value)
        field.press("Enter")
    page.locator("#zoom-btn").click()
    page.get_by_text(re.compile(r"frame \d+/480")).first.wait_for(timeout=60_000)  # the progress bar counts
    page.screenshot(path=str(ARTIFACTS / "browser-zoom-progress.png"))
    t = time.perf_counter()
    page.locator("#zoom-cancel").click()
    page.get_by_text("Cancelled: nothing was written").first.wait_for(timeout=30_000)
    assert time.perf_counter() - t < 10
    # Calm: no red "Error" badge on the outputs or in a toast.
    assert page.get_by_text("Error", exact=True).count() == 0


def test_sample_digits(page):
    page.get_by_role("tab", name="Digits").click()
    count = page.locator("#digits-count input[type=number]")
    count.fill("4")
    count.press("Enter")
    page.locator("#digits-btn").click()
    page.wait_for_function("document.querySelectorAll('#digits-gallery img').length >= 4", timeout=120_000)
    page.wait_for_selector("#digits-collage40 img")
    page.screenshot(path=str(ARTIFACTS / "browser-digits.png"), full_page=True)
    assert page.locator("#digits-gallery img").count() >= 4
    assert page.locator("#digits-collage40 img").first.evaluate("i => i.naturalWidth") >= 1120


def test_page_made_no_requests_outside_this_machine(page):
    assert page.outside_requests == []
