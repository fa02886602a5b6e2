"""One atomic-write helper: a failed write leaves the old file as it was, and no temporary file."""

import numpy as np
import pytest

import collage_core as cc
from collage_core import presets
from collage_core.atomic import atomic_path, write_bytes_atomic, write_text_atomic


def test_a_write_replaces_the_whole_file(tmp_path):
    path = tmp_path / "a.txt"
    write_text_atomic(path, "old")
    assert write_bytes_atomic(path, b"new contents") == path
    assert path.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_intact(tmp_path, error):
    path = tmp_path / "clip.gif"
    path.write_bytes(b"the old animation")
    with pytest.raises(type(error)), atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp.suffix == ".gif"  # same file system; tools see the suffix
        tmp.write_bytes(b"half a new ani")
        raise error
    assert path.read_bytes() == b"the old animation"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]


def test_a_failing_export_keeps_the_previous_animation(tmp_path):
    path = tmp_path / "zoom.mp4"
    path.write_bytes(b"previous export")

    def frames():
        for _ in range(3):
            yield np.zeros((16, 16, 3), np.uint8)
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        cc.export_frames(frames(), path, fps=5)
    assert path.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["zoom.mp4"]


def test_codes_and_presets_are_written_through_it(tmp_path, monkeypatch):
    code = cc.fractalize(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8), grid=4)
    path = code.save(tmp_path / "x.collage")
    assert cc.FractalCode.load(path).grid == 4
    old = path.read_bytes()

    def broken(self, data):
        with self.open("wb") as fh:
            fh.write(data[:10])
        raise OSError("no space left on device")

    monkeypatch.setattr(type(path), "write_bytes", broken)
    with pytest.raises(OSError, match="no space"):
        code.save(path)
    with pytest.raises(OSError, match="no space"):
        presets.save_preset(presets.Preset(name="mine", zoom={"zoom": 8.0}), tmp_path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.collage"]
