"""The media writer registry: every registered format writes a file that reads back."""

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

import collage_core as cc
from collage_core.zoom import WRITERS, WriterSpec, export_frames, register_writer, writer_for
from collage_core.zoom.gif import GifWriter

SPECS = sorted({spec.name: spec for spec in WRITERS.values()}.values(), key=lambda s: s.name)
# imageio picks Pillow for the image formats; video needs its ffmpeg plugin named.
READ_PLUGIN = {"MP4": "FFMPEG"}
LOSSLESS = {"PNG frames"}


def _frames(n=7, w=34, h=22):
    # Smooth colour waves moving sideways: lossy codecs keep them, and every frame differs.
    y, x = np.mgrid[0:h, 0:w] / 8.0
    return [
        (127.5 + 120 * np.stack([np.sin(x + i), np.cos(y - i), np.sin(x + y + 2 * i)], -1)).astype(np.uint8)
        for i in range(n)
    ]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_registered_format_reads_back_with_every_frame(tmp_path, spec):
    frames = _frames()
    for suffix in spec.suffixes:
        out = export_frames(frames, tmp_path / f"clip{suffix.upper()}", fps=10)  # suffix case does not matter
        read = list(iio.imiter(out, plugin=READ_PLUGIN.get(spec.name)))
        assert len(read) == len(frames), (suffix, len(read))
        w, h = spec.frame_size((34, 22))
        assert read[0].shape[:2] == (h, w)
        if spec.name in LOSSLESS:
            assert all(np.array_equal(r[..., :3], f) for r, f in zip(read, frames, strict=True))
        else:
            # Each frame read back is nearest to the frame written in its place.
            for i, r in enumerate(read):
                errs = [np.abs(r[..., :3].astype(float) - f[:h, :w]).mean() for f in frames]
                assert int(np.argmin(errs)) == i and errs[i] < 12, (suffix, i, errs)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"clip{s.upper()}" for s in spec.suffixes)


def test_png_frames_loop_and_time_like_the_gif(tmp_path):
    out = export_frames(_frames(5), tmp_path / "clip.png", fps=8, loop=False)
    with Image.open(out) as im:
        assert im.n_frames == 5 and im.info["loop"] == 1 and im.info["duration"] == 125
    out = export_frames(_frames(5), tmp_path / "forever.png", fps=8)
    with Image.open(out) as im:
        assert im.info["loop"] == 0


def test_export_zoom_picks_the_writer_by_suffix(tmp_path):
    code = cc.fractalize(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8), grid=4)
    out = cc.export_zoom(code, tmp_path / "dive.png", zoom=8.0, seconds=1, fps=6, size=(24, 16))
    assert len(list(iio.imiter(out))) == 6


def test_an_unknown_suffix_names_the_registered_formats(tmp_path):
    with pytest.raises(ValueError) as err:
        writer_for(tmp_path / "clip.avi")
    message = str(err.value)
    assert "'.avi'" in message and all(suffix in message for suffix in WRITERS)
    with pytest.raises(ValueError, match="no suffix"):
        export_frames(_frames(), tmp_path / "clip", fps=10)
    assert list(tmp_path.iterdir()) == []


def test_each_format_has_one_entry_and_suffixes_cannot_be_taken_twice():
    names = [s.name for s in SPECS]
    assert len(names) == len(set(names)) and {"GIF", "MP4", "WebP", "PNG frames"} <= set(names)
    for suffix, spec in WRITERS.items():
        assert suffix in spec.suffixes
    with pytest.raises(ValueError, match="already written by GIF"):
        register_writer(WriterSpec("Other GIF", (".gif",), GifWriter))
    assert writer_for("x.gif").name == "GIF"


def test_a_format_limits_its_frame_rate():
    assert writer_for("a.gif").check_fps(50) == 50.0
    with pytest.raises(ValueError, match="for GIF"):
        writer_for("a.gif").check_fps(55)
    assert writer_for("a.mp4").check_fps(55) == 55.0
    assert writer_for("a.mp4").frame_size((67, 45)) == (66, 44)
