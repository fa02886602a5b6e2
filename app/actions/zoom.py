"""Zoom exports within the studio's per-request limits."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import collage_core as cc
from collage_core import FractalCode

from .. import limits
from .progress import ProgressFn


def check_animation(seconds: float, fps: float, size: tuple[int, int], zoom: float) -> int:
    """Validate an animation request against the per-request limits; returns the frame count."""
    if not (math.isfinite(zoom) and 1.0 < zoom <= limits.MAX_ZOOM):
        raise ValueError(f"Zoom must be above 1 and at most {limits.MAX_ZOOM:g}, got {zoom:g}.")
    if not (0 < seconds <= limits.MAX_SECONDS):
        raise ValueError(f"Duration must be between 0 and {limits.MAX_SECONDS:g} s, got {seconds:g}.")
    if not (1 <= fps <= limits.MAX_FPS):
        raise ValueError(f"Frames per second must be between 1 and {limits.MAX_FPS}, got {fps:g}.")
    frames = round(seconds * fps)
    if frames > limits.MAX_FRAMES:
        raise ValueError(f"{seconds:g} s at {fps:g} fps is {frames} frames; the limit is {limits.MAX_FRAMES}.")
    if max(size) > limits.MAX_ANIMATION_SIDE or min(size) < 16:
        raise ValueError(
            f"Animation sides must be between 16 and {limits.MAX_ANIMATION_SIDE} px, got {size[0]}×{size[1]}."
        )
    return frames


def export_zoom(
    code: FractalCode,
    path: str | Path,
    zoom: float = 1000.0,
    seconds: float = 6.0,
    fps: int = 24,
    size: tuple[int, int] = (384, 384),
    center: tuple[float, float] | None = None,
    loop: bool = False,
    pingpong: bool = False,
    easing: str = "ease-in-out",
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    device: str | None = None,
    colour: str = "true",
) -> Path:
    """Render an infinite-zoom animation to ``path`` (.gif, .mp4 or .webp) within the studio's limits.

    Args:
        center: normalised ``(x, y)`` target, or ``None`` for the auto loop point.
        colour: the tone look: ``"true"`` (colour-true), ``"vivid"`` or ``"off"``.
    """
    frames = check_animation(seconds, fps, size, zoom)
    report = None
    if progress is not None:

        def report(done, total=None, *_) -> None:
            fraction = done / total if total else float(done)
            progress(fraction, f"frame {done}/{total or frames}" if total else "rendering")

    cc.export_zoom(
        code,
        path,
        zoom=zoom,
        seconds=seconds,
        fps=fps,
        size=size,
        center=center,
        loop=loop,
        pingpong=pingpong,
        easing=easing,
        autocontrast=colour,
        progress=report,
        cancel=cancel,
        device=device,
    )
    return Path(path)
