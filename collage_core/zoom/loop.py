"""Seamless loops: where zooming by exactly ``grid**k`` lands on a copy of the whole image.

A loop dives into the fixed point of one cell (DESIGN.md section 5): the planted loop
cell of ``fractalize(..., plant_loop=True)``, else the cell that copies the whole image
best (:func:`~collage_core.loop_cell.loop_cell`). Zooming by exactly ``grid`` maps the
view of the whole image onto that cell, so the frame after the last is the first.
"""

from __future__ import annotations

import math

from ..layout import GridLayout
from ..loop_cell import loop_cell

LOOP_PHASE = 1.5  # loops start 1.5 cells deep: zoom grid**1.5 * Z**p (see zoom.frames)


def loop_center(cell: int, grid: int) -> tuple[float, float]:
    """Normalised ``(x, y)`` fixed point of ``p -> (p + (j, i)) / grid`` for cell ``(i, j)``.

    Zooming into it by exactly ``grid`` maps the view of the whole image onto the cell.
    """
    return GridLayout(grid).loop_center(cell)


def auto_cell(code) -> int:
    """The planted loop cell when the code has one, else :func:`~collage_core.loop_cell.loop_cell`."""
    cell = code.meta.get("loop_cell") if isinstance(code.meta, dict) else None
    if isinstance(cell, int) and 0 <= cell < code.grid**2:
        return cell
    return loop_cell(code.a, code.grid)


def auto_target(code) -> tuple[float, float]:
    """The loop point of ``code`` (DESIGN.md section 5): the planted loop cell, or the best copy."""
    return code.layout.loop_center(auto_cell(code))


def loop_cell_for(code, center: tuple[float, float] | None) -> int:
    """The cell a loop dives into: the one under ``center``, else :func:`auto_cell`."""
    return auto_cell(code) if center is None else cell_at(center, code.grid)


def cell_at(point: tuple[float, float], grid: int) -> int:
    """Row-major index of the cell under a normalised point (clamped to the image)."""
    x, y = point
    j = min(grid - 1, max(0, int(x * grid)))
    i = min(grid - 1, max(0, int(y * grid)))
    return i * grid + j


def loop_cycles(zoom: float, grid: int) -> int:
    """Whole cells to dive through for a seamless loop near ``zoom``: ``round(log_grid(zoom))``, at least 1."""
    return max(1, round(math.log(max(zoom, 1.0)) / math.log(grid)))


def is_pure_copy(code, cell: int, tol: float = 1e-6) -> bool:
    """Whether ``cell``'s map is a plain scaled identity copy (then a loop is exact without blending)."""
    a = code.a[:, cell]  # (C, N)
    return bool((a[:, 1:].abs().max() <= tol if a.shape[1] > 1 else True) and (a[:, 0] > tol).all())


def loop_depths(grid: int, loop_zoom: float, frames: int, fps: float, smoothing_seconds: float) -> tuple[float, float]:
    """``(start, deepest)`` zoom of a cross-faded loop.

    It starts ``LOOP_PHASE`` cells deep plus the smoothing window's share of a loop, so
    the frames the levels are smoothed over before the start stay inside the image; the
    cross-fade reaches one loop past the end.
    """
    margin = (smoothing_seconds * fps + 1) / frames
    start = float(grid) ** LOOP_PHASE * loop_zoom**margin
    return start, start * loop_zoom ** (2 + margin)
