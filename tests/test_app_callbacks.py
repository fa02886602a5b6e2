"""The studio's callbacks as plain functions, without a server: inputs, limits, renders,
convergence, zooms and digits (presets, sessions and page handlers: test_app_pages.py)."""

import os
import time

import gradio as gr
import numpy as np
import pytest
import torch
from conftest import textured
from PIL import Image

import collage_core as cc
from app import callbacks, inputs, limits, ui
from app.actions.converge import STILL
from app.tabs.fractalize_request import FractalizeRequest
from collage_core import presets


# ---------------------------------------------------------------------------- uploads
def test_load_photo_keeps_a_normal_photo(photo_path):
    photo = callbacks.load_photo(str(photo_path))
    assert photo.image.size == (96, 96) and photo.image.mode == "RGB"
    assert photo.notes == () and photo.name == "photo"


def test_a_19_megapixel_photo_is_downscaled_not_refused(tmp_path):
    path = tmp_path / "phone.jpg"
    big = textured(160, 107).resize((5344, 3563), Image.Resampling.BILINEAR)  # 19.0 MP, 3:2
    big.save(path, quality=70)
    photo = callbacks.load_photo(str(path))
    w, h = photo.image.size
    assert w * h <= limits.MAX_INPUT_PIXELS
    assert w * h > 0.95 * limits.MAX_INPUT_PIXELS  # not shrunk more than needed
    assert abs(w / h - 5344 / 3563) < 0.01
    assert any("Downscaled from 5344×3563 (19.0 MP)" in n for n in photo.notes)


@pytest.mark.parametrize(
    "kind,message",
    [
        ("text", "is not an image Pillow can read"),
        ("truncated", "truncated or corrupt"),
        ("tiny", "both sides must be at least 8 px"),
    ],
)
def test_unusable_uploads_raise_a_clear_message(bad_uploads, kind, message):
    with pytest.raises(ValueError, match=message) as info:
        callbacks.load_photo(str(bad_uploads[kind]))
    assert str(info.value).startswith("Cannot use this photo:")


@pytest.mark.parametrize(
    "kind,note,mode",
    [
        ("animated", "Animated GIF with 3 frames: using the first frame", "RGB"),
        ("cmyk", "CMYK image converted to RGB", "RGB"),
        ("16bit", "reduced to 8 bits", "L"),
    ],
)
def test_convertible_uploads_are_used_with_a_note(bad_uploads, kind, note, mode):
    photo = callbacks.load_photo(str(bad_uploads[kind]))
    assert photo.image.mode == mode
    assert any(note in n for n in photo.notes), photo.notes


def test_16_bit_values_are_rescaled_not_clipped(bad_uploads):
    photo = callbacks.load_photo(str(bad_uploads["16bit"]))
    expected = np.asarray(textured(64, 48).convert("L"), dtype=np.float64)
    assert np.abs(np.asarray(photo.image, dtype=np.float64) - expected).max() <= 1


def test_missing_photo_says_what_to_do():
    with pytest.raises(ValueError, match="No photo"):
        callbacks.load_photo(None)


# --------------------------------------------------------------------------- settings
def test_resolve_config_layers_explicit_settings_over_a_preset():
    cfg = callbacks.resolve_config("snowflake", strength=0.5, grid=None)
    snow = presets.load_preset("snowflake").config()
    assert cfg.grid == snow.grid and cfg.strength == 0.5 and cfg.symmetries == snow.symmetries


def test_resolve_config_errors():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        callbacks.resolve_config("nope")
    with pytest.raises(ValueError, match="strength must lie"):
        callbacks.resolve_config(None, strength=0.99)
    assert callbacks.resolve_config(None, clamp_strength=True, strength=0.99).strength == 0.9
    with pytest.raises(ValueError, match="refinement steps"):
        callbacks.resolve_config(None, refine_steps=limits.MAX_REFINE_STEPS + 1)


def test_effective_magnify_keeps_outputs_within_the_limit():
    assert callbacks.effective_magnify((512, 512), 4) == 4
    m = callbacks.effective_magnify((2000, 1000), 16)
    assert m < 16 and 2000 * m * 1000 * m <= limits.MAX_OUTPUT_PIXELS
    with pytest.raises(ValueError, match="positive"):
        callbacks.effective_magnify((10, 10), float("nan"))


# ------------------------------------------------------------------------- fractalize
@pytest.fixture(scope="module")
def fitted():
    image = textured(96, 64)
    code = callbacks.fit(image, callbacks.resolve_config(grid=16))
    return image, code


def test_render_views_panels_and_readouts(fitted):
    image, code = fitted
    views = callbacks.render_views(code, image, magnify=3)
    assert views.attractor.size == (288, 192) and views.bicubic.size == (288, 192)
    assert views.magnify == 3
    assert 18 < views.psnr < 45  # a collage of itself: close to the photo, never equal
    # The attractor is not the photo: it differs from the bicubic upscaling of the original.
    diff = np.abs(np.asarray(views.attractor, float) - np.asarray(views.bicubic, float)).mean()
    assert diff > 1.0
    assert views.code_bytes == code.nbytes and views.code_bytes > 1000
    text = callbacks.readout(views, code)
    assert f"{views.psnr:.2f} dB" in text and "KB" in text and "288×192" in text


def test_magnified_attractor_pools_back_to_the_1x_render(fitted):
    _, code = fitted
    big = np.asarray(callbacks.render_views(code, None, magnify=4).attractor, dtype=np.float64)
    small = np.asarray(code.render(1), dtype=np.float64)
    pooled = big.reshape(64, 4, 96, 4, 3).mean(axis=(1, 3))
    # Equal up to 8-bit rounding and the resampling of a non-square source onto the square grid:
    # a fractional area resize (96 -> 64 rows) does not commute with pooling, and sharp
    # copies put more contrast at pixel scale for it to move (square codes pool exactly:
    # tests/test_fractalize.py).
    assert np.abs(pooled - small).mean() < 1.0 and np.abs(pooled - small).max() < 4


def test_iterations_from_gray_approach_the_attractor(fitted):
    image, code = fitted
    exact = callbacks.render_views(code, image)
    few = callbacks.render_views(code, image, iterations=1, start="gray")
    many = callbacks.render_views(code, image, iterations=40, start="gray")

    def gap(views):  # mean grey levels away from the attractor
        return np.abs(np.asarray(views.attractor, float) - np.asarray(exact.attractor, float)).mean()

    assert gap(few) > 2 and gap(many) < 0.1 and abs(many.psnr - exact.psnr) < 0.05


def test_start_from_another_photo(fitted, photo_path):
    image, code = fitted
    morph = callbacks.render_views(code, image, iterations=1, start=str(photo_path)).attractor
    gray = callbacks.render_views(code, image, iterations=1, start="gray").attractor
    assert np.abs(np.asarray(morph, float) - np.asarray(gray, float)).mean() > 1


def test_output_limit_reduces_magnification_with_a_note(fitted, monkeypatch):
    _, code = fitted
    monkeypatch.setattr(limits, "MAX_OUTPUT_PIXELS", 200_000)
    views = callbacks.render_views(code, None, magnify=1000)
    w, h = views.attractor.size
    assert w * h <= limits.MAX_OUTPUT_PIXELS and views.psnr is None
    assert "Magnification reduced" in views.notes[0]


def test_preview_is_small_and_skips_refinement(example_photo):
    # Small and unrefined is what keeps the live preview fast (timed in benchmarks/app_latency.py).
    photo = callbacks.load_photo(str(example_photo))
    out = callbacks.preview(photo, callbacks.resolve_config(refine_steps=200))
    assert max(out.size) == limits.PREVIEW_SIDE
    assert callbacks.psnr(out, photo.image.resize(out.size, Image.Resampling.BOX)) > 15
    # Reference: the closed-form fit of the same thumbnail, without refinement, gives the same picture.
    small = photo.image.copy()
    small.thumbnail((limits.PREVIEW_SIDE,) * 2, Image.Resampling.BILINEAR)
    unrefined = cc.fractalize(small, config=callbacks.resolve_config(refine_steps=0)).render(1)
    assert callbacks.psnr(out, unrefined) > 60


def test_live_preview_opens_an_unchanged_photo_once(tmp_path, monkeypatch):
    from app.tabs import fractalize as tab

    path = tmp_path / "p.png"
    textured(600, 400, seed=5).save(path)
    opened = []
    real = callbacks.load_photo
    monkeypatch.setattr(callbacks, "load_photo", lambda src, *a, **k: opened.append(src) or real(src, *a, **k))
    args = ("natural", 16, "d4", 0.2, 0, "noise", None, True)
    first = tab.live_preview(str(path), *args)
    again = tab.live_preview(str(path), *args)
    assert len(opened) == 1 and max(first.size) == limits.PREVIEW_SIDE
    assert np.array_equal(np.asarray(first), np.asarray(again))
    # The same picture as a preview of the freshly opened photo.
    config = FractalizeRequest(str(path), *args[:4]).config(None)
    assert np.array_equal(np.asarray(first), np.asarray(callbacks.preview(real(str(path)), config)))
    textured(600, 400, seed=6).save(path)  # a changed file is opened again
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    changed = tab.live_preview(str(path), *args)
    assert len(opened) == 2 and not np.array_equal(np.asarray(first), np.asarray(changed))


def test_style_source_changes_the_collage(photo_path):
    image = textured(64, 64, seed=3)
    cfg = callbacks.resolve_config(grid=8, strength=0.5)
    plain = callbacks.fit(image, cfg)
    styled = callbacks.fit(image, cfg, style=str(photo_path))
    assert styled.aux is not None and plain.aux is None
    assert styled.nbytes > plain.nbytes


def test_refinement_reports_progress_and_can_be_cancelled():
    image = textured(64, 64)
    seen = []
    callbacks.fit(image, callbacks.resolve_config(grid=8, refine_steps=5), progress=lambda f, d: seen.append(f))
    assert seen[-1] == 1.0 and len(seen) == 5
    stop = __import__("threading").Event()
    stop.set()
    with pytest.raises(cc.Cancelled):
        callbacks.fit(image, callbacks.resolve_config(grid=8, refine_steps=5), cancel=stop)


def test_psnr():
    a = textured(32, 32)
    assert callbacks.psnr(a, a) == float("inf")
    noisy = Image.fromarray(np.clip(np.asarray(a, int) + 10, 0, 255).astype(np.uint8))
    assert 27 < callbacks.psnr(a, noisy) < 29  # 20 log10(255 / ~10)
    with pytest.raises(ValueError, match="equal sizes"):
        callbacks.psnr(a, a.resize((16, 16)))


def test_code_files_round_trip_and_bad_files_are_explained(fitted, tmp_path, bad_uploads):
    _, code = fitted
    path = code.save(tmp_path / "x.collage")
    again = callbacks.load_code(str(path))
    assert torch.equal(again.a, code.a) and again.source_size == code.source_size
    with pytest.raises(ValueError, match="Cannot load this code file: notes.png is .*not a fractal code file"):
        callbacks.load_code(str(bad_uploads["text"]))
    truncated = tmp_path / "cut.collage"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="Cannot load this code file: cut.collage is truncated"):
        callbacks.load_code(str(truncated))


# ------------------------------------------------------------------ watch it converge
def test_converge_frames_end_at_the_attractor(fitted, tmp_path):
    _, code = fitted
    result = callbacks.converge_frames(code, steps=12, start="noise", side=64, hold=3, clip=False)
    assert len(result.frames) == 12 + 1 + 3 and result.frames[0].size == (64, 43)
    assert result.errors[0] > 100  # noise is far from the picture
    assert result.errors[-1] <= 3  # ... and 12 steps later it is the attractor (8-bit rounding)
    assert all(b <= a + 1 for a, b in zip(result.errors, result.errors[1:], strict=False))
    path = callbacks.write_frames(result.frames, tmp_path / "converge.gif", fps=8)
    with Image.open(path) as gif:
        assert gif.n_frames >= 12 and gif.size == (64, 43)
        gif.seek(gif.n_frames - 1)
        last = gif.convert("RGB")
    # What the user sees last is the attractor (up to the GIF's 256-colour palette).
    assert callbacks.psnr(last, code.render(64 / 96)) > 25


def test_converge_stops_where_the_picture_stops_changing(fitted):
    _, code = fitted
    full = callbacks.converge_frames(code, steps=12, side=64, hold=2, clip=False)
    clipped = callbacks.converge_frames(code, steps=12, side=64, hold=2)
    n = clipped.converged_at
    # The first iteration within STILL grey levels of the attractor, found by hand in the full run.
    first_still = next(i for i, e in enumerate(full.errors) if e <= STILL)
    assert n == first_still and 1 <= n < 12 and full.errors[n - 1] > STILL
    assert clipped.errors == full.errors[: n + 1] and len(clipped.frames) == n + 1 + 2
    for a, b in zip(clipped.frames[: n + 1], full.frames, strict=False):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    # The held frames are the exact attractor, as the full run's last ones.
    for held in clipped.frames[n + 1 :]:
        assert np.array_equal(np.asarray(held), np.asarray(full.frames[-1]))


def test_write_frames_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match=r"\.gif, \.webp or \.mp4"):
        callbacks.write_frames([textured(16, 16)], tmp_path / "x.avi")


# ------------------------------------------------------------------------------- zoom
def test_animation_limits():
    assert callbacks.check_animation(2, 12, (256, 256), 1000) == 24
    with pytest.raises(ValueError, match="frames; the limit is"):
        callbacks.check_animation(limits.MAX_SECONDS, limits.MAX_FPS, (64, 64), 10)
    # The studio's limits on top of the engine's (one ZoomSettings, validated once):
    with pytest.raises(ValueError, match="Animation sides must be at most 1024"):
        callbacks.check_animation(1, 4, (2000, 64), 10)  # the engine allows 2048
    with pytest.raises(ValueError, match="Zoom must be at most 1e"):
        callbacks.check_animation(1, 4, (64, 64), limits.MAX_ZOOM * 10)
    with pytest.raises(ValueError, match=r"each side must be 16\.\.2048"):
        callbacks.check_animation(1, 4, (4096, 64), 10)
    with pytest.raises(ValueError, match=r"zoom must be in \[1"):
        callbacks.check_animation(1, 4, (64, 64), 0.5)


def test_export_zoom_writes_a_gif_and_reports_progress(fitted, tmp_path):
    _, code = fitted
    seen = []
    path = callbacks.export_zoom(
        code, tmp_path / "z.gif", zoom=64, seconds=1, fps=3, size=(48, 32), progress=lambda f, d: seen.append(f)
    )
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size == (48, 32)
    assert seen[-1] == pytest.approx(1.0)


def test_export_zoom_cancel_leaves_no_file(fitted, tmp_path):
    _, code = fitted
    stop = __import__("threading").Event()
    stop.set()
    with pytest.raises(cc.Cancelled):
        callbacks.export_zoom(code, tmp_path / "z.gif", zoom=8, seconds=1, fps=4, size=(32, 32), cancel=stop)
    assert list(tmp_path.iterdir()) == []


def test_zoom_target_and_size_parsing():
    assert ui.parse_target("") is None and ui.parse_target("auto loop point") is None
    assert ui.parse_target("0.25, 0.75") == (0.25, 0.75)
    with pytest.raises(ValueError, match="must lie in 0..1"):
        ui.parse_target("2, 0.5")
    with pytest.raises(ValueError, match="Target must be"):
        ui.parse_target("middle")
    assert ui.parse_size("384×384") == (384, 384) and ui.parse_size("640x360") == (640, 360)
    with pytest.raises(ValueError, match="between 16 and"):
        ui.parse_size("4096x4096")
    # One parser for every caller, with the caller's bounds (the CLI has no animation cap).
    assert inputs.size("20000x16", high=10**5) == (20000, 16) and inputs.point(" 0.5; 1 ") == (0.5, 1.0)


# ----------------------------------------------------------------------------- digits
class _FakeDecoder:
    def sample(self, n, temperature, generator):
        return temperature * torch.arange(1, n + 1) / n  # digit i's ring has brightness i / n


class _FakeLikelihood:
    def render(self, h, magnify):
        side = 28 * magnify
        y, x = torch.meshgrid(torch.linspace(-1, 1, side), torch.linspace(-1, 1, side), indexing="ij")
        ring = torch.exp(-(((x**2 + y**2).sqrt() - 0.5) ** 2) / 0.02)
        return (ring * h[:, None, None, None]).clamp(0, 1)


class _FakeVAE:
    """Stands in for the Collage VAE: latents, then the same ring-shaped digit at any magnification."""

    decoder = _FakeDecoder()
    likelihood = _FakeLikelihood()

    def sample(self, n, magnify=1, temperature=1.0, seed=None, only=None):
        h = self.decoder.sample(n, temperature, None)
        return self.likelihood.render(h if only is None else h[only : only + 1], magnify)


def test_sample_digits_with_a_stand_in_model():
    digits = callbacks.sample_digits(count=6, magnify=3, temperature=1.0, seed=1, model=_FakeVAE())
    assert len(digits.tiles) == 6 and digits.tiles[0].size == (84, 84) and digits.tiles[0].mode == "L"
    assert digits.closeup.size == digits.bicubic.size == (1120, 1120)  # digit #1 at 40x by default
    # Bicubic from 28x28 is blurrier: less energy in pixel-to-pixel differences.
    sharp = np.abs(np.diff(np.asarray(digits.closeup, float), axis=0)).mean()
    soft = np.abs(np.diff(np.asarray(digits.bicubic, float), axis=0)).mean()
    assert sharp > soft
    with pytest.raises(ValueError, match="Count must be"):
        callbacks.sample_digits(count=0, model=_FakeVAE())


@pytest.mark.parametrize("closeup,digit", [(64, 5), (3, 2), (3, 6)])
def test_the_close_up_is_the_chosen_digit_of_the_sheet(closeup, digit):
    digits = callbacks.sample_digits(count=6, magnify=3, seed=2, closeup=closeup, digit=digit, model=_FakeVAE())
    assert digits.closeup.size == digits.bicubic.size == (28 * closeup,) * 2
    tile = np.asarray(digits.tiles[digit - 1], float)
    near = np.asarray(digits.closeup, float)
    # The fake's digit i is a ring of brightness i / 6: the close-up is the sheet's digit #digit.
    assert near.max() == pytest.approx(tile.max(), abs=3)
    assert abs(near.max() - np.asarray(digits.tiles[digit % 6], float).max()) > 20
    assert f"Digit #{digit} at ×{closeup}" in digits.summary


def test_close_up_choices_are_checked():
    with pytest.raises(ValueError, match="not among the 4 samples: pick one from 1 to 4"):
        callbacks.sample_digits(count=4, digit=5, model=_FakeVAE())
    with pytest.raises(ValueError, match="Close-up magnification must be a whole number between 1 and 64"):
        callbacks.sample_digits(count=4, closeup=65, model=_FakeVAE())
    with pytest.raises(ValueError, match="Close-up digit must be a whole number"):
        callbacks.sample_digits(count=4, digit=1.5, model=_FakeVAE())


def test_the_contact_sheet_keeps_every_tile_in_reading_order():
    tiles = [Image.new("L", (5, 3), 10 * (i + 1)) for i in range(7)]
    sheet = callbacks.contact_sheet(tiles, gap=1)
    assert sheet.size == (3 * 5 + 2, 3 * 3 + 2)  # 7 tiles: 3 columns, 3 rows
    arr = np.asarray(sheet)
    for i in range(7):  # naive reference: tile i at row i // 3, column i % 3
        r, c = divmod(i, 3)
        assert (arr[r * 4 : r * 4 + 3, c * 6 : c * 6 + 5] == 10 * (i + 1)).all()
    assert arr[2 * 4 :, 1 * 6 :].max() == 0  # the two missing tiles stay black
    digits = callbacks.sample_digits(count=5, magnify=2, model=_FakeVAE())
    assert digits.sheet.size == (3 * 56, 2 * 56)


def test_sample_digits_caps_the_gallery_size():
    digits = callbacks.sample_digits(count=64, magnify=40, model=_FakeVAE())
    assert 64 * digits.tiles[0].width ** 2 <= limits.MAX_OUTPUT_PIXELS
    assert "reduced" in digits.notes[0]


def test_the_close_up_digit_slider_follows_the_count():
    from app.tabs.digits import digit_range

    shrunk = digit_range(4, 9)
    assert (shrunk.maximum, shrunk.value) == (4, 4)  # the pick moves onto the sheet
    kept = digit_range(10, 3)
    assert (kept.maximum, kept.value) == (10, 3)
    assert digit_range("", 3) == gr.skip()  # a half-typed count changes nothing
