"""A real browser (Debian's Chromium driven by Playwright) against the studio.

Uploads a photo and fractalizes it, shows a clear message for a bad upload, picks a zoom
target by clicking (where the picture is drawn in its letterboxed box), exports a zoom GIF
and checks the download. Screenshots are saved
under ``artifacts/``; ``UPDATE_DOCS_SCREENSHOT=1`` also refreshes ``docs/app/screenshot.png``.
"""

import os
import re
import shutil
from urllib.parse import urlparse

import pytest
from browser_support import ARTIFACTS, studio_browser
from conftest import REPO, textured
from PIL import Image

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page():
    with studio_browser("the browser test") as (browser, url):
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


def _upload(page, path):
    page.locator("#photo input[type=file]").set_input_files(str(path))


# Where the <img> draws its picture inside its box, per the CSS object-fit rules (Gradio's image
# uses "scale-down": a picture smaller than its box keeps its own size), centred as object-position
# 50% 50% puts it; in the padding-box coordinates Playwright's click(position=...) takes.
_DRAWN_RECT = """i => {
  const s = getComputedStyle(i);
  if (!['contain', 'scale-down'].includes(s.objectFit) || s.objectPosition !== '50% 50%')
    throw new Error('unexpected object-fit ' + s.objectFit + ' at ' + s.objectPosition);
  const pl = parseFloat(s.paddingLeft), pt = parseFloat(s.paddingTop);
  const bw = i.clientWidth - pl - parseFloat(s.paddingRight), bh = i.clientHeight - pt - parseFloat(s.paddingBottom);
  let scale = Math.min(bw / i.naturalWidth, bh / i.naturalHeight);
  if (s.objectFit === 'scale-down') scale = Math.min(scale, 1);
  const w = i.naturalWidth * scale, h = i.naturalHeight * scale;
  return [pl + (bw - w) / 2, pt + (bh - h) / 2, w, h];
}"""


def _click_picture(img, fx: float, fy: float) -> None:
    """Click ``fx`` across and ``fy`` down the picture itself (not its letterboxed box)."""
    left, top, width, height = img.evaluate(_DRAWN_RECT)
    img.click(position={"x": left + fx * width, "y": top + fy * height})


def _wait_for_picture(page, selector: str) -> None:
    page.wait_for_function(
        f"(() => {{ const i = document.querySelector({selector!r}); "
        "return i && i.complete && i.naturalWidth > 0 && i.clientWidth > 0; })()"
    )


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
        page.evaluate("document.querySelector('#fractalize-controls').scrollTop = 0")  # the photo at the top
        clip = {"x": 0, "y": 0, "width": 1400, "height": 900}
        page.screenshot(path=str(REPO / "docs" / "app" / "screenshot.png"), full_page=True, clip=clip)


def test_a_preset_moves_the_copy_colours_control(page):
    checked = "document.querySelector('#copy-colours input[value=\"{}\"]')?.checked === true"
    assert page.evaluate(checked.format("shared"))  # the library default: copies in the photo's colours
    page.locator("#preset input").click()
    page.get_by_role("option", name="natural").click()
    page.wait_for_function(checked.format("per-channel"))  # the soft, faithful preset keeps a weight per channel
    page.locator("#preset input").click()
    page.get_by_role("option", name="(none)").click()
    page.wait_for_function(checked.format("shared"))


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
    _wait_for_picture(page, "#zoom-source img")
    assert _pick_target(page, 0.3, 0.6) == pytest.approx((0.3, 0.6), abs=0.01)
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


def _pick_target(page, fx: float, fy: float) -> tuple[float, float]:
    """Click the Zoom tab's picture at ``(fx, fy)`` of its width and height; the target the page shows."""
    field = page.locator("#zoom-target textarea, #zoom-target input").first
    field.fill("")
    _click_picture(page.locator("#zoom-source img"), fx, fy)
    # A click beside the picture sends no event: the wait fails instead of reading a stale target.
    page.wait_for_function(
        "document.querySelector('#zoom-target textarea, #zoom-target input').value.includes(',')", timeout=15_000
    )
    x, y = (float(v) for v in field.input_value().split(","))
    return x, y


def test_a_long_export_shows_progress_and_can_be_cancelled(page):
    # 600 frames (the studio's most) of 512²: a minute or more of work, so the export
    # cannot finish before Cancel reaches it.
    for elem, value in (("#zoom-seconds", "24"), ("#zoom-fps", "25")):
        field = page.locator(f"{elem} input[type=number]")
        field.fill(value)
        field.press("Enter")
    page.locator("#zoom-size input").click()
    page.get_by_role("option", name="512×512").click()
    page.locator("#zoom-btn").click()
    page.get_by_text(re.compile(r"frame \d+/600")).first.wait_for(timeout=60_000)  # the progress bar counts
    page.screenshot(path=str(ARTIFACTS / "browser-zoom-progress.png"))
    # The earlier tests' error messages are still up: they must not cover Cancel (a short timeout
    # fails here if they do, instead of clicking once they have faded and the export is over).
    page.locator("#zoom-cancel").click(timeout=5_000)
    # The message comes only once the export has stopped; how soon is for benchmarks, not tests.
    page.get_by_text("Cancelled: nothing was written").first.wait_for(timeout=90_000)
    # Calm: no red "Error" badge on the outputs or in a toast.
    assert page.get_by_text("Error", exact=True).count() == 0


def test_clicks_pick_the_point_under_the_pointer(page, tmp_path):
    # A small, wide picture: the box letterboxes it above and below, and (object-fit scale-down)
    # draws it at its own size, narrower than the box, so both margins are non-zero.
    small = tmp_path / "wide.png"
    textured(160, 90).save(small)
    page.get_by_role("tab", name="Zoom").click()
    page.locator("#zoom-source input[type=file]").set_input_files(str(small))
    page.wait_for_function("document.querySelector('#zoom-source img')?.naturalWidth === 160")
    _wait_for_picture(page, "#zoom-source img")
    left, top, width, height = page.locator("#zoom-source img").evaluate(_DRAWN_RECT)
    assert left > 0 and top > 0 and width / height == pytest.approx(16 / 9, rel=0.01)
    for point in ((0.3, 0.6), (0.9, 0.1), (0.05, 0.95)):
        # One pixel of 160 is 0.006: the page may round to the nearest pixel.
        assert _pick_target(page, *point) == pytest.approx(point, abs=0.01)


def test_sample_digits(page):
    page.get_by_role("tab", name="Digits").click()
    count = page.locator("#digits-count input[type=number]")
    assert page.locator("#digits-digit input[type=number]").get_attribute("max") == "16"  # the first count
    count.fill("4")
    count.press("Enter")
    # The close-up digit is numbered on the sheet: its slider ends at the count.
    digit = page.locator("#digits-digit input[type=number]")
    page.wait_for_function("() => document.querySelector('#digits-digit input[type=number]').max === '4'")
    digit.fill("3")
    digit.press("Enter")
    magnify = page.locator("#digits-magnify input[type=number]")
    magnify.fill("64")
    magnify.press("Enter")
    page.locator("#digits-btn").click()
    page.wait_for_selector("#digits-gallery img", timeout=120_000)
    page.wait_for_selector("#digits-closeup img")
    page.screenshot(path=str(ARTIFACTS / "browser-digits.png"), full_page=True)
    # Four digits at 4x on one contact sheet, two by two; digit #3 at 64x beside bicubic.
    assert page.locator("#digits-gallery img").evaluate("i => [i.naturalWidth, i.naturalHeight]") == [224, 224]
    assert page.locator("#digits-closeup img").first.evaluate("i => i.naturalWidth") == 1792
    assert page.locator("#digits-bicubic img").first.evaluate("i => i.naturalWidth") == 1792
    assert "Digit #3 at ×64" in page.locator("#digits-summary").inner_text()


def test_page_made_no_requests_outside_this_machine(page):
    assert page.outside_requests == []
