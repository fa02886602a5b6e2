"""Animated WebP through libwebp's animation encoder (as Pillow uses it), frame by frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


class WebpWriter:
    """Lossy animated WebP, looping forever (or playing once).

    Only the compressed frames are held until the file is assembled. libwebp merges a
    frame into the previous one when they differ by less than the lossy tolerance (the
    duration adds up), so a file can hold fewer frames than were sent; it plays the same.
    """

    def __init__(self, path: Path, w: int, h: int, fps: float, *, loop: bool = True, dither: bool = False, quality=80):
        from PIL import _webp

        if not hasattr(_webp, "WebPAnimEncoder"):
            raise ValueError("this Pillow build cannot write animated WebP")
        self.path, self.size, self.fps, self.quality = path, (w, h), fps, quality
        # background black, loop count (0 = forever), no size minimising, keyframes as gif2webp.
        self.enc = _webp.WebPAnimEncoder((w, h), 0xFF000000, 0 if loop else 1, False, 3, 5, False, False)
        self.index = 0

    def _timestamp(self, i: int) -> int:
        return round(1000 * i / self.fps)

    def add(self, rgb: np.ndarray) -> None:
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            raise ValueError(f"frame {self.index} is {rgb.shape[1]}x{rgb.shape[0]}, expected {self.size}")
        img = Image.fromarray(rgb, "RGB")
        self.enc.add(img.getim(), self._timestamp(self.index), False, self.quality, 100, 4)
        self.index += 1

    def close(self) -> None:
        self.enc.add(None, self._timestamp(self.index), False, self.quality, 100, 0)
        data = self.enc.assemble("", b"", "")
        if data is None:
            raise OSError("the WebP encoder returned no data")
        self.path.write_bytes(data)

    def abort(self) -> None:
        self.enc = None
