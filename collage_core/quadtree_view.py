"""Deep-zoom views of adaptive (quadtree) cells (DESIGN.md section 3, issue 9 part 4).

A leaf of depth ``d`` at level side ``S`` reads the level ``S / (grid * 2**d)``, so
the levels a view visits no longer form one chain ``S, S / grid, ...``: they are the
powers of two below ``S``, each reached from several levels above. The plan keeps one
list of windows per level side; it walks the sides from the top down, cuts every
window into leaf pieces (:meth:`~collage_core.quadtree.QuadtreeLayout.pieces`), sends
each piece's dihedral source windows to the level its leaf reads, and merges the
windows a level collects. Levels at most ``dense_max`` a side are one dense decode
(the largest, pooled exactly for the smaller ones). Rendering then climbs the sides
from the bottom up with the renderer's own piece arithmetic (offset in float64, detail
in float32), so a view is the exact crop of the exact attractor at any power-of-two
side, with cost ``~ log(zoom)`` and memory that does not depend on the zoom.
"""

from __future__ import annotations

import torch

from .decode import quadtree_attractor
from .quadtree import QuadtreeLayout
from .resample import area_resize
from .symmetry import symmetry_elements
from .view_geometry import Rect, _area, merge_windows, source_rect


def power_side(desired) -> int:
    """The smallest power of two ``>= desired`` (a Fraction or number)."""
    n = max(1, -((-desired.numerator) // desired.denominator)) if hasattr(desired, "numerator") else desired
    return 1 << max(0, int(n) - 1).bit_length()


def plan_sides(
    layout: QuadtreeLayout, symmetries: str, side: int, window: Rect, dense_max: int, used
) -> tuple[list[int], list[list[Rect]], int]:
    """``(sides, windows per side, dense side)``: the sparse levels, top down, and the
    largest level decoded whole (0 when nothing reads one)."""
    elements = symmetry_elements(symmetries)
    if side <= dense_max or _area(window) == 0 or not layout.steps_at(side):
        return [], [], side
    pending: dict[int, list[Rect]] = {side: [window]}
    sides, levels, dense = [], [], 0
    while pending:
        s = max(pending)
        windows = merge_windows(pending.pop(s))
        sides.append(s)
        levels.append(windows)
        for r in windows:
            for p in layout.pieces(r, s):
                cs = s // (layout.grid << layout.leaf(p.cell)[0])
                cells = range(len(elements)) if used is None else used[p.cell]
                if cs <= dense_max or not layout.steps_at(cs):  # decoded whole (and pooled)
                    dense = max(dense, cs) if cells else dense
                    continue
                pending.setdefault(cs, []).extend(source_rect(p.local, cs, *elements[n]) for n in cells)
    return sides, levels, dense


def dense_level(renderer, side: int) -> torch.Tensor:
    """``A(side)`` whole, ``(C, side, side)``. Blended leaves read every level below, so the
    renderer keeps one recursion memo (levels up to the dense side: bounded memory)."""
    layout = renderer.layout
    if not layout.blend:
        return renderer._dense(side)
    memo = renderer.__dict__.setdefault("_quadtree_levels", {})
    aux = None if renderer.aux is None else renderer.aux[None]
    return quadtree_attractor(renderer.a[None], renderer.b[None], layout, renderer.symmetries, side, aux, memo)[0]


def quadtree_top(renderer, plan) -> tuple[torch.Tensor, torch.Tensor]:
    """``(offset, detail)`` of the plan's level-0 window: offset ``(C,)`` float64 (wide
    device), detail ``(C, h, w)`` float32 (see :class:`~collage_core.viewport.ViewRenderer`)."""
    r0, r1, c0, c1 = plan.window
    C = renderer.a.shape[0]
    if not plan.levels:
        dense = dense_level(renderer, plan.dense_side)
        return torch.zeros(C, device=renderer.wide_device, dtype=renderer.wide), dense[:, r0:r1, c0:c1]
    known: dict[int, dict[Rect, tuple[torch.Tensor, torch.Tensor]]] = {}
    dense = dense_level(renderer, plan.dense_side) if plan.dense_side else None
    reach = renderer.layout.unit  # the farthest a leaf reads down
    for s, windows in zip(reversed(plan.sides), reversed(plan.levels), strict=True):
        known[s] = {r: _window(renderer, r, s, known, dense) for r in windows}
        for lower in [t for t in known if t * reach < s]:
            del known[lower]  # no level from here up reads it: memory stays bounded
    return known[plan.side][plan.window]


def _whole(renderer, level: torch.Tensor) -> dict:
    """A whole level ``(C, s, s)`` as the one window ``{rect: (offset, detail)}``."""
    s = level.shape[-1]
    offset = level.to(renderer.wide_device, renderer.wide).mean(dim=(-2, -1))
    return {(0, s, 0, s): (offset, level - offset.to(renderer.device, torch.float32)[:, None, None])}


def _window(renderer, r: Rect, side: int, known: dict, dense) -> tuple[torch.Tensor, torch.Tensor]:
    """Window ``r`` of level ``side``, piece by piece, each from the level its leaf reads.

    Blended leaves: each piece is its leaf's frame (flipped where it mirrors the copy),
    times the leaf's raw ramps; the window is then divided by the ramps' sum, so the
    weights are the step's normalised ones, computed from the window's pieces alone."""
    layout = renderer.layout
    C = renderer.a.shape[0]
    out = torch.zeros(C, r[1] - r[0], r[3] - r[2], device=renderer.device)
    n_aux = 0 if renderer.aux is None else renderer.aux.shape[1]
    offset = None
    total = torch.zeros(r[1] - r[0], r[3] - r[2], dtype=torch.float64) if layout.blend else None
    for piece in layout.pieces(r, side):
        k, (g0, g1, h0, h1) = piece.cell, piece.rect
        cs = side // (layout.grid << layout.leaf(k)[0])
        if cs not in known and dense is not None and cs <= dense.shape[-1]:
            # The dense level, or its exact pooling (every side is a power of two). Blended
            # leaves pool only approximately: their levels are the recursion's own.
            level = dense_level(renderer, cs) if layout.blend else area_resize(dense, (cs, cs))
            known[cs] = _whole(renderer, level)
        child = known.get(cs, {})
        view = out[:, g0 - r[0] : g1 - r[0], h0 - r[2] : h1 - r[2]]
        ramps = layout.piece_weight(piece, side)
        if ramps is None:
            # Hard leaves, or a leaf's plateau (most pieces deep down: never mirrored, raw
            # weight 1): the terms go straight into the window (they add up; a hard
            # window's pieces tile it).
            const = renderer._child_terms(view, k, piece.local, child, list(child), cs, n_aux)
            offset = const if offset is None else offset
            view.add_((const - offset).to(renderer.device, torch.float32)[:, None, None])
            if total is not None:
                total[g0 - r[0] : g1 - r[0], h0 - r[2] : h1 - r[2]] += 1
            continue
        term = torch.zeros(C, g1 - g0, h1 - h0, device=renderer.device)
        const = renderer._child_terms(term, k, piece.local, child, list(child), cs, n_aux)
        offset = const if offset is None else offset
        term.add_((const - offset).to(renderer.device, torch.float32)[:, None, None])
        term = term.flip(piece.flip) if piece.flip else term
        weight = ramps[0][:, None] * ramps[1][None, :]  # float64
        total[g0 - r[0] : g1 - r[0], h0 - r[2] : h1 - r[2]] += weight
        view.add_(term * weight.to(renderer.device, torch.float32))
    if layout.blend:
        out /= total.to(renderer.device, torch.float32)
    return offset, out
