"""Animation export: zoom videos and any frame sequence, in any registered format.

Frames are streamed: each is rendered, encoded and dropped, so memory does not grow
with length. The format follows the suffix through the writer registry
(:mod:`collage_core.zoom.writers`: GIF, MP4, WebP, PNG frames). Everything is written to
a temporary name in the target folder and renamed on success
(:func:`~collage_core.atomic.atomic_path`): an error or a cancellation leaves no partial
file behind, and an existing file as it was.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..atomic import atomic_path
from ..fit import Cancelled
from ..image_io import to_image
from .frames import zoom_frames
from .keyframes import KeyframePath, keyframe_frames
from .settings import MAX_FRAMES, SMOOTHING_SECONDS, ZoomSettings
from .writers import writer_for

ProgressFn = Callable[[int, int], None]
FrameLike = Image.Image | np.ndarray | torch.Tensor


def export_frames(
    frames: Iterable[FrameLike],
    path: str | os.PathLike,
    fps: float = 24.0,
    *,
    n_frames: int | None = None,
    loop: bool = True,
    dither: bool = False,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Stream frames into an animation; the format follows the suffix (see :data:`~collage_core.zoom.writers.WRITERS`).

    Args:
        frames: an iterable (a generator is fine) of PIL images, ``(H, W[, C])`` uint8
            arrays or ``(C, H, W)`` float tensors in [0, 1]; all the same size. Alpha is
            dropped (composited on black); MP4 sides are cropped to even numbers.
        fps: frames per second (GIF at most 50).
        n_frames: the count, when ``frames`` has no ``len``; passed to ``progress``.
        loop: GIF/WebP/PNG loop forever (``False``: play once). MP4 has no loop flag.
        dither: Floyd-Steinberg dithering of the GIF palette.
        progress: called as ``progress(i, n)`` after frame ``i`` (1-based) is written.
        cancel: when set, stops at the next frame and raises :class:`Cancelled`.
    Returns:
        the path written.
    Raises:
        ValueError: unknown format, bad fps, no frames, too many, wrong sizes.
        Cancelled: ``cancel`` was set; no file is left behind.
    """
    path = Path(path)
    spec = writer_for(path)
    fps = spec.check_fps(fps)
    total = n_frames if n_frames is not None else (len(frames) if hasattr(frames, "__len__") else None)
    if total is not None and total > MAX_FRAMES:
        raise ValueError(f"{total} frames is over the limit of {MAX_FRAMES}")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist")
    writer = None
    count = 0
    with atomic_path(path) as tmp:
        try:
            for frame in frames:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("export cancelled")
                rgb = _to_rgb(frame)
                if writer is None:
                    writer = spec.open(tmp, rgb.shape[1], rgb.shape[0], fps, loop=loop, dither=dither)
                writer.add(rgb)
                count += 1
                if count > MAX_FRAMES:
                    raise ValueError(f"more than {MAX_FRAMES} frames")
                if progress is not None:
                    progress(count, total if total is not None else count)
            if writer is None:
                raise ValueError("no frames to write")
            if cancel is not None and cancel.is_set():
                raise Cancelled("export cancelled")
            writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
    return path


def export_zoom(
    code,
    path: str | os.PathLike,
    settings: ZoomSettings | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    device: str | torch.device | None = None,
    **overrides,
) -> Path:
    """Render a zoom animation of ``code`` into ``path`` (any registered format: .gif, .mp4, .webp, .png).

    Args:
        code: a :class:`~collage_core.code.FractalCode`.
        path: the file to write; its suffix picks the writer.
        settings: a :class:`ZoomSettings` (default: ``ZoomSettings()``, 10 s of a 1000x
            dive at 24 fps, 512x512).
        overrides: fields of :class:`ZoomSettings` to change on top of ``settings``
            (``zoom=``, ``seconds=``, ``fps=``, ``size=``, ``center=``, ``loop=``,
            ``pingpong=``, ``reverse=``, ``easing=``, ``autocontrast=``, ``dither=``,
            ``keyframes=``), so ``export_zoom(code, "z.gif", zoom=1e6, loop=True)`` works.
        progress: ``progress(i, n)`` after each frame.
        cancel: a ``threading.Event``; setting it stops the export, raises
            :class:`Cancelled` and leaves no file.
        device: where to render (``None``: CUDA, then MPS, then CPU).
    Returns:
        the path written.
    Raises:
        ValueError: a bad setting, an unknown format, a frame rate the format cannot
            play, or a loop too deep for this code; before anything is written.
    """
    if settings is not None and not isinstance(settings, ZoomSettings):
        raise ValueError(f"settings must be a ZoomSettings, got {settings!r}; pass zoom=..., seconds=... as keywords")
    path = Path(path)
    spec = writer_for(path)
    s = (settings or ZoomSettings()).override(**overrides)
    spec.check_fps(s.fps)
    s = s.override(size=spec.frame_size(s.size))
    if s.keyframes is not None:
        aspect = Fraction(code.source_size[0], code.source_size[1])
        dive = KeyframePath(s.keyframes, aspect, s.frames, s.easing)
        frames = keyframe_frames(code, dive, s.size, s.fps, s.autocontrast, SMOOTHING_SECONDS, device)
    else:
        frames = zoom_frames(code, s, device=device)
    return export_frames(
        frames, path, s.fps, n_frames=s.frames, loop=True, dither=s.dither, progress=progress, cancel=cancel
    )


def _to_rgb(frame: FrameLike) -> np.ndarray:
    """``(H, W, 3)`` uint8 from any frame type; alpha composited on black."""
    if isinstance(frame, torch.Tensor):
        frame = to_image(frame.detach().cpu().float())
    if isinstance(frame, Image.Image):
        if frame.mode in ("RGBA", "LA"):
            black = Image.new("RGBA", frame.size, (0, 0, 0, 255))
            frame = Image.alpha_composite(black, frame.convert("RGBA"))
        arr = np.asarray(frame.convert("RGB"))
    else:
        arr = np.asarray(frame)
        if arr.dtype != np.uint8:
            raise ValueError(f"array frames must be uint8, got {arr.dtype}")
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=-1)
        if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
            raise ValueError(f"array frames must be (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
        if arr.shape[-1] == 1:
            arr = np.repeat(arr, 3, axis=-1)
        if arr.shape[-1] == 4:
            alpha = arr[..., 3:4].astype(np.uint16)
            arr = (arr[..., :3].astype(np.uint16) * alpha // 255).astype(np.uint8)
    if min(arr.shape[:2]) < 2 or max(arr.shape[:2]) > 8192:
        raise ValueError(f"frame size {arr.shape[1]}x{arr.shape[0]} is out of range")
    return np.ascontiguousarray(arr)
