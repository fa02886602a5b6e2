"""What one render may cost the studio: magnification reduced to the output and decode limits.

Pixel counts alone do not bound a render: the decoder works on a square whose side is at
least the output's longer side (the exactly decodable side at or above it, see
``collage_core.decode.nearest_exact_side``), so a thin output can cost far more than its
pixels. Both the output's pixels and that square are bounded here.
"""

from __future__ import annotations

import math

from collage_core import FractalCode
from collage_core.decode import is_exact_side

from . import limits


def effective_magnify(
    size: tuple[int, int],
    magnify: float,
    max_pixels: int | None = None,
    grid=None,  # a hard grid size or a cell layout
    max_side: int | None = None,
) -> float:
    """``magnify`` reduced, if needed, so that the output stays within ``max_pixels`` (default:
    the studio's limit) and, given ``max_side``, the square the decoder works at (the exactly
    decodable side for ``grid`` at or above the output's longer side) within ``max_side``."""
    max_pixels = limits.MAX_OUTPUT_PIXELS if max_pixels is None else max_pixels
    if isinstance(magnify, bool) or not (isinstance(magnify, int | float) and math.isfinite(magnify) and magnify > 0):
        raise ValueError(f"Magnification must be a positive number, got {magnify!r}.")
    w, h = size
    cap = math.sqrt(max_pixels / (w * h))
    if max_side is not None:
        cap = min(cap, largest_exact_side(max_side, grid or 1) / max(w, h))
    # Two decimals read well in a notice; tiny caps (huge loaded codes) keep their value.
    rounded = math.floor(cap * 100) / 100
    return min(float(magnify), rounded if rounded > 0 else cap)


def largest_exact_side(limit: int, grid) -> int:
    """The largest side ``<= limit`` that ``grid`` (a hard grid's size, or any cell layout)
    decodes without a larger square (any side for grid 1)."""
    side = limit
    while grid != 1 and side > 1 and not is_exact_side(side, grid):
        side -= 1
    return side


def studio_magnify(code: FractalCode, magnify: float) -> float:
    """``magnify`` within the studio's output and decode limits for this code."""
    # The layout, not the grid size: blended and adaptive cells decode at other sides.
    return effective_magnify(code.source_size, magnify, grid=code.layout, max_side=limits.MAX_DECODE_SIDE)
