"""FractalCode files: round trips, and every kind of bad file gets a clear ValueError."""

import json
import struct

import numpy as np
import pytest
import torch  # noqa: F401  (tensor fixtures)
from photos import synthetic_photo
from safetensors.torch import save as st_save

import collage_core as cc


@pytest.fixture(scope="module")
def code():
    return cc.fractalize(synthetic_photo(64, 48), grid=8)


@pytest.fixture(scope="module")
def styled_code():
    return cc.fractalize(synthetic_photo(64, 64), grid=8, symmetries="rot", style=synthetic_photo(40, 40, seed=5))


def _header(data):
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), n


def _rewrite(data, edit_meta=None, tensors=None):
    header, n = _header(data)
    meta = dict(header["__metadata__"])
    if edit_meta:
        edit_meta(meta)
    loaded = cc.FractalCode.from_bytes(data)
    t = tensors or {"a": loaded.a, "b": loaded.b}
    return st_save(t, metadata=meta)


@pytest.mark.parametrize("fixture", ["code", "styled_code"])
def test_save_load_renders_identically(fixture, tmp_path, request):
    code = request.getfixturevalue(fixture)
    path = code.save(tmp_path / "x.collage")
    again = cc.FractalCode.load(path)
    assert np.array_equal(np.asarray(code.render(1)), np.asarray(again.render(1)))
    assert np.array_equal(np.asarray(code.render(2.5)), np.asarray(again.render(2.5)))
    assert again.source_size == code.source_size and again.mode == code.mode
    assert code.nbytes == path.stat().st_size
    assert not (tmp_path / "x.collage.part").exists()


def test_code_is_small(code):
    # 3 channels x 64 cells x (8 + 1) float32 numbers plus a small header.
    assert code.nbytes < 3 * 64 * 9 * 4 + 2048


BAD_FILES = {
    "empty": lambda d: b"",
    "random bytes": lambda d: bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)),
    "text": lambda d: b"hello, this is not a fractal code at all",
    "truncated header": lambda d: d[:20],
    "truncated data": lambda d: d[: len(d) - 100],
    "huge header length": lambda d: struct.pack("<Q", 2**40) + d[8:],
    "not json": lambda d: d[:8] + b"\xff" * (len(d) - 8),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_malformed_files_raise_value_error(kind, code, tmp_path):
    path = tmp_path / "bad.collage"
    path.write_bytes(BAD_FILES[kind](code.to_bytes()))
    with pytest.raises(ValueError):
        cc.FractalCode.load(path)


def _set(key, value):
    return lambda m: m.__setitem__(key, value)


TAMPERED = {
    "wrong format tag": (_set("format", "something-else"), "not a fractal code"),
    "future version": (_set("version", "99"), "version"),
    "bad grid": (_set("grid", "7"), "do not match"),
    "absurd grid": (_set("grid", "100000"), "grid"),
    "unknown symmetries": (_set("symmetries", "spiral"), "symmetries"),
    "s_max of one": (_set("s_max", "1.0"), "s_max"),
    "lowered s_max": (_set("s_max", "0.1"), "not contractive"),
    "bad mode": (_set("mode", "CMYK"), "mode"),
    "huge source": (_set("source_size", "999999,10"), "source size"),
    "missing field": (lambda m: m.pop("work_side"), "work_side"),
    "garbled size": (_set("source_size", "ten by ten"), "ValueError"),
}


@pytest.mark.parametrize("kind", sorted(TAMPERED))
def test_tampered_metadata_raises_value_error(kind, code):
    edit, _ = TAMPERED[kind]
    with pytest.raises(ValueError):
        cc.FractalCode.from_bytes(_rewrite(code.to_bytes(), edit))


def test_non_contractive_weights_are_refused(code):
    a = code.a.clone()
    a[0, 0, 0] = 5.0
    with pytest.raises(ValueError, match="not contractive"):
        cc.FractalCode.from_bytes(_rewrite(code.to_bytes(), tensors={"a": a, "b": code.b}))


def test_nan_and_wrong_dtype_are_refused(code):
    b = code.b.clone()
    b[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        cc.FractalCode.from_bytes(_rewrite(code.to_bytes(), tensors={"a": code.a, "b": b}))
    with pytest.raises(ValueError, match="float32"):
        cc.FractalCode.from_bytes(_rewrite(code.to_bytes(), tensors={"a": code.a.double(), "b": code.b}))
    with pytest.raises(ValueError, match="expected tensors"):
        cc.FractalCode.from_bytes(_rewrite(code.to_bytes(), tensors={"a": code.a}))


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.collage"
    path.write_bytes(b"\0" * 2048)
    monkeypatch.setattr(cc.code, "MAX_FILE_BYTES", 1024)
    with pytest.raises(ValueError, match="at most"):
        cc.FractalCode.load(path)
    with pytest.raises(ValueError, match="no such"):
        cc.FractalCode.load(tmp_path / "missing.collage")


def test_render_arguments_are_checked(code):
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="magnify"):
            code.render(bad)
    with pytest.raises(ValueError, match="output limit"):
        code.render(10_000)
    with pytest.raises(ValueError, match="iterations"):
        code.render(1, iterations=-3)
    assert code.render(0.5).size == (32, 24)
