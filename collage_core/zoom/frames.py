"""The frames of a zoom animation: its path through the code, rendered and toned one by one."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..autocontrast import smooth_stream
from ..palette import full_range, paint, parse_colour
from ..tone import attractor_anchor, tone_map
from ..viewport import MAX_ZOOM, ViewRenderer
from .loop import LOOP_PHASE, auto_target, is_pure_copy, loop_cell_for, loop_cycles, loop_depths
from .path import ZoomPath, cover_zoom
from .settings import SMOOTHING_SECONDS, ZoomSettings


def zoom_path_for(code, settings: ZoomSettings) -> tuple[ZoomPath, int, bool]:
    """The :class:`ZoomPath` of an export, the cycles of a loop, and whether the loop is exact.

    Raises:
        ValueError: a loop this deep would render past the renderer's zoom limit.
    """
    s = settings
    cycles, exact, zoom = 0, True, s.zoom
    f = code.layout.factor
    if s.loop:
        cell = loop_cell_for(code, s.center)
        target = code.layout.loop_center(cell)
        cycles = loop_cycles(s.zoom, f)
        zoom = float(f) ** cycles
        exact = is_pure_copy(code, cell)
        # An exact loop renders one loop deep from grid**1.5; a cross-fade also the same view
        # one loop deeper, and frames past either end for the smoothing.
        deepest = float(f) ** LOOP_PHASE * zoom if exact else _loop_depths(f, zoom, s)[1]
        if deepest > MAX_ZOOM:
            why = "it" if exact else "its cross-fade"
            raise ValueError(
                f"a seamless loop of grid {code.grid} cannot zoom {s.zoom:.3g}x: {why} would render "
                f"past {MAX_ZOOM:.0e}x; choose a smaller zoom"
            )
    else:
        target = s.center if s.center is not None else auto_target(code)
    path = ZoomPath(
        target=target,
        zoom=zoom,
        frames=s.frames,
        easing=s.easing,
        pingpong=s.pingpong,
        reverse=s.reverse,
        loop=s.loop,
        start_zoom=cover_zoom(code.source_size, s.size),
    )
    return path, cycles, exact


def _loop_depths(grid: int, loop_zoom: float, s: ZoomSettings) -> tuple[float, float]:
    return loop_depths(grid, loop_zoom, s.frames, s.fps, SMOOTHING_SECONDS)


def zoom_frames(
    code,
    settings: ZoomSettings | None = None,
    *,
    device: str | torch.device | None = None,
    renderer: ViewRenderer | None = None,
    **overrides,
) -> Iterator[torch.Tensor]:
    """The frames of a zoom animation, one at a time: ``(C, h, w)`` tensors in [0, 1].

    Args:
        code: a :class:`~collage_core.code.FractalCode`.
        settings: the animation (default ``ZoomSettings()``); ``overrides`` are fields of
            :class:`ZoomSettings` changed on top of it. ``keyframes`` is not used here.
        device, renderer: where to render, or a renderer to reuse.
    Returns:
        a generator (the app previews frames as they come); the settings are checked now.
    """
    s = (settings or ZoomSettings()).override(**overrides)
    path, cycles, exact = zoom_path_for(code, s)
    return _frames(code, s, path, cycles, exact, renderer or ViewRenderer(code, device))


def _frames(code, s: ZoomSettings, path: ZoomPath, cycles: int, exact: bool, renderer) -> Iterator[torch.Tensor]:
    (look, palette), loop, frames = parse_colour(s.autocontrast), s.loop, s.frames
    blend = loop and not exact
    precise = look != "off"  # float64 views keep detail far below float32 resolution to stretch
    f = code.layout.factor
    start = float(f) ** LOOP_PHASE if loop and exact else _loop_depths(f, path.zoom, s)[0]
    if loop and exact:
        cell = loop_cell_for(code, s.center)
        gain, offset = code.a[:, cell, 0].double(), code.b[:, cell].double()  # the loop cell: x -> gain x + offset

    def views(i: int) -> tuple[list, torch.Tensor]:
        """The ``(centre, zoom)`` views of frame ``i`` (any integer in loop mode) and their mixing weights."""
        if not loop:
            return [path.view(i)], torch.ones(1)
        # A loop runs 1.5 cells deep, zoom grid**1.5 * Z**p: its frames before the start and
        # past the end are then real views in the same colour space, which is what
        # smoothing the levels across the wrap needs; and the wrap falls half-way between
        # the moments the view lines up with a cell, where slivers of the neighbouring
        # cells leave the frame and the step between frames is largest.
        p = path.progress(i)
        z = start * path.zoom**p
        if not blend:
            return [path.view(i, z)], torch.ones(1)
        # Cross-fade with the same view one loop deeper; the deeper one's weight goes
        # from 1 at p = 0 to 0 at p = 1, so the frame after the last is the first.
        return [path.view(i, z), path.view(i, z * path.zoom)], torch.tensor([p, 1 - p])

    def raw(i: int) -> tuple[torch.Tensor, ...]:
        """Raw terms of frame ``i``, their weights and (colour-true) their tone maps at their depths."""
        spots, weights = views(i)
        terms = torch.stack([renderer.render(c, z, s.size, precise) for c, z in spots])
        if look != "colour":
            return terms, weights
        maps = [tone_map(t, look, anchor.at(z, f)) for t, (_, z) in zip(terms, spots, strict=True)]
        return terms, weights, torch.stack(maps)

    stream = (raw(i) for i in range(frames))
    if look == "off":
        for terms, weights in stream:
            yield sum(float(w) * t.clamp(0, 1) for t, w in zip(terms, weights, strict=True)).float().cpu()
        return

    anchor = attractor_anchor(renderer) if look == "colour" else None
    if palette is not None:  # the ramp from end to end at every depth
        anchor = full_range(anchor)

    def outside(j: int) -> torch.Tensor:
        if loop and exact:
            # One loop deeper is the same view recoloured by the loop cell's map applied
            # ``cycles`` times (a pure copy): exact, and no deeper than the loop itself.
            terms, *_ = raw(j % frames)
            terms = terms.double()
            loops = round(path.progress(j) - path.progress(j % frames))  # + deeper, - shallower
            for _ in range(cycles * abs(loops)):
                if loops > 0:
                    terms = gain[:, None, None] * terms + offset[:, None, None]
                else:
                    terms = (terms - offset[:, None, None]) / gain[:, None, None]
            # Loops run at least 1.5 cells deep, where a colour-true anchor pulls fully.
            return torch.stack([tone_map(t, look, anchor) for t in terms])
        terms, _, *maps = raw(j % frames if s.pingpong else j)
        return maps[0] if maps else torch.stack([tone_map(t, look) for t in terms])

    smoothed = smooth_stream(
        stream,
        frames,
        SMOOTHING_SECONDS * s.fps,
        circular=s.pingpong,
        outside=outside if (loop or s.pingpong) else None,
        look=look,
    )
    for frame in smoothed:
        yield paint(frame, palette).float().cpu()  # after the smoothed levels: no flicker
