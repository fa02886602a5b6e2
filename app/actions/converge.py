"""Watch it converge: the iterations from a start image to the attractor, as frames."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

import collage_core as cc
from collage_core import FractalCode

from .. import inputs, limits
from .photos import start_image
from .progress import ProgressFn

# A frame with no pixel farther than this (grey levels, 0..255) from the attractor looks like
# it: later iterations would only repeat it, so the animation stops there.
STILL = 2
DEFAULT_STEPS = 8  # an upper bound: default settings converge visibly by the 3rd iteration


@dataclass(frozen=True)
class Convergence:
    frames: list[Image.Image] = field(repr=False)
    errors: list[float]  # max abs difference (0..255) of each iteration's frame to the exact attractor
    converged_at: int | None = None  # the first iteration that looks like the attractor (None: not within steps)


def converge_frames(
    code: FractalCode,
    steps: int = DEFAULT_STEPS,
    start="noise",
    side: int = 384,
    seed: int = 0,
    hold: int = 6,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
    clip: bool = True,
) -> Convergence:
    """Frames of iterations 0..``steps`` from ``start``, then the exact attractor held ``hold`` frames.

    Args:
        side: longest side of the frames (the render is scaled to fit).
        clip: stop at the first iteration within :data:`STILL` grey levels of the attractor (the rest
            would show no change).
    """
    steps = inputs.whole(steps, "Convergence steps", 1, limits.MAX_CONVERGE_FRAMES)
    start = start_image(start)
    w, h = code.source_size
    m = min(1.0, side / max(w, h))
    exact = np.asarray(code.render(m), dtype=np.int16)
    frames, errors, converged_at = [], [], None
    for i in range(steps + 1):
        if cancel is not None and cancel.is_set():
            raise cc.Cancelled("cancelled")
        frame = code.render(m, iterations=i, start=start, seed=seed)
        frames.append(frame)
        gap = np.abs(np.asarray(frame, dtype=np.int16) - exact)
        errors.append(float(gap.max()))
        if progress is not None:
            progress((i + 1) / (steps + 1), f"iteration {i}/{steps}")
        if converged_at is None and errors[-1] <= STILL:
            converged_at = i
            if clip:
                break
    frames += [Image.fromarray(exact.astype(np.uint8), frames[-1].mode)] * hold
    return Convergence(frames, errors, converged_at)


def write_frames(frames: list[Image.Image], path: str | Path, fps: float = 8.0) -> Path:
    """Write frames as an animation; the format follows the suffix (.gif, .webp, .mp4)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".webp", ".mp4"):
        raise ValueError(f"Animations are written as .gif, .webp or .mp4, not {suffix or 'no suffix'}.")
    return cc.export_frames(frames, path, fps=fps)
