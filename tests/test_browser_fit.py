"""The studio fits the screen: after pressing a tab's main button, its result is in view.

At a laptop's 1280x800 and a phone's 390x844, in a real Chromium: the visitor scrolls to
the last control they set, presses Fractalize / Export zoom / Sample (the browser scrolls
the button into view, as a person would), and the element that shows the progress and
then the result must be on screen without any further scrolling. Screenshots of the
viewport (what the visitor sees) land in ``artifacts/fit-<tab>-<size>.png``.
"""

import pytest
from browser_support import ARTIFACTS, studio_browser
from conftest import textured

pytestmark = pytest.mark.browser

SCREENS = {"laptop": (1280, 800), "phone": (390, 844)}

# The part of an element's box inside the viewport, as a fraction of its area.
_VISIBLE = """e => {
  const r = e.getBoundingClientRect();
  const w = Math.max(0, Math.min(r.right, innerWidth) - Math.max(r.left, 0));
  const h = Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
  return r.width * r.height > 0 ? (w * h) / (r.width * r.height) : 0;
}"""


@pytest.fixture(scope="module")
def browser_url():
    with studio_browser("the screen-fit test") as (browser, url):
        yield browser, url


@pytest.fixture(params=list(SCREENS))
def page(request, browser_url):
    browser, url = browser_url
    width, height = SCREENS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(url)
    pg.wait_for_selector(
        "#photo", timeout=180_000
    )  # a first page load on a busy machine is slow; this is not a speed test
    pg.screen = request.param
    yield pg
    context.close()


def visible(page, selector: str) -> float:
    return page.locator(selector).first.evaluate(_VISIBLE)


def _set(page, elem_id: str, value: str) -> None:
    field = page.locator(f"#{elem_id} input[type=number]")
    field.fill(value)
    field.press("Enter")


def _open_tab(page, name: str) -> None:
    """Open a tab; on a phone the tabs that do not fit sit behind the "More tabs" button."""
    tab = page.get_by_role("tab", name=name)
    if tab.is_visible():
        tab.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text=name).click()


def _press(page, button: str, result: str) -> None:
    """Press ``button`` as a person would; the result element must be in view at once and stay there."""
    page.locator(button).click()  # scrolls the button into view if it is not
    assert visible(page, button) == 1.0
    assert visible(page, result) > 0.9, f"{result} is out of view after pressing {button} ({page.screen})"


def test_fractalize_result_is_in_view(page, tmp_path):
    photo = tmp_path / "small.png"
    textured(64, 48).save(photo)
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    _set(page, "magnify", "2")  # the last control a visitor sets: the page is scrolled there
    _press(page, "#fractalize-btn", "#attractor")
    page.wait_for_function("document.querySelector('#readout').innerText.includes('PSNR')")
    # The readout can land a moment before the picture has loaded (an img of no size yet).
    page.wait_for_function(
        "(() => { const i = document.querySelector('#attractor img'); return i?.complete && i.naturalWidth > 0; })()"
    )
    page.screenshot(path=str(ARTIFACTS / f"fit-fractalize-{page.screen}.png"))
    assert visible(page, "#attractor img") == 1.0 and visible(page, "#readout") == 1.0


def test_export_zoom_result_is_in_view(page, tmp_path):
    photo = tmp_path / "small.png"
    textured(64, 48).save(photo)
    _open_tab(page, "Zoom")
    page.locator("#zoom-source input[type=file]").set_input_files(str(photo))
    for elem, value in (("zoom-depth", "1"), ("zoom-seconds", "1"), ("zoom-fps", "3")):
        _set(page, elem, value)
    page.locator("#zoom-size input").click()
    page.get_by_role("option", name="128×128").click()
    _press(page, "#zoom-btn", "#zoom-anim")
    page.locator("#zoom-file a[download$='.gif']").wait_for(timeout=120_000)
    page.wait_for_selector("#zoom-anim img")
    page.screenshot(path=str(ARTIFACTS / f"fit-zoom-{page.screen}.png"))
    assert visible(page, "#zoom-anim img") == 1.0


def test_sampled_digits_are_in_view_and_whole(page):
    _open_tab(page, "Digits")
    _set(page, "digits-count", "16")
    _press(page, "#digits-btn", "#digits-gallery")
    page.wait_for_selector("#digits-gallery img")
    page.wait_for_selector("#digits-closeup img")
    page.screenshot(path=str(ARTIFACTS / f"fit-digits-{page.screen}.png"))
    assert visible(page, "#digits-gallery img") == 1.0
    # All 16 digits: the sheet is drawn whole inside its box (not cropped to a strip).
    img = page.locator("#digits-gallery img")
    natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert natural == [4 * 112, 4 * 112]
    assert img.evaluate("i => getComputedStyle(i).objectFit") in ("contain", "scale-down")
