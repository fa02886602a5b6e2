"""ZoomSettings: one set of defaults, validated once, carried whole from the CLI and the library."""

import math
from fractions import Fraction

import pytest
from conftest import textured

import collage_core as cc
from app import cli
from collage_core import presets
from collage_core.zoom import ZoomSettings
from collage_core.zoom import export as zoom_export


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"zoom": 0.5}, "zoom must be in [1, 1e+15]"),
        ({"zoom": math.nan}, "zoom must be a finite number"),
        ({"zoom": "deep"}, "zoom must be a finite number"),
        ({"zoom": 1e16}, "zoom must be in"),
        ({"seconds": 0}, "seconds must be positive"),
        ({"seconds": -1.0}, "seconds must be positive"),
        ({"fps": 0}, "fps must be in (0, 60]"),
        ({"fps": 120}, "fps must be in (0, 60]"),
        ({"fps": True}, "fps must be a finite number"),
        ({"seconds": 0.1, "fps": 10}, "an animation needs at least 2"),
        ({"seconds": 300.0}, "the limit is 2400"),
        ({"size": (8, 64)}, "each side must be 16..2048"),
        ({"size": (64.0, 64)}, "two integers"),
        ({"size": "big"}, "size must be"),
        ({"center": (1.5, 0.5)}, "center must lie in the image"),
        ({"center": "middle"}, "center must be None or a pair"),
        ({"easing": "bounce"}, "easing must be one of"),
        ({"autocontrast": "loud"}, "autocontrast must be"),
        ({"loop": "yes"}, "loop must be True or False"),
        ({"loop": True, "pingpong": True}, "exclusive"),
        ({"keyframes": [((0.5, 0.5), 1)]}, "2 to 64 keyframes"),
        ({"keyframes": [((0.5, 0.5), 1), ((2, 0.5), 4)]}, "keyframe 2"),
    ],
)
def test_bad_values_give_a_clear_message(changes, message):
    with pytest.raises(ValueError) as err:
        ZoomSettings(**changes)
    assert message in str(err.value)
    with pytest.raises(ValueError):  # the same check on every route in
        ZoomSettings().override(**changes)


def test_values_are_normalised_once():
    s = ZoomSettings(zoom=8, fps=12, seconds=2, size=[64, 48], center=[0, 1], autocontrast=True)
    assert (s.zoom, s.fps, s.size, s.center, s.autocontrast, s.frames) == (
        8.0,
        12.0,
        (64, 48),
        (0.0, 1.0),
        "colour",
        24,
    )
    assert ZoomSettings(autocontrast=False).autocontrast == "off"
    keys = ZoomSettings(keyframes=[((0.5, 0.5), 1), (("0.25", 0.75), 1e6)]).keyframes
    assert keys[1] == ((Fraction(1, 4), Fraction(3, 4)), Fraction(10**6))
    assert math.isclose(ZoomSettings(zoom=1e6).depth, 6.0)
    with pytest.raises(AttributeError):
        s.zoom = 3.0  # frozen


def test_override_and_presets():
    base = ZoomSettings(seconds=4)
    assert base.override(zoom=None) is base  # None leaves a field as it is (unset CLI flags)
    assert base.override(fps=12).fps == 12 and base.override(fps=12).seconds == 4
    with pytest.raises(ValueError, match="unknown zoom settings \\['colour'\\]"):
        base.override(colour="vivid")
    s = ZoomSettings.from_preset({"zoom": 4096.0, "size": "640x360", "format": "mp4", "loop": True})
    assert (s.zoom, s.size, s.loop, s.seconds) == (4096.0, (640, 360), True, ZoomSettings().seconds)
    assert ZoomSettings.from_preset({"size": 256}).size == (256, 256)
    for preset in presets.list_presets(include_user=False):  # every shipped look is valid as settings
        ZoomSettings.from_preset(preset.zoom)


def test_a_server_adds_tighter_limits_without_checking_fields_again():
    s = ZoomSettings(zoom=1e6, seconds=20, fps=30, size=(800, 600))
    assert s.within(max_zoom=1e12, max_seconds=30, max_fps=50, max_frames=600, max_side=1024) is s
    for limits, message in [
        ({"max_zoom": 1e3}, "Zoom must be at most 1000"),
        ({"max_seconds": 10}, "Duration must be at most 10 s"),
        ({"max_fps": 25}, "Frames per second must be at most 25"),
        ({"max_frames": 500}, "600 frames; the limit is 500"),
        ({"max_side": 640}, "at most 640 px, got 800×600"),
    ]:
        with pytest.raises(ValueError, match=message):
            s.within(**limits)


def test_the_library_uses_the_one_set_of_defaults(monkeypatch, tmp_path):
    seen = {}

    def fake_export_frames(frames, path, fps, **kw):
        seen.update(fps=fps, **kw)
        return path

    monkeypatch.setattr(zoom_export, "export_frames", fake_export_frames)
    code = cc.fractalize(textured(32, 32), grid=4)
    cc.export_zoom(code, tmp_path / "z.gif")
    d = ZoomSettings()
    assert seen["fps"] == d.fps and seen["n_frames"] == d.frames and seen["dither"] is d.dither
    cc.export_zoom(code, tmp_path / "z.gif", ZoomSettings(seconds=2, fps=5), fps=10)  # keywords win
    assert seen["n_frames"] == 20


def test_a_positional_zoom_is_refused_clearly(tmp_path):
    code = cc.fractalize(textured(32, 32), grid=4)
    with pytest.raises(ValueError, match="settings must be a ZoomSettings"):
        cc.export_zoom(code, tmp_path / "z.gif", 1000.0)


def test_the_cli_builds_one_settings_object(monkeypatch, tmp_path):
    photo = tmp_path / "p.png"
    textured(32, 32).save(photo)
    captured = []

    def run_export(code, out, settings, bar, device=None):
        captured.append(settings)
        out.write_bytes(b"GIF89a")

    monkeypatch.setattr(cli, "_run_export", run_export)
    assert cli.main(["zoom", str(photo), "-o", str(tmp_path / "z.gif")]) == 0
    assert captured[-1] == ZoomSettings()  # no flag: exactly the library's defaults
    argv = ["zoom", str(photo), "-o", str(tmp_path / "z.gif"), "--preset", "dissolve", "--fps", "12"]
    assert cli.main([*argv, "--colour", "vivid", "--size", "64x48"]) == 0
    look = ZoomSettings.from_preset(presets.load_preset("dissolve").zoom)
    assert captured[-1] == look.override(fps=12, autocontrast="vivid", size=(64, 48))
