"""Palettes (gradient maps): the ramp against a naive per-pixel reference, monotone ramps,
"true" untouched, every preset renders, the snowflake is icy, bad names are clear."""

import colorsys
import io

import gradio as gr
import numpy as np
import pytest
import torch
from photos import synthetic_photo
from PIL import Image

import collage_core as cc
from collage_core import tiles
from collage_core.image_io import open_image
from collage_core.palette import PALETTES, Palette, check_colour, paint, parse_colour
from collage_core.presets import Preset, list_presets, load_preset
from collage_core.resources import example_photos
from collage_core.tone import REC709, attractor_anchor

SIDE = 96


def naive_paint(x: np.ndarray, name: str, mix: float) -> np.ndarray:
    """``(3, H, W)`` in [0, 1] painted pixel by pixel: find the stops around the luma, lerp."""
    stops = PALETTES[name]
    out = np.empty_like(x)
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            y = min(max(float(np.dot(REC709, x[:, i, j])), 0.0), 1.0)
            for (p0, c0), (p1, c1) in zip(stops, stops[1:], strict=False):
                if p0 <= y <= p1:
                    f = (y - p0) / (p1 - p0)
                    ramp = (1 - f) * np.array(c0) + f * np.array(c1)
                    break
            out[:, i, j] = mix * ramp + (1 - mix) * x[:, i, j]
    return np.clip(out, 0, 1)


@pytest.mark.parametrize("name", list(PALETTES))
@pytest.mark.parametrize("mix", [1.0, 0.6])
def test_paint_matches_a_naive_reference(name, mix):
    rng = np.random.default_rng(3)
    x = rng.random((3, 12, 12))
    grey = np.array([p for p, _ in PALETTES[name]])  # luma exactly on every stop, and 0 and 1
    x[:, 0, : len(grey)] = grey
    got = paint(torch.from_numpy(x), Palette(name, mix)).numpy()
    np.testing.assert_allclose(got, naive_paint(x, name, mix), atol=1e-9)


@pytest.mark.parametrize("name", list(PALETTES))
def test_luminance_ramps_stay_monotone(name):
    # Every shipped ramp rises in luma, so a grey ramp painted with it still rises: light
    # and shade survive the recolouring.
    luma = [float(np.dot(REC709, c)) for _, c in PALETTES[name]]
    assert luma == sorted(luma)
    y = torch.linspace(0, 1, 1001, dtype=torch.float64)[None, None].expand(3, 1, -1)
    painted = paint(y, Palette(name))
    out = torch.einsum("c,chw->hw", torch.tensor(REC709, dtype=torch.float64), painted)[0]
    assert (out.diff() >= -1e-12).all()
    assert out[-1] - out[0] > 0.8  # from near black to near white: the whole tonal range


def test_grey_pictures_become_colour_and_alpha_is_kept():
    la = torch.rand(2, 8, 8)
    out = paint(la, Palette("ice"))
    assert out.shape == (4, 8, 8) and torch.equal(out[3], la[1])
    code = cc.fractalize(Image.fromarray(np.uint8(synthetic_photo(48, 48)[..., 0] * 255), "L"), grid=8)
    assert code.render(1, colour="ice").mode == "RGB"
    assert code.render(1).mode == "L"


def test_true_is_the_untouched_render():
    code = cc.fractalize(synthetic_photo(64, 64, seed=2), grid=8, symmetries="d4")
    base = np.asarray(code.render(2))
    for colour in ("true", True, "off", "colour"):
        assert np.array_equal(np.asarray(code.render(2, colour=colour)), base)
    x = torch.rand(3, 4, 4)
    assert paint(x, None) is x  # no palette: not even a copy


def test_a_palette_is_painted_after_the_levels():
    """Zoom frames in "ice" are the frames of "ice:0" (its levels, smoothed in time, mix 0:
    the true colours) painted pixel by pixel: the animation's levels are untouched by the
    palette, so it flickers no more than the colour-true one."""
    code = cc.fractalize(synthetic_photo(64, 64, seed=4), grid=8, symmetries="d4")
    kw = {"zoom": 200.0, "seconds": 1.0, "fps": 6, "size": (40, 40)}
    levels = list(cc.zoom_frames(code, autocontrast="ice:0", **kw))
    painted = list(cc.zoom_frames(code, autocontrast="ice", **kw))
    assert len(levels) == len(painted) == 6
    for a, b in zip(levels, painted, strict=True):
        torch.testing.assert_close(b, paint(a, Palette("ice")), atol=1e-5, rtol=0)
    # And those levels are the colour-true look's anchored, smoothed ones, stretched from
    # the attractor's black and white to the ramp's ends: no level of their own per frame.
    black, white = attractor_anchor(cc.ViewRenderer(code)).levels
    w = torch.tensor(REC709)
    for a, t in zip(levels, cc.zoom_frames(code, autocontrast=True, **kw), strict=True):
        expected = ((torch.einsum("c,chw->hw", w, t) - black) / (white - black)).clamp(0, 1)
        error = (torch.einsum("c,chw->hw", w, a) - expected).abs()
        assert error.quantile(0.99) < 2 / 255
    # The same for a view, a tile and a poster's tone.
    renderer = cc.ViewRenderer(code)
    raw = tiles.render_exact(renderer, (0.3, 0.6), 50, (32, 32))
    lv = tiles.tone_levels(raw, renderer, 50, Palette("ice"))
    torch.testing.assert_close(tiles.tone(raw, lv, Palette("ice")), paint(tiles.tone(raw, lv), Palette("ice")))


def _shrunk(path, side=SIDE):
    img = open_image(path)
    img.thumbnail((side, side))
    return img


def _render(preset: Preset, img) -> Image.Image:
    code = cc.fractalize(img, config=preset.config())
    r = preset.render
    kw = {"iterations": r["iterations"], "start": r.get("start", "noise")} if "iterations" in r else {}
    return code.render(1, colour=r.get("colour", "true"), **kw)


@pytest.mark.parametrize("preset", list_presets(include_user=False), ids=lambda p: p.name)
def test_every_shipped_preset_loads_and_renders(preset):
    img = synthetic_photo(64, 48, seed=6)
    out = _render(preset, img)
    assert out.size == (64, 48)
    assert np.asarray(out.convert("L"), float).std() > 4  # a picture, not a flat field
    cc.ZoomSettings.from_preset(preset.zoom)  # its zoom settings are valid


def _hue_and_luma(img: Image.Image) -> tuple[float, float, float]:
    """Mean hue in degrees (circular, weighted by saturation), luma std and p99."""
    rgb = np.asarray(img.convert("RGB"), float).reshape(-1, 3) / 255
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in rgb[::7]])
    angle = 2 * np.pi * hsv[:, 0]
    w = hsv[:, 1]
    hue = np.degrees(np.arctan2((w * np.sin(angle)).sum(), (w * np.cos(angle)).sum())) % 360
    luma = rgb @ np.array(REC709)
    return hue, luma.std(), np.quantile(luma, 0.99)


@pytest.mark.parametrize("photo", example_photos(), ids=lambda p: p.stem)
def test_the_snowflake_is_icy_on_every_example_photo(photo):
    """Cool-toned (mean hue blue/cyan) with strong light and shade and bright highlights,
    whatever the photo's own colours: an invariant, not a golden image."""
    img = _shrunk(photo)
    hue, contrast, bright = _hue_and_luma(_render(load_preset("snowflake"), img))
    assert 180 <= hue <= 240, hue
    assert contrast > 0.15 and bright > 0.8, (contrast, bright)
    own_hue, *_ = _hue_and_luma(img.convert("RGB"))
    if photo.stem in ("chelsea", "coffee"):  # brown photos: the palette, not the photo, sets the hue
        assert not 180 <= own_hue <= 240


@pytest.mark.parametrize(
    "bad,message",
    [
        ("icee", "colour must be one of"),
        ("ice:2", "mix must be a number in"),
        ("ice:x", "mix in 'ice:x'"),
        (3, "one of"),
    ],
)
def test_bad_colours_give_a_clear_message_in_the_library(bad, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_colour(bad)
    if message.startswith("colour"):
        assert all(name in str(info.value) for name in PALETTES)
    code = cc.fractalize(synthetic_photo(32, 32), grid=4)
    with pytest.raises(ValueError, match="colour|mix"):
        code.render(1, colour=bad)
    with pytest.raises(ValueError, match="autocontrast|mix"):
        code.render_view(zoom=4.0, size=(16, 16), autocontrast=bad)
    with pytest.raises(ValueError, match="autocontrast|mix"):
        cc.ZoomSettings(autocontrast=bad)
    with pytest.raises(ValueError, match=r"preset t: \[render\] (colour|palette mix)"):
        Preset("t", render={"colour": str(bad)})
    with pytest.raises(ValueError, match="unknown palette 'sepia'"):
        Palette("sepia")


def test_colour_names_and_mixes_normalise():
    assert check_colour("ICE") == "ice"
    assert check_colour("ice:1") == "ice"
    assert check_colour(" ember:0.25 ") == "ember:0.25"
    assert check_colour(True) == "colour" and check_colour("vivid") == "vivid"
    assert parse_colour("gold:0.5") == ("colour", Palette("gold", 0.5))


def test_bad_colours_in_the_cli(tmp_path, capsys):
    from app.cli import main

    Image.fromarray(np.uint8(synthetic_photo(32, 32) * 255)).save(tmp_path / "p.png")
    for command in ("fractalize", "zoom", "poster"):
        with pytest.raises(SystemExit) as exit_:
            main([command, str(tmp_path / "p.png"), "-o", str(tmp_path / "x.png"), "--colour", "icee"])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and "--colour" in err and "ice" in err and "ember" in err
    assert main(["fractalize", str(tmp_path / "p.png"), "-o", str(tmp_path / "ice.png"), "--colour", "ice"]) == 0
    hue, *_ = _hue_and_luma(Image.open(tmp_path / "ice.png"))
    assert 180 <= hue <= 240


def test_bad_colours_in_the_studio(tmp_path):
    from app.explore_server import TileService
    from app.tabs.fractalize import fractalize

    Image.fromarray(np.uint8(synthetic_photo(32, 32) * 255)).save(tmp_path / "p.png")
    with pytest.raises(gr.Error, match="colour must be one of.*ice"):
        fractalize(str(tmp_path / "p.png"), grid=4, colour="icee")
    attractor, *_ = fractalize(str(tmp_path / "p.png"), grid=4, colour="ember")
    hue, *_ = _hue_and_luma(Image.open(attractor))
    assert hue <= 60 or hue >= 330  # reds and oranges
    service = TileService(prefetch=False)
    code = cc.fractalize(synthetic_photo(32, 32), grid=4)
    with pytest.raises(ValueError, match="a map is colour-true or a palette"):
        service.start(code, "m", "vivid")
    exp, plain = service.start(code, "m", "ice"), service.start(code, "m")
    rid = exp.add_root(tiles.home_root(exp.aspect))
    tile = np.asarray(Image.open(io.BytesIO(service.tile_png(exp, rid, 0, 0, 0, wait=False))), float)
    assert tile.shape[-1] == 3 and tile[..., 2].mean() > tile[..., 0].mean() + 20  # ice: blue, not red
    assert service.tile_key(plain, plain.add_root(tiles.home_root(exp.aspect)), 0, 0, 0) != service.tile_key(
        exp, rid, 0, 0, 0
    )


def test_presets_carry_a_colour_through_the_studio(tmp_path, monkeypatch):
    from app import ui
    from app.session import Session
    from app.tabs.presets import preset_colour

    assert preset_colour("snowflake") == "ice" and preset_colour("natural") == "true"
    monkeypatch.setenv("NEURAL_COLLAGE_PRESETS", str(tmp_path))
    session = Session()
    ui.save_user_preset("Frost", "", 12, "d4", 0.4, 0, 0, "noise", 1, session, "1", "hard", "ice:0.7")
    assert session.presets["frost"].render["colour"] == "ice:0.7"
    assert preset_colour("frost", session) == "ice:0.7"
    assert 'colour = "ice:0.7"' in session.presets["frost"].to_toml()
    with pytest.raises(gr.Error, match="colour must be one of"):
        ui.save_user_preset("Bad", "", 12, "d4", 0.4, 0, 0, "noise", 1, session, "1", "hard", "frosty")
