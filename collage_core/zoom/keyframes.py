"""Keyframed dives: a camera path through recorded views, at constant perceived speed.

Between two keyframes the camera follows the optimal zoom-and-pan path of van Wijk and
Nuij ("Smooth and efficient zooming and panning", InfoVis 2003): with view width ``w``
and pan position ``u`` it minimises the perceived motion
``sqrt(rho^2 du^2 + dw^2) / w``, zooming out a little while it pans far and back in on
the target, and its arc length ``s`` is the perceived distance. Time is spent in
proportion to ``s`` over the whole dive, so the speed is the same through every
keyframe; a pure dive (no pan) is ``log(zoom)`` linear in time. One easing curve on the
whole dive starts and stops it gently. Frame 0 is the first keyframe's view and the last
frame is exactly the last keyframe's view.

Centres stay exact fractions (a float cannot place a view at 1e15x); only the path's
shape (fractions of the pan, zoom factors) is computed in float64, relative to the
segment's start so deep segments keep full precision.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch

from ..autocontrast import smooth_stream
from ..palette import full_range, paint, parse_colour
from ..poster import check_view_exact
from ..tiles import render_exact
from ..tone import attractor_anchor, tone_map
from ..viewport import ViewRenderer
from .path import EASINGS
from .settings import SMOOTHING_SECONDS

RHO = math.sqrt(2)  # van Wijk and Nuij's balance of zooming against panning (they found ~1.4 felt best)
MAX_KEYFRAMES = 64
View = tuple[tuple[Fraction, Fraction], Fraction]


@dataclass(frozen=True)
class _Segment:
    start: View
    end: View
    length: float  # perceived distance s
    r0: float
    pan: float  # pan distance in units of the start width (0: a pure zoom)
    w1: float  # end width over start width


def _segment(a: View, b: View, aspect: Fraction) -> _Segment:
    (ax, ay), az = a
    (bx, by), bz = b
    # Display units: one image width; y is scaled so pixels are square.
    dx, dy = float(bx - ax), float((by - ay) / aspect)
    w0 = 1.0 / float(az)
    d = math.hypot(dx, dy) / w0
    w1 = float(az / bz)
    if d < 1e-9:  # a pure zoom (or no move): w = exp(+-rho s)
        return _Segment(a, b, abs(math.log(w1)) / RHO, 0.0, 0.0, w1)
    b0 = (w1 * w1 - 1 + RHO**4 * d * d) / (2 * RHO**2 * d)
    b1 = (w1 * w1 - 1 - RHO**4 * d * d) / (2 * w1 * RHO**2 * d)
    r0, r1 = -math.asinh(b0), -math.asinh(b1)  # ln(-b + sqrt(b^2 + 1)), without cancellation
    return _Segment(a, b, (r1 - r0) / RHO, r0, d, w1)


def _along(seg: _Segment, s: float) -> View:
    """The view at perceived distance ``s`` along a segment."""
    (ax, ay), az = seg.start
    (bx, by), _ = seg.end
    if seg.pan == 0.0:
        if seg.length == 0.0:
            return seg.start
        w = math.exp(math.copysign(RHO * s, math.log(seg.w1)))
        f = s / seg.length
    else:
        r0 = seg.r0
        u = (math.cosh(r0) * math.tanh(RHO * s + r0) - math.sinh(r0)) / RHO**2
        w = math.cosh(r0) / math.cosh(RHO * s + r0)
        f = u / seg.pan
    f = Fraction(min(1.0, max(0.0, f)))
    return (ax + (bx - ax) * f, ay + (by - ay) * f), az / Fraction(w)


@dataclass(frozen=True)
class KeyframePath:
    """Where each frame of a keyframed dive looks.

    Attributes:
        keys: the keyframes ``((x, y), zoom)`` as exact fractions (at least two).
        aspect: the source's ``W / H`` (pans are measured on the displayed image).
        frames: the number of frames.
        easing: one of :data:`~collage_core.zoom.path.EASINGS`, over the whole dive.
    """

    keys: tuple[View, ...]
    aspect: Fraction
    frames: int
    easing: str = "ease-in-out"

    def __post_init__(self) -> None:
        if self.easing not in EASINGS:
            raise ValueError(f"easing must be one of {sorted(EASINGS)}, got {self.easing!r}")
        if not isinstance(self.frames, int) or self.frames < 2:
            raise ValueError(f"a dive needs at least 2 frames, got {self.frames!r}")
        if not 2 <= len(self.keys) <= MAX_KEYFRAMES:
            raise ValueError(f"a dive needs 2 to {MAX_KEYFRAMES} keyframes, got {len(self.keys)}")
        segments = [_segment(a, b, self.aspect) for a, b in zip(self.keys, self.keys[1:], strict=False)]
        if sum(s.length for s in segments) <= 0:
            raise ValueError("the keyframes are all the same view: move or zoom between them")
        object.__setattr__(self, "_segments", segments)

    @property
    def length(self) -> float:
        """Total perceived distance of the dive."""
        return sum(s.length for s in self._segments)

    def progress(self, i: int) -> float:
        """Eased position in ``[0, 1]`` of frame ``i`` along the whole dive."""
        return EASINGS[self.easing](i / (self.frames - 1))

    def view(self, i: int) -> View:
        """``(centre, zoom)`` of frame ``i``; frame 0 and the last frame are the end keyframes exactly."""
        if i <= 0:
            return self.keys[0]
        if i >= self.frames - 1:
            return self.keys[-1]
        s = self.progress(i) * self.length
        for seg in self._segments:
            if s <= seg.length:
                return _along(seg, s)
            s -= seg.length
        return self.keys[-1]


def parse_keyframes(keyframes) -> tuple[View, ...]:
    """Keyframes from ``[((x, y), zoom), ...]`` or ``[{"center": [x, y], "zoom": z}, ...]``.

    Numbers may be floats, ints, Fractions or decimal strings (exact, for deep views).
    """
    if isinstance(keyframes, str | bytes) or not isinstance(keyframes, Sequence):
        raise ValueError("keyframes must be a list of ((x, y), zoom) pairs")
    if not 2 <= len(keyframes) <= MAX_KEYFRAMES:
        raise ValueError(f"a dive needs 2 to {MAX_KEYFRAMES} keyframes, got {len(keyframes)}")
    out = []
    for n, key in enumerate(keyframes, start=1):
        try:
            center, zoom = (key["center"], key["zoom"]) if isinstance(key, dict) else key
            out.append(check_view_exact(center, zoom))
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(
                f"keyframe {n}: {exc}"
                if isinstance(exc, ValueError)
                else f"keyframe {n}: {key!r} is not ((x, y), zoom)"
            ) from None
    return tuple(out)


def load_keyframes(path: str | os.PathLike) -> tuple[View, ...]:
    """Keyframes from a JSON or TOML file.

    JSON: ``{"keyframes": [{"center": [x, y], "zoom": z}, ...]}`` or the bare list.
    TOML: ``[[keyframes]]`` tables with ``center = [x, y]`` and ``zoom = z``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read keyframes from {path}: {exc}") from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from None
    if isinstance(data, dict):
        data = data.get("keyframes", data.get("keyframe"))
    if data is None:
        raise ValueError(f"{path.name} has no 'keyframes' list")
    return parse_keyframes(data)


def keyframes_json(keys: Sequence[View]) -> str:
    """Keyframes as the JSON :func:`load_keyframes` reads, with exact decimal coordinates."""
    from ..view_spec import decimal_text

    rows = []
    for (x, y), z in keys:
        digits = len(str(int(z))) + 8
        rows.append({"center": [decimal_text(x, digits), decimal_text(y, digits)], "zoom": decimal_text(z, 17)})
    return json.dumps({"keyframes": rows}, indent=1)


def keyframe_frames(
    code,
    path: KeyframePath,
    size: tuple[int, int],
    fps: float,
    autocontrast: bool | str = True,
    smoothing_seconds: float = SMOOTHING_SECONDS,
    device: str | torch.device | None = None,
) -> Iterator[torch.Tensor]:
    """The frames of a keyframed dive, one at a time: ``(C, h, w)`` tensors in [0, 1]."""
    look, palette = parse_colour(autocontrast, "autocontrast")
    renderer = ViewRenderer(code, device)
    anchor = attractor_anchor(renderer) if look == "colour" else None
    if palette is not None:  # the ramp from end to end at every depth
        anchor = full_range(anchor)

    def raw(i: int) -> tuple[torch.Tensor, ...]:
        # As zoom_frames: colour-true maps are anchored for each frame's own depth.
        center, zoom = path.view(i)
        term = render_exact(renderer, center, zoom, size)[None]
        if anchor is None:
            return term, torch.ones(1)
        return term, torch.ones(1), tone_map(term[0], look, anchor.at(float(zoom), code.layout.factor))[None]

    stream = (raw(i) for i in range(path.frames))
    if look == "off":
        for terms, _ in stream:
            yield terms[0].clamp(0, 1).float().cpu()
        return
    for frame in smooth_stream(stream, path.frames, smoothing_seconds * fps, look=look, anchor=anchor):
        yield paint(frame, palette).float().cpu()
