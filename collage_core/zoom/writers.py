"""The registry of media writers: one entry per animation format, picked by the file's suffix.

Each entry names its suffixes, its encoder (a class that takes RGB frames one at a time,
see :class:`FrameWriter`), the encoder's options and what the format allows (frame
rate, even sides). :func:`writer_for` picks the entry for a path; an unknown suffix is a
``ValueError`` that lists the registered ones. A new format is one :func:`register_writer`
call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

import numpy as np

from .apng import ApngWriter
from .gif import GifWriter
from .mp4 import Mp4Writer
from .settings import MAX_FPS
from .webp import WebpWriter


class FrameWriter(Protocol):
    """An open animation file: frames in, one at a time; then ``close`` (finish) or ``abort``."""

    def add(self, rgb: np.ndarray) -> None:
        """Append one ``(h, w, 3)`` uint8 frame."""

    def close(self) -> None:
        """Finish the file."""

    def abort(self) -> None:
        """Stop without finishing (the caller deletes the partial file)."""


@dataclass(frozen=True)
class WriterSpec:
    """One animation format.

    Attributes:
        name: what a person calls it (``"GIF"``).
        suffixes: the file suffixes it is picked by, lower case with the dot.
        encoder: ``encoder(path, w, h, fps, *, loop, dither, **options)`` opens a :class:`FrameWriter`.
        options: the encoder's settings (quality, CRF, ...), passed as keywords.
        max_fps: the highest frame rate the format can play.
        even_sides: frames are cropped to even sides (yuv420p video).
    """

    name: str
    suffixes: tuple[str, ...]
    encoder: Callable[..., FrameWriter]
    options: Mapping = field(default_factory=dict)
    max_fps: float = MAX_FPS
    even_sides: bool = False

    def open(self, path: Path, w: int, h: int, fps: float, *, loop: bool = True, dither: bool = False) -> FrameWriter:
        """Open the encoder on ``path`` for ``w x h`` frames at ``fps``."""
        return self.encoder(path, w, h, fps, loop=loop, dither=dither, **self.options)

    def check_fps(self, fps) -> float:
        """``fps`` as a float within what this format plays, or a ``ValueError``."""
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not math.isfinite(fps):
            raise ValueError(f"fps must be a number, got {fps!r}")
        if not 0 < fps <= self.max_fps:
            raise ValueError(f"fps must be in (0, {self.max_fps:g}] for {self.name}, got {fps!r}")
        return float(fps)

    def frame_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The ``(w, h)`` the file will hold for frames of ``size``."""
        w, h = size
        return (w - w % 2, h - h % 2) if self.even_sides else (w, h)


_WRITERS: dict[str, WriterSpec] = {}
WRITERS: Mapping[str, WriterSpec] = MappingProxyType(_WRITERS)  # suffix -> spec (read-only view)


def register_writer(spec: WriterSpec) -> WriterSpec:
    """Add a format; its suffixes must not be taken by another one."""
    for suffix in spec.suffixes:
        if not suffix.startswith(".") or suffix != suffix.lower():
            raise ValueError(f"writer {spec.name}: suffix {suffix!r} must be lower case and start with '.'")
        taken = _WRITERS.get(suffix)
        if taken is not None and taken.name != spec.name:
            raise ValueError(f"suffix {suffix} is already written by {taken.name}")
    for suffix in spec.suffixes:
        _WRITERS[suffix] = spec
    return spec


def suffixes() -> list[str]:
    """Every registered suffix, sorted."""
    return sorted(_WRITERS)


def writer_for(path: str | Path) -> WriterSpec:
    """The registered writer for ``path``'s suffix (case-insensitive), or a ``ValueError`` listing them."""
    suffix = Path(path).suffix.lower()
    spec = _WRITERS.get(suffix)
    if spec is None:
        raise ValueError(
            f"unknown animation format {suffix or '(no suffix)'!r}; registered formats: {', '.join(suffixes())}"
        )
    return spec


# GIF delays are in 1/100 s and players clamp delays under 2/100 s.
GIF = register_writer(WriterSpec("GIF", (".gif",), GifWriter, max_fps=50.0))
# Visually lossless H.264 (CRF 18), yuv420p for every player, +faststart for browsers.
MP4 = register_writer(WriterSpec("MP4", (".mp4",), Mp4Writer, {"crf": 18, "preset": "medium"}, even_sides=True))
WEBP = register_writer(WriterSpec("WebP", (".webp",), WebpWriter, {"quality": 80}))
# Lossless PNG frames in one animated PNG: every player that shows PNG shows frame 0.
APNG = register_writer(WriterSpec("PNG frames", (".png", ".apng"), ApngWriter, {"level": 6}))
