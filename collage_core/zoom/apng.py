"""Animated PNG: lossless frames, streamed one at a time into one file.

APNG (the PNG spec's third edition) adds an ``acTL`` chunk (frame and play counts), a
``fcTL`` per frame (its size and delay) and ``fdAT`` chunks (the frames after the first,
whose data is ordinary ``IDAT``). Each frame is filtered ("Up", as
:mod:`collage_core.png_stream`) and deflated on its own, then dropped. The frame count
is not known up front, so ``acTL`` is written with 0 and patched on close.
"""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..png_stream import FILTER_UP, _chunk

_ACTL_AT = 8 + 25  # after the signature and the IHDR chunk


class ApngWriter:
    """Frames in, one RGB APNG out; frame delays are exact fractions of a second."""

    def __init__(self, path: Path, w: int, h: int, fps: float, *, loop: bool = True, dither: bool = False, level=6):
        self.f = open(path, "wb")  # noqa: SIM115 (closed in close/abort)
        self.size, self.level, self.plays = (w, h), level, 0 if loop else 1
        delay = Fraction(1 / fps).limit_denominator(65535)
        while delay.numerator > 65535:  # slower than 1 frame in 65535 s cannot be said; approximate
            delay = Fraction(delay.numerator // 2, max(1, delay.denominator // 2))
        self.delay = (delay.numerator, delay.denominator)
        self.index = 0
        self.sequence = 0
        header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        self.f.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + self._actl())

    def _actl(self) -> bytes:
        return _chunk(b"acTL", struct.pack(">II", self.index, self.plays))

    def add(self, rgb: np.ndarray) -> None:
        w, h = self.size
        if rgb.shape != (h, w, 3):
            raise ValueError(f"frame {self.index} is {rgb.shape[1]}x{rgb.shape[0]}, expected {w}x{h}")
        flat = rgb.reshape(h, w * 3)
        rows = np.empty((h, w * 3 + 1), dtype=np.uint8)
        rows[:, 0] = FILTER_UP
        rows[0, 1:] = flat[0]  # the row above the first is zeros
        np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])  # wraps mod 256, as PNG wants
        data = zlib.compress(rows.tobytes(), self.level)
        # fcTL: sequence, size, offset (0, 0), delay, dispose none, blend source.
        control = struct.pack(">IIIIIHHBB", self.sequence, w, h, 0, 0, *self.delay, 0, 0)
        self.f.write(_chunk(b"fcTL", control))
        self.sequence += 1
        if self.index == 0:
            self.f.write(_chunk(b"IDAT", data))  # frame 0 is also the still image
        else:
            self.f.write(_chunk(b"fdAT", struct.pack(">I", self.sequence) + data))
            self.sequence += 1
        self.index += 1

    def close(self) -> None:
        self.f.write(_chunk(b"IEND", b""))
        self.f.seek(_ACTL_AT)
        self.f.write(self._actl())
        self.f.close()

    def abort(self) -> None:
        self.f.close()
