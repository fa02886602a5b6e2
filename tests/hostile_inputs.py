"""Hostile inputs of issue 11, as files: shared by tests/test_hostile.py and benchmarks/hostile.py.

Each maker writes into ``folder`` and returns the path. The images are tiny files that
claim or imply huge work (a 20000x8 PNG is a few hundred bytes); the code files are
valid ``.collage`` files whose metadata has been edited.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image

import collage_core as cc


def png(folder: Path, name: str, size: tuple[int, int], mode: str = "RGB") -> Path:
    """A textured image of ``size`` saved as PNG (JPEG for CMYK)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.4 * np.sin(x / 3.0 + y / 5.0) * np.cos(y / 7.0 - x / 11.0)
    rgb = np.stack([base, base[::-1] if h > 1 else base, 1 - base], -1)
    img = Image.fromarray((rgb * 255).astype(np.uint8), "RGB")
    path = Path(folder) / name
    if mode == "I;16":
        Image.fromarray((base * 65535).astype(np.uint16)).save(path)
    elif mode == "CMYK":
        img.convert("CMYK").save(path, "JPEG", quality=90)
    elif mode in ("RGBA", "LA"):
        alpha = Image.fromarray(((x / max(w - 1, 1)) * 255).astype(np.uint8), "L")
        out = img.convert(mode[:-1])
        out.putalpha(alpha)
        out.save(path)
    else:
        img.convert(mode).save(path)
    return path


def small_code(**settings) -> cc.FractalCode:
    """A real 64x64 code to edit."""
    return cc.fractalize(Image.open(png_bytes_source()), grid=8, **settings)


def png_bytes_source():
    import io

    buf = io.BytesIO()
    y, x = np.mgrid[0:64, 0:64]
    arr = (127 + 100 * np.sin(x / 4.0) * np.cos(y / 6.0)).astype(np.uint8)
    Image.fromarray(np.stack([arr, arr.T, 255 - arr], -1), "RGB").save(buf, "PNG")
    buf.seek(0)
    return buf


def edit_metadata(data: bytes, **changes: str) -> bytes:
    """``data`` (a ``.collage`` file) with some ``__metadata__`` values replaced."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"].update(changes)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + n :]


def code_file(folder: Path, name: str, **changes: str) -> Path:
    """A ``.collage`` file whose metadata claims ``changes`` (e.g. ``source_size="65536,1"``)."""
    path = Path(folder) / name
    path.write_bytes(edit_metadata(small_code().to_bytes(), **changes))
    return path


def nested_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth
