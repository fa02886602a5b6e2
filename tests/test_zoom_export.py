"""Zoom paths, auto-contrast smoothing, seamless loops, and GIF/MP4/WebP export."""

import math
import threading

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest
import torch
from photos import synthetic_photo
from PIL import Image

import collage_core as cc
from collage_core.autocontrast import autocontrast, smooth_stream
from collage_core.loop_cell import loop_cell, loop_score
from collage_core.zoom import (
    MAX_FRAMES,
    ZoomPath,
    ZoomSettings,
    cover_zoom,
    export_frames,
    loop_center,
    zoom_frames,
    zoom_path_for,
)


@pytest.fixture(scope="module")
def code():
    # Soft: every cell mixes all copies, so loops need the cross-fade these tests exercise.
    return cc.fractalize(synthetic_photo(64, 64), grid=8, symmetries="d4", copies=None)


@pytest.fixture(scope="module")
def looped():
    return cc.fractalize(synthetic_photo(64, 64, seed=4), grid=8, symmetries="d4", plant_loop=True)


def _gif_frames(path):
    with Image.open(path) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            im.load()
            durations.append(im.info["duration"])
        return im.n_frames, im.size, im.info.get("loop"), durations


# ------------------------------------------------------------------------------ paths
def test_geometric_speed_and_fixed_target():
    path = ZoomPath(target=(0.2, 0.7), zoom=1e6, frames=25, easing="linear")
    logs = [math.log(path.relative_zoom(i)) for i in range(25)]
    steps = np.diff(logs)
    assert np.allclose(steps, steps[0]) and math.isclose(path.relative_zoom(24), 1e6)
    assert path.view(0) == ((0.5, 0.5), 1.0)  # frame 0 shows the whole image
    # The target keeps its place on screen: its offset from the view centre shrinks as 1/zoom.
    for i in (5, 17):
        (cx, cy), z = path.view(i)
        assert math.isclose((0.2 - cx) * z, 0.2 - 0.5) and math.isclose((0.7 - cy) * z, 0.7 - 0.5)


def test_easing_reverse_and_pingpong():
    eased = ZoomPath((0.5, 0.5), 100.0, 11, easing="ease-in-out")
    assert eased.relative_zoom(0) == 1 and math.isclose(eased.relative_zoom(10), 100)
    assert eased.relative_zoom(1) - 1 < (100 ** (1 / 10)) - 1  # starts slower than linear
    rev = ZoomPath((0.5, 0.5), 100.0, 11, easing="ease-in-out", reverse=True)
    assert all(math.isclose(rev.relative_zoom(i), eased.relative_zoom(10 - i)) for i in range(11))
    ping = ZoomPath((0.5, 0.5), 100.0, 10, easing="linear", pingpong=True)
    zooms = [ping.relative_zoom(i) for i in range(10)]
    assert math.isclose(max(zooms), 100) and zooms[0] == 1 and math.isclose(zooms[1], zooms[9])


def test_cover_zoom_keeps_frames_inside_a_wide_image():
    assert cover_zoom((600, 400), (512, 512)) == 1.5
    assert cover_zoom((400, 600), (512, 512)) == 1.0


def test_auto_loop_point_prefers_a_strong_identity_copy(code, looped):
    cell = loop_cell(code.a, 8)
    assert loop_score(code.a)[cell] == loop_score(code.a).max() or 0 < cell // 8 < 7
    assert code.a[:, cell, 0].mean() > 0
    path, cycles, exact = zoom_path_for(looped, ZoomSettings(zoom=100.0, seconds=10, fps=1, size=(32, 32), loop=True))
    assert path.target == loop_center(looped.meta["loop_cell"], 8)
    assert cycles == 2 and path.zoom == 64 and exact


# ------------------------------------------------------------------------ autocontrast
def test_smoothed_levels_do_not_flicker():
    gen = torch.Generator().manual_seed(0)
    base = 0.4 + 0.2 * torch.rand(3, 32, 32, generator=gen)
    frames = []
    for i in range(30):
        f = base.clone()
        if i % 2:  # a small bright patch blinks: per-frame levels would make everything pulse
            f[:, :4, :4] = 1.0
        frames.append(f[None])
    smooth = list(smooth_stream(((f, torch.ones(1)) for f in frames), 30, sigma=3.0))
    single = [autocontrast(f[0]) for f in frames]
    assert len(smooth) == 30

    def pulse(seq):  # frame-to-frame change of the steady region
        steady = torch.stack([x[:, 8:, 8:].mean() for x in seq[5:-5]])
        return steady.diff().abs().mean()

    assert pulse(smooth) < 0.25 * pulse(single)


def test_stream_without_smoothing_is_per_frame_autocontrast():
    # float64 frames with detail far below float32 resolution, as deep views are.
    gen = torch.Generator().manual_seed(0)
    frames = [0.5 + 1e-9 * torch.rand(1, 3, 16, 16, generator=gen, dtype=torch.float64) for _ in range(4)]
    out = list(smooth_stream(((f, torch.ones(1)) for f in frames), 4, sigma=0.0))
    for o, f in zip(out, frames, strict=True):
        # Held frames are float16; a pixel pulled into gamut rescales its chroma: < 1/2 grey level.
        assert (o - autocontrast(f[0]).float()).abs().max() < 2e-3


# -------------------------------------------------------------------------------- loops
def _steps(frames):
    f = [np.asarray(x, dtype=np.float64) for x in frames]
    steps = [np.abs(f[i + 1] - f[i]).mean() for i in range(len(f) - 1)]
    return np.abs(f[0] - f[-1]).mean(), np.array(steps)


@pytest.mark.parametrize("planted", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
def test_loop_wrap_is_no_bigger_than_a_step(code, looped, planted, reverse):
    # planted: the loop cell is a pure copy (exact loop); otherwise two depths are cross-faded.
    source = looped if planted else code
    frames = [
        f.numpy()
        for f in zoom_frames(
            source, ZoomSettings(zoom=8.0, seconds=2, fps=12, size=(48, 48), loop=True, reverse=reverse)
        )
    ]
    wrap, steps = _steps(frames)
    assert wrap <= 1.25 * np.median(steps), (wrap, steps)
    # A plain dive by the same 8x ends somewhere else: its wrap is a jump.
    plain = [f.numpy() for f in zoom_frames(source, zoom=8.0, seconds=2, fps=12, size=(48, 48), easing="linear")]
    plain_wrap, plain_steps = _steps(plain)
    assert planted or plain_wrap > 2 * np.median(plain_steps)


def test_pingpong_returns_to_the_start(code):
    frames = [
        f.numpy() for f in zoom_frames(code, ZoomSettings(zoom=30.0, seconds=2, fps=10, size=(32, 32), pingpong=True))
    ]
    wrap, steps = _steps(frames)
    assert wrap <= 1.25 * steps.max()


# ------------------------------------------------------------------------------- export
@pytest.mark.parametrize("suffix", [".gif", ".webp", ".mp4"])
def test_each_format_reads_back(code, tmp_path, suffix):
    path = tmp_path / f"zoom{suffix}"
    calls = []
    out = cc.export_zoom(
        code,
        path,
        zoom=50.0,
        seconds=1.0,
        fps=12,
        size=(67, 45),
        easing="linear",
        progress=lambda i, n: calls.append((i, n)),
    )
    assert out == path and path.is_file()
    assert calls == [(i, 12) for i in range(1, 13)]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    if suffix == ".mp4":
        meta = iio.immeta(path, plugin="FFMPEG")
        assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
        assert meta["size"] == (66, 44)  # even sides for yuv420p
        assert meta["fps"] == 12 and math.isclose(meta["duration"], 1.0, abs_tol=0.05)
        assert imageio_ffmpeg.count_frames_and_secs(str(path))[0] == 12
    else:
        n, size, loop, durations = _gif_frames(path)
        assert n == 12 and size == (67, 45) and loop == 0
        assert abs(sum(durations) - 1000) <= 10


def test_export_frames_takes_images_arrays_and_tensors(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(4)]
    frames = [Image.fromarray(arrays[0]), arrays[1], torch.from_numpy(arrays[2]).permute(2, 0, 1) / 255.0, arrays[3]]
    out = export_frames(iter(frames), tmp_path / "mixed.gif", fps=4, n_frames=4, dither=True)
    n, size, loop, durations = _gif_frames(out)
    assert (n, size, loop, sum(durations)) == (4, (32, 24), 0, 1000)
    once = export_frames(frames, tmp_path / "once.webp", fps=4, loop=False)
    with Image.open(once) as im:
        assert im.n_frames == 4 and im.info["loop"] == 1


def test_cancellation_leaves_no_file(code, tmp_path):
    cancel = threading.Event()

    def progress(i, n):
        if i == 3:
            cancel.set()

    for suffix in (".gif", ".mp4", ".webp"):
        with pytest.raises(cc.Cancelled):
            cc.export_zoom(
                code,
                tmp_path / f"c{suffix}",
                zoom=10.0,
                seconds=1.0,
                fps=10,
                size=(32, 32),
                progress=progress,
                cancel=cancel,
            )
        cancel.clear()
    assert list(tmp_path.iterdir()) == []


def test_a_failing_frame_source_leaves_no_file(tmp_path):
    def frames():
        yield np.zeros((16, 16, 3), np.uint8)
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError):
        export_frames(frames(), tmp_path / "x.mp4", fps=5)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"zoom": 0.5},
        {"zoom": math.nan},
        {"zoom": math.inf},
        {"zoom": 1e16},
        {"fps": 0},
        {"fps": -5},
        {"fps": 55},  # over the GIF limit
        {"seconds": 0},
        {"seconds": math.nan},
        {"seconds": 300.0},  # 3000 frames > MAX_FRAMES
        {"size": (0, 64)},
        {"size": (4096, 4096)},
        {"size": (8, 8)},
        {"easing": "bounce"},
        {"loop": True, "pingpong": True},
        {"center": (1.5, 0.5)},
        {"center": "middle"},
    ],
)
def test_bad_parameters_raise_before_writing(code, tmp_path, kwargs):
    args = {"zoom": 10.0, "seconds": 1.0, "fps": 10, "size": (32, 32)} | kwargs
    with pytest.raises(ValueError):
        cc.export_zoom(code, tmp_path / "bad.gif", **args)
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_and_frame_limit(code, tmp_path):
    with pytest.raises(ValueError, match="format"):
        cc.export_zoom(code, tmp_path / "zoom.avi", seconds=1.0, fps=10, size=(32, 32))
    with pytest.raises(ValueError, match="limit"):
        export_frames([np.zeros((16, 16, 3), np.uint8)] * (MAX_FRAMES + 1), tmp_path / "long.gif", fps=24)
    assert list(tmp_path.iterdir()) == []


def test_deep_loops_render_or_refuse_clearly(code, tmp_path):
    # A loop of a million times starts rendering (the levels smoothed before its first
    # frame stay inside the image); one too deep for float64 is refused up front.
    stop = threading.Event()
    seen = []

    def progress(i, n):
        seen.append(i)
        stop.set()

    with pytest.raises(cc.Cancelled):
        cc.export_zoom(
            code,
            tmp_path / "deep.gif",
            zoom=1e6,
            seconds=10,
            fps=12,
            size=(32, 32),
            loop=True,
            progress=progress,
            cancel=stop,
        )
    assert seen and not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="seamless loop"):
        cc.export_zoom(code, tmp_path / "deeper.gif", zoom=1e12, seconds=2, fps=12, size=(32, 32), loop=True)


def test_an_exact_loop_goes_deeper_than_a_cross_faded_one(code, looped, tmp_path):
    """A planted pure-copy cell loops without a cross-fade, so it reaches depths the blend cannot."""
    out = cc.export_zoom(looped, tmp_path / "deep.gif", zoom=1e9, seconds=2, fps=6, size=(32, 32), loop=True)
    assert _gif_frames(out)[0] == 12
    with pytest.raises(ValueError, match="cross-fade would render past"):
        cc.export_zoom(code, tmp_path / "soft.gif", zoom=1e9, seconds=2, fps=6, size=(32, 32), loop=True)
