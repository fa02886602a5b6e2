"""Window geometry for deep-zoom views (DESIGN.md section 3).

Pure integer geometry on square levels: which window of a level a dihedral copy of a
window reads, and merging overlapping windows. :mod:`~collage_core.viewport` and its
quadtree counterpart build on these; the views are sampled with :mod:`~collage_core.resample`.
"""

from __future__ import annotations

from fractions import Fraction

import torch

from .symmetry import apply_symmetries

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
