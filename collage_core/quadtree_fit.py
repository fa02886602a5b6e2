"""Fitting adaptive cells: greedy quadtree splitting on the collage error.

A leaf of depth ``d`` at side ``S`` is exactly a cell of the hard grid ``grid * 2**d``
at side ``S`` (same pixels, same pooled domain), so the closed form of that grid
(soft least squares, or one sharp copy per cell) fits every candidate leaf of depth
``d`` at once. The tree then only chooses among them: starting from the root grid, it
splits, one leaf at a time, the leaf whose collage error drops most when replaced by
its four quarters, until ``max_cells`` leaves or no split helps. Calm regions keep big
leaves; detail gets small ones (Fisher, Fractal Image Compression, 1995).
"""

from __future__ import annotations

import heapq

import torch
from einops import reduce

from .layout import GridLayout
from .operator import collage_step
from .quadtree import MAX_CELLS, MAX_DEPTH, MAX_UNIT, QuadtreeLayout, leaves_in_preorder

# Leaves never get smaller than this many pixels at the work side: below it a copy of
# the whole image is too small to read, and the step unit (grid * 2**depth) grows.
MIN_CELL = 4
# The deepest level a step reads must stay small enough to decode whole (viewport DENSE_MAX).


def max_depth(side: int, grid: int, min_cell: int = MIN_CELL, blend: bool = False) -> int:
    """The deepest split allowed at work side ``side``: leaves of at least ``min_cell`` px
    (blended: an even number of pixels), and a step unit of at most ``MAX_UNIT``."""
    u = 2 if blend else 1
    depth = 0
    while (
        depth < MAX_DEPTH
        and side % (u * grid << (depth + 1)) == 0
        and side // (grid << (depth + 1)) >= min_cell
        and u * grid << (depth + 1) <= MAX_UNIT
    ):
        depth += 1
    return depth


def check_max_cells(max_cells, grid: int) -> int:
    """``max_cells`` as an integer in ``[grid**2, MAX_CELLS]``, or a clear ``ValueError``."""
    if not isinstance(max_cells, int) or isinstance(max_cells, bool) or not grid * grid <= max_cells <= MAX_CELLS:
        raise ValueError(
            f"max_cells must be an integer in [{grid * grid}, {MAX_CELLS}] (at least the root grid {grid}x{grid}), "
            f"got {max_cells!r}"
        )
    return max_cells


def fit_quadtree(
    x: torch.Tensor,
    grid: int,
    max_cells: int,
    symmetries: str = "d4",
    s_max: float = 0.9,
    strength: float = 0.0,
    aux: torch.Tensor | None = None,
    copies: int | None = None,
    min_cell: int = MIN_CELL,
    blend: dict | None = None,
) -> tuple[QuadtreeLayout, torch.Tensor, torch.Tensor]:
    """Grow a quadtree on ``x`` and fit its leaves in closed form.

    Args:
        x: ``(1, C, S, S)`` target, ``S`` divisible by ``grid``.
        grid: root cells a side, a power of two.
        max_cells: at most this many leaves (splitting adds 3 at a time).
        copies: as :func:`~collage_core.fit.fit_closed_form` (``1``: one sharp copy per leaf).
        min_cell: leaves are at least this many pixels a side at ``S``.
        blend: ``None`` for hard leaves, or the blended leaves' ``window``, ``band`` and
            ``ramp`` (:mod:`~collage_core.quadtree_blend`): the tree is grown on the hard
            leaves' errors, then the blended leaves are fitted together
            (:func:`~collage_core.quadtree_blend_fit.fit_blended_quadtree`).
    Returns:
        the layout, ``a`` ``(1, C, K, N)`` and ``b`` ``(1, C, K)``, ``K`` its leaves.
    """
    from .fit import fit_closed_form  # fit.py dispatches here

    if x.shape[0] != 1:
        raise ValueError(f"adaptive cells fit one image at a time, got a batch of {x.shape[0]}")
    QuadtreeLayout(grid, (0,) * grid * grid)  # validates the root grid
    check_max_cells(max_cells, grid)
    S = x.shape[-1]
    depth = max_depth(S, grid, min_cell, blend is not None)
    fits, errors = [], []
    for d in range(depth + 1):
        n = grid << d
        a, b = fit_closed_form(x, GridLayout(n), symmetries, s_max, strength, aux, copies=copies)
        residual = x - collage_step(x, a, b, n, symmetries, aux)
        errors.append(reduce(residual.double().square(), "1 c (i h) (j w) -> i j", "sum", i=n, j=n))
        fits.append((a, b))
    split = _grow(grid, depth, max_cells, errors)
    leaves = leaves_in_preorder(grid, split)
    if blend is not None:
        from .quadtree_blend_fit import fit_blended_quadtree

        layout = QuadtreeLayout(grid, tuple(d for d, _, _ in leaves), True, **blend)
        return layout, *fit_blended_quadtree(x, layout, symmetries, s_max, strength, aux, copies)
    a = torch.stack([fits[d][0][:, :, i * (grid << d) + j] for d, i, j in leaves], dim=2)
    b = torch.stack([fits[d][1][:, :, i * (grid << d) + j] for d, i, j in leaves], dim=2)
    return QuadtreeLayout(grid, tuple(d for d, _, _ in leaves)), a, b


def _grow(grid: int, depth: int, max_cells: int, errors: list[torch.Tensor]) -> set[tuple[int, int, int]]:
    """Greedy splits, given every candidate leaf's collage error ``errors[d]`` ``(n, n)``:
    the set of split nodes ``(depth, row, col)``."""
    gains = []
    for d in range(depth):
        # Error drop per added cell, looking one level further ahead: a quarter that only
        # pays once split again (an edge through its middle) still gets its turn.
        gain = (errors[d] - _block_sum(errors[d + 1], 2)) / 3
        if d + 2 <= depth:
            gain = torch.maximum(gain, (errors[d] - _block_sum(errors[d + 2], 4)) / 15)
        gains.append(gain.tolist())
    heap = [(-gains[0][i][j], 0, i, j) for i in range(grid) for j in range(grid)] if depth else []
    heapq.heapify(heap)
    split: set[tuple[int, int, int]] = set()
    cells = grid * grid
    while heap and cells + 3 <= max_cells:
        neg, d, i, j = heapq.heappop(heap)
        if neg >= 0:
            break  # no split lowers the collage error any more
        split.add((d, i, j))
        cells += 3
        if d + 1 < depth:
            for ci in (2 * i, 2 * i + 1):
                for cj in (2 * j, 2 * j + 1):
                    heapq.heappush(heap, (-gains[d + 1][ci][cj], d + 1, ci, cj))
    return split


def _block_sum(x: torch.Tensor, f: int) -> torch.Tensor:
    return reduce(x, "(i p) (j q) -> i j", "sum", p=f, q=f)
