"""Window geometry for deep-zoom views (DESIGN.md section 3), and the views' limits.

Pure integer geometry on square levels: which window of a level a dihedral copy of a
window reads, and merging overlapping windows; the checks on a view's centre, zoom and size. :mod:`~collage_core.viewport` and its
quadtree counterpart build on these; the views are sampled with :mod:`~collage_core.resample`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch

from .symmetry import apply_symmetries

MAX_ZOOM = 1e15
MAX_VIEW_SIDE = 2048  # 2048^2 at 1e12x peaks near 1 GB (windows of two levels live at once)

Rect = tuple[int, int, int, int]  # (row0, row1, col0, col1), half-open, Python ints
# Merge two windows when their bounding box wastes at most this fraction of pixels.
MERGE_SLACK = 1.25


def source_rect(rect: Rect, side: int, k: int, flip: bool) -> Rect:
    """The window of ``x`` that ``rect`` of ``y = rot90(flip(x), k)`` is made of (square side ``side``).

    ``y[rect] == rot90(flip(x[source_rect]), k)`` with the same flip and rotation, so a
    dihedral copy of a window never needs the whole image.
    """
    r0, r1, c0, c1 = rect
    for _ in range(k % 4):  # undo one counter-clockwise quarter turn: y[i, j] = u[j, s-1-i]
        r0, r1, c0, c1 = c0, c1, side - r1, side - r0
    if flip:
        c0, c1 = side - c1, side - c0
    return (r0, r1, c0, c1)


def _flips(symmetries: str) -> list[tuple[bool, tuple[int, ...]]]:
    """Per element ``n``: ``(transposed, dims)`` with ``T_n(x) == x.flip(dims)`` (transposed if asked).

    Probed on a small index grid with :func:`~collage_core.symmetry.apply_symmetries`
    itself, so the viewport cannot disagree with the step about what a symmetry is.
    """
    x = torch.arange(9).reshape(3, 3)
    out = []
    for target in apply_symmetries(x, symmetries):
        out.append(
            next(
                (transposed, dims)
                for transposed in (False, True)
                for dims in ((), (-1,), (-2,), (-2, -1))
                if torch.equal((x.flip(dims) if dims else x).T if transposed else (x.flip(dims) if dims else x), target)
            )
        )
    return out


def _area(r: Rect) -> int:
    return (r[1] - r[0]) * (r[3] - r[2])


def _bbox(p: Rect, q: Rect) -> Rect:
    return (min(p[0], q[0]), max(p[1], q[1]), min(p[2], q[2]), max(p[3], q[3]))


def _contains(outer: Rect, inner: Rect) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1] and outer[2] <= inner[2] and inner[3] <= outer[3]


def merge_windows(rects, slack: float = MERGE_SLACK) -> list[Rect]:
    """Deduplicate windows and merge those whose bounding box wastes little.

    Two windows that overlap or touch become their bounding box when it holds at most
    ``slack`` times the pixels of their union; a window inside another disappears.
    """
    out = sorted({r for r in rects if _area(r) > 0})
    changed = True
    while changed:
        changed = False
        merged: list[Rect] = []
        for r in out:
            for i, o in enumerate(merged):
                ih = min(r[1], o[1]) - max(r[0], o[0])
                iw = min(r[3], o[3]) - max(r[2], o[2])
                if ih < 0 or iw < 0:
                    continue
                box = _bbox(r, o)
                if _area(box) <= slack * (_area(r) + _area(o) - ih * iw):
                    merged[i] = box
                    changed = True
                    break
            else:
                merged.append(r)
        out = merged
    return out


def _ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


# ---------------------------------------------------------------------------- validation
def check_view(center, zoom, size, max_side: int = MAX_VIEW_SIDE):
    """Validate view parameters; returns ``(center, zoom, size)`` as floats and ints."""
    try:
        cx, cy = (float(v) for v in center)
    except (TypeError, ValueError):
        raise ValueError(f"center must be a pair of numbers (x, y), got {center!r}") from None
    if not (math.isfinite(cx) and math.isfinite(cy)):
        raise ValueError(f"center must be finite, got {center!r}")
    if not (-1.0 <= cx <= 2.0 and -1.0 <= cy <= 2.0):
        raise ValueError(f"center {center!r} is far outside the image (normalised coordinates are 0..1)")
    try:
        zoom = float(zoom)
    except (TypeError, ValueError):
        raise ValueError(f"zoom must be a number, got {zoom!r}") from None
    if not (math.isfinite(zoom) and 1.0 <= zoom <= MAX_ZOOM):
        raise ValueError(f"zoom must be a finite number in [1, {MAX_ZOOM:.0e}], got {zoom!r}")
    return (cx, cy), zoom, check_size(size, 1, max_side)


def check_size(size, lo: int, hi: int) -> tuple[int, int]:
    """``(w, h)`` as two integers in ``[lo, hi]``, or a ``ValueError`` saying what is wrong."""
    try:
        w, h = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height), got {size!r}") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (w, h)):
        raise ValueError(f"size must be two integers, got {size!r}")
    if not (lo <= w <= hi and lo <= h <= hi):
        raise ValueError(f"size {w}x{h} is out of range: each side must be {lo}..{hi} pixels")
    return w, h
