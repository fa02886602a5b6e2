"""ZoomSettings: one typed, frozen, validated description of a zoom animation.

Built once (by the library's keyword arguments, the CLI's flags, a preset's ``[zoom]``
table or the studio's controls), validated once in ``__post_init__``, then passed whole
down to :func:`~collage_core.zoom.frames.zoom_frames` and
:class:`~collage_core.zoom.path.ZoomPath`. These are the only zoom defaults: the CLI and
the studio start from ``ZoomSettings()`` and override a few fields.

What depends on the code (a loop's depth in whole cells) is checked when the export is
planned; what depends on the format (GIF's 50 fps, MP4's even sides) by the writer's
registry entry (:mod:`collage_core.zoom.writers`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..palette import check_colour
from ..viewport import MAX_ZOOM, check_size
from .path import EASINGS

if TYPE_CHECKING:
    from .keyframes import View

MAX_FRAMES = 2400  # 100 s at 24 fps: bounds the time of one export, not its memory (frames stream)
MAX_SIDE = 2048
MIN_SIDE = 16
MAX_FPS = 60.0  # per format: GIF allows less (zoom.writers)
# Levels smoothing in seconds: long enough to hide flicker, short enough to follow the
# steady loss of contrast with depth.
SMOOTHING_SECONDS = 0.25


@dataclass(frozen=True)
class ZoomSettings:
    """A zoom animation, apart from the code it shows and where it goes.

    Attributes:
        zoom: total magnification, ``1 <= zoom <= 1e15``; a loop rounds it to ``grid**k``.
        seconds, fps: duration and frame rate; ``round(seconds * fps)`` frames, 2 to
            :data:`MAX_FRAMES`.
        size: ``(w, h)`` output pixels, each side in ``[16, 2048]`` (MP4 crops to even).
        center: normalised ``(x, y)`` target the zoom dives into (it keeps its place on
            screen); ``None``: the auto loop point. A loop snaps it to its cell's loop point.
        loop: a seamless loop (frame ``n`` would be frame 0); easing is then ignored.
        pingpong: zoom in, then back out (not with ``loop``). reverse: zoom out.
        easing: one of :data:`~collage_core.zoom.path.EASINGS`.
        autocontrast: the colour, normalised to ``"colour"`` (``True``), ``"vivid"``,
            ``"off"`` (``False``) or a palette such as ``"ice"`` or ``"ice:0.7"``
            (:mod:`~collage_core.palette`); levels are smoothed over ~0.25 s of frames.
        dither: Floyd-Steinberg dithering of GIF palettes (other formats ignore it).
        keyframes: ``((x, y), zoom)`` views to dive through instead (exact fractions
            once validated); ``zoom``, ``center``, ``loop``, ``pingpong`` and ``reverse``
            then do not apply.
    """

    # Three decades: well past the photo's own pixels, still calm at 10 s.
    zoom: float = 1000.0
    seconds: float = 10.0
    fps: float = 24.0  # film rate; GIF players cannot go above 50
    size: tuple[int, int] = (512, 512)  # sharp on a laptop screen, ~10 s of CPU per 100 frames
    center: tuple[float, float] | None = None
    loop: bool = False
    pingpong: bool = False
    reverse: bool = False
    easing: str = "ease-in-out"  # gentle start and stop; loops run at constant speed
    autocontrast: bool | str = True  # deep detail has contrast ~s^depth: stretch it
    dither: bool = False
    keyframes: tuple[View, ...] | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: normalise once, here
        put(self, "zoom", _number("zoom", self.zoom, 1.0, MAX_ZOOM))
        put(self, "seconds", _number("seconds", self.seconds, 0.0, math.inf, open_low=True))
        put(self, "fps", _number("fps", self.fps, 0.0, MAX_FPS, open_low=True))
        n = round(self.seconds * self.fps)
        if n < 2:
            raise ValueError(f"{self.seconds:g} s at {self.fps:g} fps is {n} frame(s); an animation needs at least 2")
        if n > MAX_FRAMES:
            raise ValueError(f"{self.seconds:g} s at {self.fps:g} fps is {n} frames; the limit is {MAX_FRAMES}")
        put(self, "size", check_size(self.size, MIN_SIDE, MAX_SIDE))
        put(self, "center", _center(self.center))
        for name in ("loop", "pingpong", "reverse", "dither"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.easing not in EASINGS:
            raise ValueError(f"easing must be one of {sorted(EASINGS)}, got {self.easing!r}")
        put(self, "autocontrast", check_colour(self.autocontrast, "autocontrast"))
        if self.loop and self.pingpong:
            raise ValueError("loop and pingpong are exclusive: a seamless loop only zooms one way")
        if self.keyframes is not None:
            from .keyframes import parse_keyframes  # keyframes renders frames with these settings' constants

            put(self, "keyframes", parse_keyframes(self.keyframes))

    @property
    def frames(self) -> int:
        """The frame count, ``round(seconds * fps)``."""
        return round(self.seconds * self.fps)

    @property
    def depth(self) -> float:
        """``log10(zoom)``: the studio's depth slider."""
        return math.log10(self.zoom)

    def override(self, **changes) -> ZoomSettings:
        """A copy with some fields changed (and validated again); ``None`` values are ignored.

        Raises:
            ValueError: a name that is not a field, or a bad value.
        """
        unknown = set(changes) - FIELDS
        if unknown:
            raise ValueError(f"unknown zoom settings {sorted(unknown)}; known: {sorted(FIELDS)}")
        given = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **given) if given else self

    def within(
        self,
        *,
        max_zoom: float | None = None,
        max_seconds: float | None = None,
        max_fps: float | None = None,
        max_frames: int | None = None,
        max_side: int | None = None,
    ) -> ZoomSettings:
        """These settings, or a ``ValueError`` when they pass a caller's tighter limits.

        The engine's limits are checked on construction; a server adds its own per-request
        limits here (``app/limits.py``) instead of validating the same fields again.
        """
        s = self
        if max_zoom is not None and s.zoom > max_zoom:
            raise ValueError(f"Zoom must be at most {max_zoom:g}, got {s.zoom:g}.")
        if max_seconds is not None and s.seconds > max_seconds:
            raise ValueError(f"Duration must be at most {max_seconds:g} s, got {s.seconds:g}.")
        if max_fps is not None and s.fps > max_fps:
            raise ValueError(f"Frames per second must be at most {max_fps:g}, got {s.fps:g}.")
        if max_frames is not None and s.frames > max_frames:
            raise ValueError(f"{s.seconds:g} s at {s.fps:g} fps is {s.frames} frames; the limit is {max_frames}.")
        if max_side is not None and max(s.size) > max_side:
            raise ValueError(f"Animation sides must be at most {max_side} px, got {s.size[0]}×{s.size[1]}.")
        return self

    @classmethod
    def from_preset(cls, table: Mapping, base: ZoomSettings | None = None) -> ZoomSettings:
        """``base`` (default: the defaults) with a preset's ``[zoom]`` table applied.

        ``size`` may be a side (square) or ``"WxH"``; ``format`` is not a setting (the
        output's suffix picks the writer) and is skipped.
        """
        values = {k: v for k, v in table.items() if k != "format"}
        if "size" in values:
            values["size"] = parse_size(values["size"])
        return (base or cls()).override(**values)


FIELDS = frozenset(f.name for f in dataclasses.fields(ZoomSettings))


def parse_size(value) -> tuple[int, int]:
    """``(w, h)`` from a side (``512``), ``"WxH"`` (``x`` or ``×``) or a pair."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, str):
        parts = value.lower().replace("×", "x").split("x")
        try:
            w, h = (int(p.strip()) for p in parts)
        except ValueError:
            raise ValueError(f"size must look like 512x384, got {value!r}") from None
        return (w, h)
    return value


def _number(name: str, value, lo: float, hi: float, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if math.isinf(hi) and (value < lo or value == lo and open_low):
        raise ValueError(f"{name} must be positive, got {value!r}")
    if value < lo or (open_low and value == lo) or value > hi:
        low = f"({lo:g}" if open_low else f"[{lo:g}"
        raise ValueError(f"{name} must be in {low}, {hi:g}], got {value!r}")
    return float(value)


def _center(center) -> tuple[float, float] | None:
    if center is None:
        return None
    try:
        cx, cy = (float(v) for v in center)
    except (TypeError, ValueError):
        raise ValueError(f"center must be None or a pair (x, y) in [0, 1], got {center!r}") from None
    if not (0.0 <= cx <= 1.0 and 0.0 <= cy <= 1.0):
        raise ValueError(f"center must lie in the image, (x, y) in [0, 1], got {center!r}")
    return (cx, cy)
