"""The Explore tab in a real browser (Debian's Chromium through Playwright).

Ten wheel steps dive past 1e3x and the readout follows; tiles keep arriving; dragging
pans; two keyframes give a playable dive; nothing is fetched from outside this machine
(every request is intercepted); the page works on a laptop (1280x800) and a phone
(390x844). Screenshots go to ``artifacts/``.
"""

import time
from fractions import Fraction
from urllib.parse import urlparse

import pytest
from browser_support import ARTIFACTS, studio_browser
from PIL import Image

import collage_core as cc

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def code_file(tmp_path_factory, example_photo):
    code = cc.fractalize(Image.open(example_photo), grid=32, symmetries="d4")
    return code.save(tmp_path_factory.mktemp("explore") / "astronaut.collage")


@pytest.fixture(scope="module")
def studio():
    with studio_browser("the Explore browser tests") as (browser, url):
        yield browser, url


def _open(studio, code_file, viewport):
    browser, url = studio
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(120_000)
    requests, outside = [], []

    def guard(route):
        # Route interception: anything not addressed to this machine is refused and recorded.
        host = urlparse(route.request.url).hostname
        requests.append(route.request.url)
        if host != "127.0.0.1":
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", guard)
    page.goto(url)
    page.wait_for_selector("#photo")
    tab = page.get_by_role("tab", name="Explore")
    if tab.is_visible():
        tab.click()
    else:  # a phone: the tabs that do not fit are under "More tabs"
        page.get_by_label("More tabs").click()
        page.locator(".overflow-dropdown button", has_text="Explore").click()
    page.locator("#explore-drop input[type=file]").set_input_files(str(code_file))
    _wait_ready(page)
    page.requests, page.outside = requests, outside
    return context, page


def _data(page, key):
    return page.evaluate(f"document.querySelector('#explore-root').dataset.{key}")


def _wait_ready(page):
    page.wait_for_function(
        "(() => { const r = document.querySelector('#explore-root'); return r && r.dataset.ready === '1'; })()",
        timeout=180_000,
    )


def _center_of_map(page):
    box = page.locator("#explore-root").bounding_box()
    return box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45


def test_dive_pan_keyframes_and_export_on_a_laptop(studio, code_file, tmp_path):
    context, page = _open(studio, code_file, {"width": 1280, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "explore-home.png"))
    tiles_home = int(_data(page, "tiles"))
    readout_home = page.inner_text("#explore-depth")
    assert tiles_home > 0 and float(_data(page, "zoom")) < 2
    page.locator("#explore-add-keyframe").click()
    page.wait_for_function("document.querySelector('#explore-keyframes').innerText.includes('×')")

    # Ten wheel steps: past 1e3x, and the readout says so.
    x, y = _center_of_map(page)
    page.mouse.move(x, y)
    for _ in range(10):
        page.mouse.wheel(0, -100)
        time.sleep(0.15)
    time.sleep(1.0)
    _wait_ready(page)
    zoom = float(_data(page, "zoom"))
    assert zoom > 1e3, zoom
    assert page.inner_text("#explore-depth") != readout_home and "10^" in page.inner_text("#explore-depth")
    tiles_deep = int(_data(page, "tiles"))
    assert tiles_deep > tiles_home  # new tiles arrived for the new depth
    page.screenshot(path=str(ARTIFACTS / "explore-deep.png"))

    # Dragging pans: the view's centre moves, the zoom stays.
    before = page.evaluate(
        "(() => { const c = window.collageExploreMap.viewer.viewport.getCenter(true); return [c.x, c.y]; })()"
    )
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 200, y - 80, steps=8)
    page.mouse.up()
    time.sleep(1.0)
    after = page.evaluate(
        "(() => { const c = window.collageExploreMap.viewer.viewport.getCenter(true); return [c.x, c.y]; })()"
    )
    assert abs(after[0] - before[0]) > 1e-9 and abs(after[1] - before[1]) > 1e-9
    assert abs(float(_data(page, "zoom")) / zoom - 1) < 0.01
    _wait_ready(page)
    assert int(_data(page, "tiles")) > tiles_deep  # ... and its new ground loads

    # A second keyframe, then a short dive between the two.
    page.locator("#explore-add-keyframe").click()
    page.wait_for_function("document.querySelectorAll('#explore-keyframes tr').length >= 3")
    for elem, value in (("#explore-seconds", "1"), ("#explore-fps", "4")):
        field = page.locator(f"{elem} input[type=number]")
        field.fill(value)
        field.press("Enter")
    page.locator("#explore-export").click()
    link = page.locator("#explore-dive-file a[download$='.gif']")
    link.wait_for(timeout=300_000)
    with page.expect_download() as info:
        link.click()
    saved = tmp_path / "dive.gif"
    info.value.save_as(saved)
    with Image.open(saved) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4 and gif.size == (256, 256)
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(gif.convert("RGB").tobytes())
    assert len(set(frames)) == 4  # it moves
    page.wait_for_selector("#explore-anim img")
    page.screenshot(path=str(ARTIFACTS / "explore-dive.png"), full_page=True)
    assert page.outside == [] and any("/explore/tile/" in r for r in page.requests)
    context.close()


def test_the_map_works_on_a_phone(studio, code_file):
    context, page = _open(studio, code_file, {"width": 390, "height": 844})
    box = page.locator("#explore-root").bounding_box()
    assert box["width"] <= 390 and box["height"] >= 300
    tiles_before = int(_data(page, "tiles"))
    page.locator("#explore-root .ce-in").click()
    page.locator("#explore-root .ce-in").click()
    time.sleep(1.0)
    _wait_ready(page)
    assert float(_data(page, "zoom")) > 3 and int(_data(page, "tiles")) > tiles_before
    page.screenshot(path=str(ARTIFACTS / "explore-phone.png"))
    # A shared view at 1e15x opens the map there: the deepest the map goes, in a browser.
    code = cc.FractalCode.load(code_file)
    center = (Fraction(41370001, 10**8) + Fraction(1, 3 * 10**15), Fraction(3561, 10**4))
    spec = cc.ViewSpec(code=cc.code_hash(code), center=center, zoom=Fraction(10**15))
    page.locator("#explore-restore-text textarea").fill(spec.to_fragment())
    page.locator("#explore-restore").click()
    page.wait_for_function("Number(document.querySelector('#explore-root').dataset.zoom) > 0.99e15")
    time.sleep(0.5)
    _wait_ready(page)
    assert "10^15" in page.inner_text("#explore-depth") or "10^14" in page.inner_text("#explore-depth")
    page.locator("#explore-root").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "explore-phone-1e15.png"))
    # ... and sharing it gives the same view back (the page posts where it settled).
    page.locator("#explore-share").click()
    page.wait_for_function(
        "document.querySelector('#explore-share-link input, #explore-share-link textarea').value.includes('#view=')"
    )
    link = page.locator("#explore-share-link input, #explore-share-link textarea").first.input_value()
    shared = cc.ViewSpec.parse(link)
    assert shared.code == spec.code and abs(shared.zoom / spec.zoom - 1) < 1e-6
    assert all(abs(a - b) * spec.zoom < 1e-6 for a, b in zip(shared.center, spec.center, strict=True))
    assert page.outside == []
    context.close()
