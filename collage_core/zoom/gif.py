"""A streaming GIF89a writer: Pillow quantises and LZW-encodes each frame, we splice.

Each frame carries its own 256-colour palette (a local colour table), so memory does
not grow with length, and delays are rounded cumulatively so the total duration is
exact at any fps.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image


class GifWriter:
    """Frames in, one looping (or play-once) GIF out; optional Floyd-Steinberg dithering."""

    def __init__(self, path: Path, w: int, h: int, fps: float, *, loop: bool = True, dither: bool = False):
        self.f = open(path, "wb")  # noqa: SIM115 (closed in close/abort)
        self.size = (w, h)
        self.fps = fps
        self.dither = Image.Dither.FLOYDSTEINBERG if dither else None
        self.index = 0
        self.f.write(b"GIF89a" + struct.pack("<HHBBB", w, h, 0, 0, 0))
        if loop:
            self.f.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00")

    def add(self, rgb: np.ndarray) -> None:
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            raise ValueError(
                f"frame {self.index} is {rgb.shape[1]}x{rgb.shape[0]}, expected {self.size[0]}x{self.size[1]}"
            )
        img = Image.fromarray(rgb, "RGB")
        # Fast octree: 3 ms at 512^2 against 280 ms for median cut, and nearly as close.
        palette = img.quantize(256, method=Image.Quantize.FASTOCTREE)
        img = img.quantize(palette=palette, dither=self.dither) if self.dither else palette
        buf = io.BytesIO()
        # Pillow interlaces by default; the descriptor written below declares no interlace.
        img.save(buf, format="GIF", optimize=False, interlace=False)
        table, data = _split_gif(buf.getvalue())
        # Cumulative rounding: frame i lasts round(100 (i+1) / fps) - round(100 i / fps) cs.
        delay = round(100 * (self.index + 1) / self.fps) - round(100 * self.index / self.fps)
        self.f.write(b"\x21\xf9\x04\x04" + struct.pack("<H", max(2, delay)) + b"\x00\x00")
        bits = (len(table) // 3).bit_length() - 2  # table holds 2 ** (bits + 1) colours
        w, h = self.size
        self.f.write(b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0x80 | bits) + table + data)
        self.index += 1

    def close(self) -> None:
        self.f.write(b"\x3b")
        self.f.close()

    def abort(self) -> None:
        self.f.close()


def _split_gif(gif: bytes) -> tuple[bytes, bytes]:
    """``(colour table, LZW image data)`` of a single-frame GIF written by Pillow."""
    packed = gif[10]
    pos = 13
    table = b""
    if packed & 0x80:
        n = 3 * 2 ** ((packed & 0x07) + 1)
        table, pos = gif[pos : pos + n], pos + n
    while pos < len(gif):
        block = gif[pos]
        if block == 0x21:  # extension: label, then sub-blocks
            pos += 2
            while gif[pos]:
                pos += gif[pos] + 1
            pos += 1
        elif block == 0x2C:
            flags = gif[pos + 9]
            pos += 10
            if flags & 0x80:
                n = 3 * 2 ** ((flags & 0x07) + 1)
                table, pos = gif[pos : pos + n], pos + n
            start = pos
            pos += 1  # LZW minimum code size
            while gif[pos]:
                pos += gif[pos] + 1
            return table, gif[start : pos + 1]
        else:
            break
    raise ValueError("could not parse the encoded GIF frame")
