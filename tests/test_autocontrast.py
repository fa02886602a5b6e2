"""Tone looks (collage_core.tone, autocontrast): hue kept, no added cast, smooth in time."""

from __future__ import annotations

import math

import pytest
import torch

import collage_core as cc
from collage_core.autocontrast import autocontrast, smooth_stream
from collage_core.presets import Preset
from collage_core.tone import REC709, Anchor, check_look, colour_map, into_gamut, tone_map
from tests.photos import synthetic_photo


def _pattern(seed: int = 0, side: int = 32, dtype=torch.float64) -> torch.Tensor:
    """``(1, side, side)`` luminance pattern in [0, 1] with smooth structure and noise."""
    gen = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    base = 0.5 + 0.3 * torch.sin(9 * x + 4 * y) * torch.cos(5 * y - 3 * x)
    return (base + 0.1 * torch.rand(side, side, generator=gen)).clamp(0, 1)[None].to(dtype)


def _chroma(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(REC709, dtype=x.dtype)
    return x - torch.einsum("c,chw->hw", w, x)[None]


def _hue(x: torch.Tensor) -> torch.Tensor:
    """Hue angle of each pixel ``(H, W)`` in an opponent plane (R-G, (R+G)/2-B)."""
    r, g, b = x
    return torch.atan2(math.sqrt(3) / 2 * (g - b), r - (g + b) / 2)


def _angle_diff(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.remainder(a - b + math.pi, 2 * math.pi) - math.pi


@pytest.mark.parametrize("gain", [1.0, 1e-3, 1e-9])
def test_colour_look_keeps_the_hue_of_an_affine_frame(gain):
    # Every channel an affine map of one luminance pattern, as a deep view of one copy is;
    # tiny gains are deep views far below float32 resolution.
    L = _pattern()
    alpha = gain * torch.tensor([0.9, 0.5, 0.2], dtype=torch.float64)[:, None, None]
    beta = torch.tensor([0.05, 0.15, 0.1], dtype=torch.float64)[:, None, None] * (1 - gain)
    x = alpha * L + beta
    out = autocontrast(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    # (pixels clipped to black or white have no hue left to compare)
    coloured = (_chroma(x).norm(dim=0) > 1e-3 * _chroma(x).norm(dim=0).max()) & (_chroma(out).norm(dim=0) > 1e-4)
    assert coloured.float().mean() > 0.9
    assert _angle_diff(_hue(out), _hue(x))[coloured].abs().max() < 1e-3
    # and contrast is stretched: luma spans (nearly) the whole range
    luma = torch.einsum("c,chw->hw", torch.tensor(REC709, dtype=out.dtype), out)
    assert luma.max() - luma.min() > 0.9
    vivid = autocontrast(x, look="vivid")
    assert _angle_diff(_hue(vivid), _hue(x))[coloured].abs().max() > 0.1  # per channel: hue shifts


def test_colour_look_adds_no_cast_vivid_does():
    # A low-contrast frame with a warm cast: colour-true keeps its mean chroma exactly.
    L = _pattern(seed=1)
    x = 0.2 * L + torch.tensor([0.55, 0.4, 0.3], dtype=torch.float64)[:, None, None]
    true = autocontrast(x)
    vivid = autocontrast(x, look="vivid")
    cast = _chroma(x).mean(dim=(1, 2))

    def along(v):  # (cosine with the input's cast, length relative to it)
        c = _chroma(v).mean(dim=(1, 2))
        return float(c @ cast / (c.norm() * cast.norm())), float(c.norm() / cast.norm())

    # The map keeps the cast exactly; fitting the stretched pixels into the gamut only pulls
    # the darkest and brightest toward grey (hue kept), so the mean cast can only fade a little.
    cosine, length = along(true)
    assert cosine > 0.9999 and 0.85 < length <= 1.0 + 1e-9
    m = tone_map(x, "colour")
    mapped = (m[:, :3] @ x.reshape(3, -1) + m[:, 3:]).reshape(x.shape)
    assert torch.allclose(_chroma(mapped).mean(dim=(1, 2)), cast, atol=1e-9)
    cosine, length = along(vivid)
    assert cosine < 0.99 or not 0.5 < length < 2  # per channel: the cast is changed


def test_anchor_gives_a_deep_frame_the_attractors_colours():
    # A deep frame is a flat tint of one point plus faint detail; anchored and pulled fully,
    # its mean chroma becomes the attractor's and its chroma is no stronger than the anchor's.
    x = 1e-6 * _pattern(seed=2).expand(3, -1, -1) * torch.tensor([1.0, 0.7, 0.4], dtype=torch.float64)[:, None, None]
    x = x + torch.tensor([0.7, 0.3, 0.2], dtype=torch.float64)[:, None, None]
    photo = torch.cat([v + 0.2 * _pattern(seed=3 + k, side=8) for k, v in enumerate((0.6, 0.45, 0.5))])
    anchor = Anchor.of(photo)
    anchor = anchor.at(1e6, 32)
    assert anchor.pull == 1.0 and Anchor(anchor.chroma, 0.1).at(1.0, 32).pull == 0.0
    m = colour_map(x, anchor)
    y = m[:, :3] @ x.reshape(3, -1) + m[:, 3:]  # before fitting into the gamut
    chroma = _chroma(y.reshape(x.shape))
    assert torch.allclose(chroma.mean(dim=(1, 2)), anchor.chroma, atol=1e-6)
    detail = chroma - chroma.mean(dim=(1, 2), keepdim=True)
    assert anchor.spread > 0.01 and detail.pow(2).sum(0).mean().sqrt() <= anchor.spread * (1 + 1e-6)


def test_into_gamut_keeps_hue_and_luma():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(3, 16, 16, generator=gen, dtype=torch.float64) * 1.6 - 0.3
    y = into_gamut(x)
    assert y.min() >= 0 and y.max() <= 1
    w = torch.tensor(REC709, dtype=x.dtype)
    luma_x, luma_y = (torch.einsum("c,chw->hw", w, v) for v in (x, y))
    assert torch.allclose(luma_y, luma_x.clamp(0, 1), atol=1e-12)
    coloured = _chroma(y).norm(dim=0) > 1e-6
    assert _angle_diff(_hue(y), _hue(x))[coloured].abs().max() < 1e-9
    inside = ((x >= 0) & (x <= 1)).all(0)
    assert torch.allclose(y[:, inside], x[:, inside], atol=1e-15)  # pixels in gamut are untouched


@pytest.mark.parametrize("look", ["colour", "vivid"])
def test_flat_frames_are_not_amplified(look):
    flat = torch.full((3, 16, 16), 0.4, dtype=torch.float64) + torch.tensor([0.1, 0.0, -0.1])[:, None, None].double()
    assert torch.allclose(autocontrast(flat, look=look)[:, 0, 0], flat[:, 0, 0]) or look == "vivid"
    # rounding noise of a few units of float resolution is not stretched to full range
    gen = torch.Generator().manual_seed(4)
    noisy = flat + 4 * torch.finfo(torch.float64).eps * torch.rand(3, 16, 16, generator=gen, dtype=torch.float64)
    out = autocontrast(noisy, look=look)
    assert (out.amax(dim=(1, 2)) - out.amin(dim=(1, 2))).max() < 0.2


def test_float64_deep_view_keeps_its_detail_and_alpha():
    code = cc.fractalize(synthetic_photo(64, 64, seed=7), grid=8, symmetries="d4")
    renderer = cc.viewport.ViewRenderer(code)
    deep = renderer.render((0.41, 0.36), 1e12, (48, 48), precise=True)
    assert deep.dtype == torch.float64
    out = autocontrast(deep)
    assert out.dtype == torch.float64 and torch.isfinite(out).all() and out.std() > 0.1
    rgba = torch.cat([deep, torch.rand(1, 48, 48, dtype=torch.float64)])
    assert torch.equal(autocontrast(rgba)[3], rgba[3])
    gray = deep.mean(0, keepdim=True)  # L: the luma stretch is the per-channel one
    assert torch.allclose(autocontrast(gray), autocontrast(gray, look="vivid"), atol=1e-6)


def _stream(frames):
    return ((f[None], torch.ones(1)) for f in frames)


@pytest.mark.parametrize("look", ["colour", "vivid"])
def test_constant_levels_are_unchanged_by_smoothing(look):
    # Frames that share one tone map: smoothing the maps changes nothing.
    L = [_pattern(seed=s) for s in range(10)]
    frames = [torch.cat([0.5 * p + 0.2, 0.4 * p + 0.25, 0.3 * p + 0.3]) for p in L]
    fixed = tone_map(frames[0], look)
    stream = ((f[None], torch.ones(1), fixed[None]) for f in frames)
    smooth = list(smooth_stream(stream, len(frames), sigma=3.0, look=look))
    for s, f in zip(smooth, frames, strict=True):
        direct = fixed[:, :3] @ f.reshape(3, -1) + fixed[:, 3:]
        expected = (into_gamut(direct.reshape(f.shape)) if look == "colour" else direct.reshape(f.shape)).clamp(0, 1)
        assert (s - expected.float()).abs().max() < 2e-3  # held frames are float16


@pytest.mark.parametrize("look", ["colour", "vivid"])
def test_smoothed_levels_change_no_faster_than_raw_ones(look):
    # A steady picture whose corner patch jumps in brightness, irregularly: per-frame levels
    # jump with it; the steady region's output shows how the applied levels move.
    base = torch.cat([0.3 * _pattern(seed=5) + 0.3, 0.2 * _pattern(seed=5) + 0.35, 0.1 * _pattern(seed=5) + 0.3])
    frames = []
    for i in range(30):
        f = base.clone()
        f[:, :6, :6] = (0.95, 0.1, 0.6, 0.2, 0.8)[i % 5]
        frames.append(f)

    def steps(seq):
        steady = torch.stack([x[:, 10:, 10:].mean(dim=(1, 2)) for x in seq])
        return steady.diff(dim=0).abs().max(dim=1).values

    smooth = list(smooth_stream(_stream(frames), len(frames), sigma=3.0, look=look))
    single = [autocontrast(f, look=look) for f in frames]
    assert len(smooth) == len(frames)
    raw_steps, smooth_steps = steps(single), steps(smooth)
    assert smooth_steps.max() <= raw_steps.max() + 1e-3
    assert smooth_steps.mean() < 0.35 * raw_steps.mean()


@pytest.mark.parametrize(
    ("value", "look"),
    [(True, "colour"), ("colour", "colour"), ("Color", "colour"), ("true", "colour"), ("vivid", "vivid")]
    + [(False, "off"), (None, "off"), ("off", "off")],
)
def test_look_names(value, look):
    assert check_look(value) == look


@pytest.mark.parametrize("bad", ["sepia", 1, 0.5, "", ["vivid"]])
def test_bad_looks_are_a_clear_value_error(bad):
    with pytest.raises(ValueError, match="autocontrast must be True, False or one of"):
        check_look(bad)


def test_the_look_reaches_views_exports_and_presets(tmp_path):
    code = cc.fractalize(synthetic_photo(64, 64, seed=8), grid=8, symmetries="d4")
    views = {look: code.render_view((0.4, 0.6), 1e6, (32, 32), autocontrast=look) for look in ("vivid", True, "off")}
    assert all(v.size == (32, 32) for v in views.values())
    assert views["vivid"].tobytes() != views[True].tobytes() != views["off"].tobytes()
    with pytest.raises(ValueError, match="autocontrast"):
        code.render_view(zoom=10.0, size=(16, 16), autocontrast="sepia")
    with pytest.raises(ValueError, match="autocontrast"):
        cc.export_zoom(code, tmp_path / "z.gif", zoom=10.0, seconds=1, fps=4, size=(32, 32), autocontrast="loud")
    assert not list(tmp_path.iterdir())
    assert Preset("t", zoom={"autocontrast": "vivid"}).zoom["autocontrast"] == "vivid"
    assert Preset("t", zoom={"autocontrast": False}).zoom["autocontrast"] is False
    with pytest.raises(ValueError, match=r"preset t: \[zoom\] autocontrast"):
        Preset("t", zoom={"autocontrast": "loud"})


def test_cli_zoom_takes_a_colour_look(tmp_path, capsys):
    from app.cli import main

    code = cc.fractalize(synthetic_photo(64, 64, seed=9), grid=8, symmetries="d4")
    code.save(tmp_path / "c.collage")
    outs = {}
    for look in ("true", "vivid"):
        outs[look] = tmp_path / f"{look}.gif"
        argv = ["zoom", str(tmp_path / "c.collage"), "-o", str(outs[look]), "--zoom", "1e4", "--seconds", "1"]
        assert main([*argv, "--fps", "2", "--size", "32x32", "--colour", look]) == 0
    assert outs["true"].read_bytes() != outs["vivid"].read_bytes()
    with pytest.raises(SystemExit) as exit_:
        main(["zoom", str(tmp_path / "c.collage"), "-o", str(tmp_path / "x.gif"), "--colour", "sepia"])
    assert exit_.value.code == 2 and "--colour" in capsys.readouterr().err
