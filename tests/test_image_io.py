"""Image input: every mode Pillow reads is accepted; every bad input is a clear ValueError."""

import io

import numpy as np
import pytest
from photos import synthetic_photo
from PIL import Image

import collage_core as cc
from collage_core import image_io


def encoded(img, fmt="PNG", **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


RGB = Image.fromarray(synthetic_photo(40, 30))


@pytest.mark.parametrize(
    "make,mode",
    [
        (lambda: RGB.convert("L"), "L"),
        (lambda: RGB.convert("RGBA"), "RGBA"),
        (lambda: RGB.convert("LA"), "LA"),
        (lambda: RGB.convert("P", palette=Image.Palette.ADAPTIVE), "RGB"),
        (lambda: RGB.convert("CMYK"), "RGB"),
        (lambda: RGB.convert("1"), "L"),
        (lambda: Image.fromarray(synthetic_photo(40, 30, 1).astype(np.uint16) * 257), "L"),
        (lambda: RGB.convert("YCbCr"), "RGB"),
    ],
)
def test_modes_are_normalised(make, mode):
    img = cc.open_image(make())
    assert img.mode == mode and img.size == (40, 30)


def test_sixteen_bit_png_keeps_its_range():
    arr = np.linspace(0, 65535, 40 * 30).reshape(30, 40).astype(np.uint16)
    img = cc.open_image(encoded(Image.fromarray(arr)))
    out = np.asarray(img)
    assert img.mode == "L" and out.min() == 0 and out.max() == 255


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    data = encoded(RGB, "JPEG", exif=exif)
    assert cc.open_image(data).size == (30, 40)


def test_arrays_paths_and_bytes(tmp_path):
    arr = synthetic_photo(20, 10)
    assert cc.open_image(arr).size == (20, 10)
    assert cc.open_image(arr.astype(np.float32) / 255).mode == "RGB"
    assert cc.open_image(arr.transpose(2, 0, 1)).size == (20, 10)  # (C, H, W)
    path = tmp_path / "p.png"
    RGB.save(path)
    assert cc.open_image(path).size == cc.open_image(str(path)).size == cc.open_image(path.read_bytes()).size


def test_animated_gif_uses_its_first_frame():
    frames = [Image.fromarray(synthetic_photo(16, 16, seed=s)) for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    assert cc.open_image(buf.getvalue()).size == (16, 16)


BAD = {
    "text renamed to png": (lambda p: p.write_bytes(b"just some text, not pixels"), "not an image"),
    "empty file": (lambda p: p.write_bytes(b""), "empty"),
    "truncated png": (lambda p: p.write_bytes(encoded(RGB)[:200]), "truncated"),
    "1x1 image": (lambda p: Image.new("RGB", (1, 1)).save(p, "PNG"), "at least"),
    "7 px wide": (lambda p: Image.new("RGB", (7, 100)).save(p, "PNG"), "at least"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_files_raise_clear_value_errors(kind, tmp_path):
    path = tmp_path / "upload.png"
    BAD[kind][0](path)
    with pytest.raises(ValueError, match=BAD[kind][1]):
        cc.open_image(path)
    with pytest.raises(ValueError, match=BAD[kind][1]):
        cc.fractalize(path)


def test_pixel_limit(monkeypatch):
    with pytest.raises(ValueError, match="limit"):
        cc.open_image(encoded(RGB), max_pixels=500)
    monkeypatch.setattr(image_io, "MAX_INPUT_PIXELS", 500)
    with pytest.raises(ValueError, match="limit"):
        cc.fractalize(synthetic_photo(40, 30))


def test_bad_arrays_and_paths(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        cc.open_image(np.zeros((4, 4, 4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        cc.open_image(np.full((16, 16), np.nan))
    with pytest.raises(ValueError, match="no such"):
        cc.open_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="at least"):
        cc.open_image(np.zeros((4, 100), np.uint8))
