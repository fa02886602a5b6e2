"""Zoom paths: a target point, geometric speed with easing, ping-pong, reverse, seamless loops.

The target is the zoom's fixed point: it keeps its place on screen while everything
else streams away from it, as a scroll-wheel zoom does. Frame 0 shows the whole image
(or, when the output's aspect differs from the source's, its largest centred crop), so
every frame stays inside the image. The view centre at relative zoom ``z`` is
``target + (start_centre - target) / z``.

Speed is geometric: ``log(zoom)`` moves along the easing curve, so equal times give
equal perceived speed. Loop mode zooms by exactly ``grid**k`` around the fixed point of
a cell (:mod:`collage_core.zoom.loop`): the last frame continues into the first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EASINGS = {
    "linear": lambda t: t,
    "ease-in": lambda t: t * t,
    "ease-out": lambda t: 1 - (1 - t) * (1 - t),
    "ease-in-out": lambda t: t * t * (3 - 2 * t),
    "sine": lambda t: 0.5 - 0.5 * math.cos(math.pi * t),
}


@dataclass(frozen=True)
class ZoomPath:
    """Where each frame of a zoom animation looks.

    Attributes:
        target: normalised ``(x, y)`` fixed point of the zoom.
        zoom: total magnification reached (``>= 1``).
        frames: number of frames.
        easing: one of :data:`EASINGS` (ignored in loop mode: a loop keeps constant speed).
        pingpong: zoom in, then back out; the sequence repeats without a jump.
        reverse: zoom out instead of in.
        loop: periodic schedule ``t = i / frames`` (frame ``frames`` would be frame 0).
        start_zoom: absolute zoom of frame 0 (above 1 when the output aspect crops the source).
    """

    target: tuple[float, float]
    zoom: float
    frames: int
    easing: str = "ease-in-out"
    pingpong: bool = False
    reverse: bool = False
    loop: bool = False
    start_zoom: float = 1.0

    def __post_init__(self) -> None:
        if self.easing not in EASINGS:
            raise ValueError(f"easing must be one of {sorted(EASINGS)}, got {self.easing!r}")
        if not (math.isfinite(self.zoom) and self.zoom >= 1):
            raise ValueError(f"zoom must be a finite number >= 1, got {self.zoom!r}")
        if not isinstance(self.frames, int) or self.frames < 1:
            raise ValueError(f"frames must be a positive integer, got {self.frames!r}")
        if self.loop and self.pingpong:
            raise ValueError("loop and pingpong are exclusive: a seamless loop only zooms one way")

    def progress(self, i: int) -> float:
        """Position in ``[0, 1]`` along ``log(zoom)`` of frame ``i`` (0 = start view)."""
        n = self.frames
        if self.loop:
            t = i / n  # any integer i: a loop continues past both ends
        elif self.pingpong:
            t = 1 - abs(1 - 2 * i / n)  # periodic: frame n would be frame 0
            t = EASINGS[self.easing](t)
        else:
            t = EASINGS[self.easing](i / (n - 1) if n > 1 else 0.0)
        return 1 - t if self.reverse else t

    def relative_zoom(self, i: int) -> float:
        """Magnification of frame ``i`` relative to frame 0 of the zoom-in."""
        return self.zoom ** self.progress(i)

    def view(self, i: int, z: float | None = None) -> tuple[tuple[float, float], float]:
        """``(centre, absolute zoom)`` of frame ``i`` (or of relative zoom ``z``) for the renderer."""
        z = self.relative_zoom(i) if z is None else z
        tx, ty = self.target
        return (tx + (0.5 - tx) / z, ty + (0.5 - ty) / z), self.start_zoom * z


def cover_zoom(source_size: tuple[int, int], size: tuple[int, int]) -> float:
    """The smallest zoom whose ``size`` view lies inside a ``source_size`` image (a centred crop)."""
    (W, H), (w, h) = source_size, size
    return max(1.0, (W / H) * (h / w))
