"""Zoom exports within the studio's per-request limits."""

from __future__ import annotations

import threading
from pathlib import Path

import collage_core as cc
from collage_core import FractalCode

from .. import limits
from .progress import ProgressFn


def zoom_settings(**fields) -> cc.ZoomSettings:
    """One :class:`~collage_core.ZoomSettings` from a request, validated once: the engine's
    checks on construction, then the studio's per-request limits (``app/limits.py``).

    Args:
        fields: ``ZoomSettings`` fields (``zoom``, ``seconds``, ``fps``, ``size``, ``center``,
            ``loop``, ``pingpong``, ``easing``, ``keyframes``); the studio's ``colour``
            ("true", "vivid" or "off") is the engine's ``autocontrast``.
    """
    if "colour" in fields:
        fields["autocontrast"] = fields.pop("colour")
    return cc.ZoomSettings(**fields).within(
        max_zoom=limits.MAX_ZOOM,
        max_seconds=limits.MAX_SECONDS,
        max_fps=limits.MAX_FPS,
        max_frames=limits.MAX_FRAMES,
        max_side=limits.MAX_ANIMATION_SIDE,
    )


def check_animation(seconds: float, fps: float, size: tuple[int, int], zoom: float) -> int:
    """Validate an animation request against the per-request limits; returns the frame count."""
    return zoom_settings(zoom=zoom, seconds=seconds, fps=fps, size=size).frames


def export_zoom(
    code: FractalCode,
    path: str | Path,
    settings: cc.ZoomSettings | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    device: str | None = None,
    **fields,
) -> Path:
    """Render an infinite-zoom animation to ``path`` (.gif, .mp4 or .webp) within the studio's limits.

    Args:
        settings: from :func:`zoom_settings` (the tabs build one per request); or ``fields``
            for :func:`zoom_settings`, e.g. ``zoom=64, seconds=1, fps=3, size=(48, 32)``.
    """
    settings = settings if settings is not None else zoom_settings(**fields)
    report = None
    if progress is not None:

        def report(done, total=None, *_) -> None:
            fraction = done / total if total else float(done)
            progress(fraction, f"frame {done}/{total or settings.frames}" if total else "rendering")

    cc.export_zoom(code, path, settings, progress=report, cancel=cancel, device=device)
    return Path(path)
