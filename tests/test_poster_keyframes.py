"""Posters (streamed PNG in blocks), keyframed dives and shared views, against naive references."""

import json
import math
import threading
from fractions import Fraction

import numpy as np
import pytest
from conftest import textured
from PIL import Image, ImageSequence

import collage_core as cc
from app import cli
from collage_core import tiles
from collage_core.png_stream import PngWriter
from collage_core.zoom import KeyframePath, keyframe_frames, keyframes_json, load_keyframes, parse_keyframes


@pytest.fixture(scope="module")
def code():
    return cc.fractalize(textured(60, 40, seed=5), grid=4, symmetries="d4")


# ------------------------------------------------------------------------------ PNG
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_streamed_png_decodes_to_the_rows_written(tmp_path, channels):
    rng = np.random.default_rng(channels)
    img = rng.integers(0, 256, size=(37, 23, channels), dtype=np.uint8)
    writer = PngWriter(tmp_path / "x.png", 23, 37, channels, level=1)
    for top in range(0, 37, 10):  # bands of uneven height
        writer.write_rows(img[top : top + 10])
    writer.close()
    got = np.asarray(Image.open(tmp_path / "x.png"))
    assert np.array_equal(got.reshape(img.shape), img)


def test_png_writer_refuses_wrong_rows(tmp_path):
    writer = PngWriter(tmp_path / "x.png", 8, 4, 3)
    with pytest.raises(ValueError, match="rows must be"):
        writer.write_rows(np.zeros((2, 9, 3), np.uint8))
    writer.write_rows(np.zeros((2, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="only 2 of 4"):
        writer.close()
    writer.abort()


# --------------------------------------------------------------------------- posters
@pytest.mark.parametrize(
    "center, zoom, size, autocontrast",
    [
        ((0.5, 0.5), 1.0, (150, 100), False),
        ((0.5, 0.5), 1.0, (150, 100), True),
        ((0.31, 0.62), 1e6, (131, 97), False),
        ((0.31, 0.62), 1e6, (131, 97), True),
        ((0.1234567, 0.7), 3e12, (100, 140), False),
    ],
)
def test_poster_equals_render_view(tmp_path, code, center, zoom, size, autocontrast):
    """Blocks of 64 px (so several bands and a ragged edge) give render_view's image."""
    out = cc.render_poster(
        code, tmp_path / "p.png", size=size, center=center, zoom=zoom, block=64, autocontrast=autocontrast
    )
    got = np.asarray(Image.open(out)).astype(int)
    # Posters and Explore tiles tone with the colour-true look (tiles.tone_levels), as render_view does.
    look = "colour" if autocontrast else "off"
    ref = np.asarray(code.render_view(center=center, zoom=zoom, size=size, autocontrast=look)).astype(int)
    assert got.shape == ref.shape
    # Float sums in a different order can flip a rounding by one grey level, nothing more.
    # (Stretched 1e12x deep, as this tiny grid-4 code is 20 levels down, the renderer's
    # float32 detail differs by a few grey levels between window layouts.)
    assert np.abs(got - ref).max() <= 1 and (got != ref).mean() < 1e-2


def test_poster_progress_cancel_and_bad_input(tmp_path, code):
    seen = []
    cc.render_poster(code, tmp_path / "a.png", size=(130, 70), block=64, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 6) for i in range(1, 7)]
    stop = threading.Event()

    def cancel_after_two(done, total):
        if done == 2:
            stop.set()

    with pytest.raises(cc.Cancelled):
        cc.render_poster(code, tmp_path / "b.png", size=(130, 70), block=64, progress=cancel_after_two, cancel=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # no partial file left
    for kwargs, match in (
        ({"size": (16385, 100)}, "out of range"),
        ({"zoom": 1e16}, "zoom"),
        ({"center": (1.5, 0.5)}, "center"),
        ({"center": "middle"}, "center"),
    ):
        with pytest.raises(ValueError, match=match):
            cc.render_poster(code, tmp_path / "c.png", **kwargs)
    with pytest.raises(ValueError, match="PNG"):
        cc.render_poster(code, tmp_path / "c.jpg")


# -------------------------------------------------------------------------- keyframes
def _k(x, y, z):
    return ((Fraction(x), Fraction(y)), Fraction(z))


def test_keyframe_path_ends_on_its_keyframes_and_dives_at_constant_speed():
    keys = (_k("0.5", "0.5", 1), _k("0.3", "0.6", 10**6))
    path = KeyframePath(keys, Fraction(3, 2), 401, easing="linear")
    assert path.view(0) == keys[0] and path.view(400) == keys[-1]
    # Perceived speed: van Wijk and Nuij's distance between consecutive frames is the same.
    steps = []
    for i in range(400):
        (x0, y0), z0 = path.view(i)
        (x1, y1), z1 = path.view(i + 1)
        w0, w1 = 1 / float(z0), 1 / float(z1)
        du = math.hypot(float(x1 - x0), float((y1 - y0) * Fraction(2, 3)))
        # ds^2 = (rho^4 du^2 + dw^2) / (rho^2 w^2): their u(s), w(s) have unit speed in it.
        steps.append(math.sqrt(4 * du**2 + (w1 - w0) ** 2) / (math.sqrt(2) * math.sqrt(w0 * w1)))
    assert max(steps) / min(steps) < 1.02


def test_a_pure_dive_is_log_zoom_linear_in_time():
    keys = (_k("0.25", "0.75", 10), _k("0.25", "0.75", 10**13))
    path = KeyframePath(keys, Fraction(1), 13, easing="linear")
    logs = [math.log10(float(path.view(i)[1])) for i in range(13)]
    assert np.allclose(np.diff(logs), 1.0) and all(path.view(i)[0] == keys[0][0] for i in range(13))


def test_keyframes_are_validated():
    with pytest.raises(ValueError, match="2 to"):
        parse_keyframes([((0.5, 0.5), 1)])
    with pytest.raises(ValueError, match="keyframe 2"):
        parse_keyframes([((0.5, 0.5), 1), ((0.5, 2.5), 10)])
    with pytest.raises(ValueError, match="same view"):
        KeyframePath(parse_keyframes([((0.5, 0.5), 3), ((0.5, 0.5), 3)]), Fraction(1), 10)


def test_keyframed_export_ends_on_the_last_keyframe(tmp_path, code):
    keys = [((0.5, 0.5), 1.0), ((0.3, 0.6), 50.0), (("0.3000001", "0.6"), 1e9)]
    path = KeyframePath(parse_keyframes(keys), Fraction(3, 2), 9)
    frames = list(keyframe_frames(code, path, (48, 32), fps=8, autocontrast=False))
    assert len(frames) == 9
    last = np.asarray(cc.tiles.render_exact(cc.ViewRenderer(code), *path.keys[-1], (48, 32)).clamp(0, 1))
    assert np.allclose(frames[-1].numpy(), last, atol=1e-6)
    first = np.asarray(code.render_view((0.5, 0.5), 1.0, (48, 32))).transpose(2, 0, 1) / 255
    assert np.abs(frames[0].numpy() - first).max() <= 0.5 / 255 + 1e-6
    # Through the library's export, as a GIF with every frame.
    out = cc.export_zoom(code, tmp_path / "dive.gif", keyframes=keys, seconds=1, fps=9, size=(48, 32))
    with Image.open(out) as gif:
        assert gif.n_frames == 9 and gif.size == (48, 32)
        assert len({f.convert("RGB").tobytes() for f in ImageSequence.Iterator(gif)}) > 5


def test_keyframe_files_round_trip_exactly(tmp_path):
    keys = parse_keyframes([((0.5, 0.5), 1), ((Fraction(1, 3) + Fraction(1, 10**14), Fraction(2, 7)), 1e15)])
    (tmp_path / "k.json").write_text(keyframes_json(keys))
    back = load_keyframes(tmp_path / "k.json")
    assert back[0] == keys[0]
    (x, y), z = back[1]
    assert z == keys[1][1] and abs(x - keys[1][0][0]) * z < 1e-6 and abs(y - keys[1][0][1]) * z < 1e-6
    (tmp_path / "k.toml").write_text(
        '[[keyframes]]\ncenter = [0.5, 0.5]\nzoom = 1\n[[keyframes]]\ncenter = ["0.3", "0.6"]\nzoom = 1e4\n'
    )
    assert load_keyframes(tmp_path / "k.toml")[1] == ((Fraction(3, 10), Fraction(6, 10)), Fraction(10**4))
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_keyframes(tmp_path / "bad.json")


# ------------------------------------------------------------------------- shared views
def test_a_shared_view_restores_the_same_view_at_1e15(code, other_code=None):
    center = (Fraction(1, 3) + Fraction(7, 10**16), Fraction(5, 9))
    spec = cc.ViewSpec(code=cc.code_hash(code), center=center, zoom=Fraction(10**15))
    for text in (spec.to_json(), spec.to_fragment(), "http://127.0.0.1:7860/" + spec.to_fragment()):
        back = cc.ViewSpec.parse(text)
        # Exact to a hundredth of a pixel of a 4096-wide view.
        assert all(abs(a - b) * back.zoom * 4096 < 0.01 for a, b in zip(back.center, center, strict=True))
        assert back.zoom == spec.zoom and back.code == spec.code
        back.check_code(code)
    assert json.loads(spec.to_json())["tone"]["method"] == "levels-per-depth"
    other = cc.fractalize(textured(40, 40, seed=1), grid=4)
    with pytest.raises(ValueError, match="another collage"):
        spec.check_code(other)
    for bad in ("", "{}", "not json", "#view=@@@", '{"format": "neural-collage-view", "zoom": 1}'):
        with pytest.raises(ValueError):
            cc.ViewSpec.parse(bad)


# ------------------------------------------------------------------------------- CLI
def test_cli_poster_and_keyframed_zoom(tmp_path, code, capsys):
    code_path = code.save(tmp_path / "c.collage")
    poster = tmp_path / "p.png"
    assert cli.main([
        "poster", str(code_path), "-o", str(poster), "--size", "96x64", "--center", "0.3,0.6", "--zoom", "1000",
    ]) == 0  # fmt: skip
    assert Image.open(poster).size == (96, 64)
    spec = cc.ViewSpec(code=cc.code_hash(code), center=(Fraction(3, 10), Fraction(6, 10)), zoom=Fraction(1000))
    (tmp_path / "v.json").write_text(spec.to_json())
    again = tmp_path / "q.png"
    assert (
        cli.main(["poster", str(code_path), "-o", str(again), "--size", "96x64", "--view", str(tmp_path / "v.json")])
        == 0
    )
    assert np.array_equal(np.asarray(Image.open(poster)), np.asarray(Image.open(again)))
    (tmp_path / "k.json").write_text(json.dumps([[[0.5, 0.5], 1], [[0.3, 0.6], 100]]))
    dive = tmp_path / "d.gif"
    assert cli.main([
        "zoom", str(code_path), "-o", str(dive), "--keyframes", str(tmp_path / "k.json"),
        "--seconds", "1", "--fps", "4", "--size", "32x32",
    ]) == 0  # fmt: skip
    assert Image.open(dive).n_frames == 4 and "2 keyframes" in capsys.readouterr().out
    assert cli.main(["poster", str(code_path), "-o", str(tmp_path / "x.png"), "--zoom", "1e16"]) == 1
    assert tiles.TILE == 256


def test_code_hash_is_stable_across_save_and_load(tmp_path, code):
    saved = cc.FractalCode.load(code.save(tmp_path / "c.collage"))
    assert cc.code_hash(code) == cc.code_hash(code) == cc.code_hash(saved)
    assert cc.code_hash(cc.fractalize(textured(60, 40, seed=6), grid=4)) != cc.code_hash(code)
