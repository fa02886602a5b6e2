"""Auto-contrast for deep zooms (DESIGN.md sections 4 and 9): a tone look, smoothed in time.

The contrast of detail revealed ``l`` levels deep scales like ``s**l``, so a deep frame
is nearly flat. A look (:mod:`collage_core.tone`: colour-true, vivid) maps the colour
channels of each frame by an affine colour map computed from the frame; alpha is left
alone. In an animation the maps are smoothed with a centred Gaussian over neighbouring
frames so the picture does not flicker, computed in one streaming pass with a short
look-ahead.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator

import torch

from .palette import full_range, paint, parse_colour
from .tone import HIGH, LOW, Anchor, apply_levels, apply_map, check_look, colour_channels, levels, span, tone_map

__all__ = [
    "HIGH",
    "LOW",
    "apply_levels",
    "autocontrast",
    "colour_channels",
    "gaussian_weights",
    "levels",
    "smooth_stream",
]

MAX_SMOOTHING_FRAMES = 12  # look-ahead cap: frames held back while smoothing


def _stretch(x: torch.Tensor, lv: torch.Tensor) -> torch.Tensor:
    """Colour channels mapped by ``(x - lo) / span`` in ``x``'s precision, not clamped."""
    n = colour_channels(x.shape[0])
    out = x.clone()
    out[:n] = (x[:n] - lv[0, :n, None, None].to(x.dtype)) / span(lv, x.dtype)[:n, None, None].to(x.dtype)
    return out


def autocontrast(x: torch.Tensor, look: str | bool = "colour", anchor: Anchor | None = None) -> torch.Tensor:
    """One frame in ``look`` (a colour setting: :func:`~collage_core.palette.parse_colour`): ``(C, H, W)`` in,
    ``(C, H, W)`` in [0, 1] out. ``anchor``: the colours of a colour-true deep frame
    (default: the frame's own)."""
    look, palette = parse_colour(look, "autocontrast")
    if palette is not None:
        return paint(apply_map(x, tone_map(x, look, full_range(anchor)), look), palette)
    if look == "off":
        return x.clamp(0.0, 1.0)
    if look == "vivid":
        return apply_levels(x, levels(x))
    return apply_map(x, tone_map(x, look, anchor), look)


def gaussian_weights(sigma: float) -> torch.Tensor:
    """Normalised kernel of radius ``ceil(2 sigma)``; ``sigma <= 0`` gives ``[1]``."""
    if sigma <= 0:
        return torch.ones(1, dtype=torch.float64)
    radius = math.ceil(2 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def smooth_stream(
    frames: Iterable[tuple[torch.Tensor, ...]],
    n: int,
    sigma: float,
    circular: bool = False,
    outside: Callable[[int], torch.Tensor] | None = None,
    look: str | bool = "colour",
    anchor: Anchor | None = None,
) -> Iterator[torch.Tensor]:
    """Tone-map a stream of frames with temporally smoothed maps, in one pass.

    Each item is ``(terms, weights)``: ``terms`` ``(T, C, H, W)`` raw renders that are
    tone-mapped separately and then mixed with ``weights`` ``(T,)`` (a blended loop
    mixes two depths; ordinary frames have ``T = 1``), optionally followed by their maps
    ``(T, n_colour, n_colour + 1)`` (default: :func:`~collage_core.tone.tone_map` of
    each term with ``anchor``). The affine colour map of frame
    ``i`` (:func:`~collage_core.tone.tone_map`) is the Gaussian-weighted mean of the maps
    of frames ``i - r .. i + r``, so the levels change no faster than the picture:
    frames are held back ``r`` frames, and memory is bounded for any length.

    Args:
        n: number of frames in the stream.
        sigma: smoothing in frames.
        circular: frame ``n + j`` is frame ``j`` (a ping-pong): the end is smoothed with
            the start.
        outside: ``outside(j)`` gives the ``(T, n_colour, n_colour + 1)`` maps of a frame
            ``j`` outside ``0..n-1`` (before the start, or past the end when not
            ``circular``), for example a loop's continuation; without it the window is
            cut at the ends.
        look: ``"colour"`` or ``"vivid"`` (see :func:`~collage_core.tone.check_look`).
        anchor: the colours of colour-true deep frames (default: each frame's own).
    Yields:
        ``(C, H, W)`` frames in [0, 1].
    """
    look = check_look(look)
    if look == "off":
        raise ValueError("smooth_stream needs a look to smooth: 'colour' or 'vivid'")
    kernel = gaussian_weights(min(sigma, MAX_SMOOTHING_FRAMES / 2))
    radius = min((len(kernel) - 1) // 2, max(0, n - 1))
    kernel = kernel[(len(kernel) - 1) // 2 - radius : (len(kernel) - 1) // 2 + radius + 1]
    known: dict[int, torch.Tensor] = {}
    # Held frames are kept stretched per channel by their own levels, as float16: deep
    # views are float64 (the detail is below float32 resolution) and 2048^2 x 3 x 8 bytes
    # held for ~12 frames would be 1.2 GB; stretched, 16 bits resolve 1/4 of a grey level.
    pending: deque[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]] = deque()

    def map_of(j: int) -> torch.Tensor | None:
        if 0 <= j < n:
            return known[j]
        if circular and j >= n:
            return known[j - n]
        if outside is None:
            return None
        if j not in known:
            known[j] = outside(j).to(torch.float64)
        return known[j]

    def emit() -> torch.Tensor:
        i, held, stretch, weights = pending.popleft()
        total, acc = 0.0, None
        for d in range(-radius, radius + 1):
            m = map_of(i + d)
            if m is None:
                continue
            w = float(kernel[d + radius])
            acc = m * w if acc is None else acc + m * w
            total += w
        smoothed = acc / total  # (T, n, n + 1)
        out = None
        for t in range(held.shape[0]):
            # held = (x - mid) / s per channel, so x = s * held + mid and the smoothed map
            # M x + b is (M diag(s)) held + (M mid + b): one affine map of the held frame.
            lo, s = stretch[t]
            M, b = smoothed[t][:, :-1], smoothed[t][:, -1]
            composed = torch.cat([M * s[None, :], (M @ lo + b)[:, None]], dim=1)
            y = float(weights[t]) * apply_map(held[t].float(), composed, look)
            out = y if out is None else out + y
        return out

    for i, (terms, weights, *maps) in enumerate(frames):
        maps = maps[0] if maps else torch.stack([tone_map(t, look, anchor) for t in terms])
        known[i] = maps.to(torch.float64)
        held, stretch = [], []
        for t in terms:
            # Centred on 0, where float16 is twice as fine as near 1.
            lv = levels(t)
            nc = colour_channels(t.shape[0])
            centred = _stretch(t, lv)
            centred[:nc] -= 0.5
            held.append(centred.to(torch.float16))
            s = span(lv, t.dtype)[:nc]
            stretch.append(torch.stack([lv[0, :nc] + 0.5 * s, s]).to(torch.float64).cpu())
        pending.append((i, torch.stack(held), torch.stack(stretch), weights))
        while pending and pending[0][0] + radius <= i:
            yield emit()
    while pending:
        yield emit()
