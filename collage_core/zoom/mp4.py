"""MP4 through the ffmpeg that ``imageio-ffmpeg`` bundles: H.264, yuv420p, ``+faststart``."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np


class Mp4Writer:
    """H.264 (libx264) at constant quality ``crf``; sides cropped to even numbers for yuv420p.

    MP4 has no loop flag (``loop`` is accepted and ignored), nor palettes (``dither`` too).
    """

    def __init__(
        self,
        path: Path,
        w: int,
        h: int,
        fps: float,
        *,
        loop: bool = True,
        dither: bool = False,
        crf: int = 18,
        preset: str = "medium",
    ):
        import imageio_ffmpeg

        w, h = w - w % 2, h - h % 2
        self.size = (w, h)
        self.gen = imageio_ffmpeg.write_frames(
            str(path),
            (w, h),
            fps=fps,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            quality=None,
            # yuv420p needs even sides, which we guarantee; 1 stops imageio resizing to 16s.
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-crf", str(crf), "-preset", preset, "-movflags", "+faststart"],
        )
        self.gen.send(None)
        self.index = 0

    def add(self, rgb: np.ndarray) -> None:
        w, h = self.size
        if rgb.shape[1] < w or rgb.shape[0] < h or rgb.shape[1] > w + 1 or rgb.shape[0] > h + 1:
            raise ValueError(f"frame {self.index} is {rgb.shape[1]}x{rgb.shape[0]}, expected {w}x{h}")
        self.gen.send(np.ascontiguousarray(rgb[:h, :w]))
        self.index += 1

    def close(self) -> None:
        self.gen.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the partial file is deleted anyway
            self.gen.close()
