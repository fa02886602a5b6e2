"""Blended adaptive cells: quadtree leaves cross-faded by a partition of unity (issue 9).

A blended quadtree (:class:`~collage_core.quadtree.QuadtreeLayout` with ``blend=True``)
keeps the hard quadtree's leaves and copies, and only changes how they meet:

* **Frames.** Leaf ``k`` (side ``c`` at level ``S``) shows the whole image shrunk to
  ``c`` exactly where the hard quadtree puts it, continued past each edge by its mirror
  image: a frame of side ``2c``, as :class:`~collage_core.layout.BlendedLayout`'s mirror
  frames. Away from its edges a leaf is one whole sharp copy at every depth.
* **Weights.** The raw weight is separable, ``rho_k(y, x) = r(top) r(bottom) r(left)
  r(right)``: each edge's ramp ``r`` falls from 1 to 0 across a band of half-width ``e``
  centred on the edge (raised cosine or tent, ``r(s) + r(-s) = 1``). The weights are
  ``w_k = rho_k / sum_j rho_j``: non-negative, summing to 1 at every pixel, continuous,
  so the step is a contraction with ratio ``max_k sum_n |a_kn|`` (DESIGN.md section 8).
  Inside a leaf its own ``rho`` is at least 1/4, so the sum never vanishes.
* **Bands.** An edge's band is :meth:`BlendedLayout.band_at` of the *smallest* leaf
  touching that edge (on either side, the corners included), times that leaf's side:
  ``e <= c / 2`` for every leaf the ramp reaches, so a ramp never leaves a frame and a big
  leaf's copy never covers more than half of a small neighbour (no halo of the big copy
  over the detail). Image borders have no ramp.
* **Uniform trees.** With every leaf at one depth the ramps of each axis already sum to
  one, ``w_k = rho_k``, and the step is ``BlendedLayout(grid, frame="mirror")``'s.

The code file records ``window``, ``band`` and ``ramp`` next to the split bits.
A step at side ``S`` needs every leaf to be an even number of pixels: ``S`` a multiple of
``2 * grid * 2**depth`` (the layout's ``unit``).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import torch
import torch.nn.functional as F
from einops import rearrange

from .layout import BlendedLayout, Piece, Rect, _mirror_index, mirror_segments

# Normalisers of levels up to this side are cached (float64, side^2 values).
CACHED_NORM_SIDE = 2048


def edge_depths(layout) -> torch.Tensor:
    """``(K, 4)`` long: for each leaf's top, bottom, left and right edge, the deepest leaf
    touching it (the leaf itself included); ``-1`` on the image border."""
    return _edge_depths(layout)


@functools.lru_cache(maxsize=32)
def _edge_depths(layout) -> torch.Tensor:
    from .quadtree import _by_depth

    D, g = layout.depth, layout.grid
    n = g << D
    depth_map = torch.full((n, n), -1, dtype=torch.long)
    for d, (ks, rows, cols) in enumerate(_by_depth(layout)):
        if len(ks):
            coarse = torch.full((g << d, g << d), -1, dtype=torch.long)
            coarse[rows, cols] = d
            m = 1 << (D - d)
            depth_map = torch.maximum(depth_map, coarse.repeat_interleave(m, 0).repeat_interleave(m, 1))
    padded = F.pad(depth_map, (1, 1, 1, 1), value=-1)[None].float()  # (1, n + 2, n + 2)
    out = torch.empty(layout.cells, 4, dtype=torch.long)
    for d, (ks, rows, cols) in enumerate(_by_depth(layout)):
        if not len(ks):
            continue
        m, nd = 1 << (D - d), g << d
        # Strip of m + 2 fine cells just outside each edge (corners included), max-pooled
        # with stride m: the deepest neighbour of every depth-d candidate leaf at once.
        lines = torch.arange(nd) * m
        strips = {
            0: padded[0, lines],  # the row above each leaf: (nd, n + 2)
            1: padded[0, lines + m + 1],
            2: padded[0, :, lines].T,
            3: padded[0, :, lines + m + 1].T,
        }
        for e, strip in strips.items():
            pooled = F.max_pool1d(strip[:, None], m + 2, m)[:, 0].long()  # (nd, nd): [line, along]
            near = pooled[rows, cols] if e < 2 else pooled[cols, rows]
            out[ks, e] = torch.where(near < 0, near, near.clamp_min(d))
    return out


@functools.lru_cache(maxsize=4096)
def _edge_px(layout, side: int, depth: int) -> Fraction:
    """Band half-width in pixels of an edge whose smallest leaf has depth ``depth`` (0 on the border)."""
    if depth < 0:
        return Fraction(0)
    c = side // (layout.grid << depth)
    return _bands(layout).band_at(c) * c


@functools.lru_cache(maxsize=32)
def _bands(layout) -> BlendedLayout:
    # The uniform blended layout whose band rule the edges follow.
    return BlendedLayout(max(4, layout.grid + layout.grid % 2), layout.window, layout.band, layout.ramp, "mirror")


def _ramp(s: torch.Tensor, window: str) -> torch.Tensor:
    # 1 for s >= 1 (inside, past the band), 0 for s <= -1, r(s) + r(-s) = 1 in between.
    s = s.clamp(-1, 1)
    return torch.cos((1 - s) * (math.pi / 4)) ** 2 if window == "cosine" else (1 + s) / 2


@functools.lru_cache(maxsize=8192)
def _edge_ramp(twice_inward0: int, count: int, e: Fraction, window: str, reverse: bool = False) -> torch.Tensor:
    """Ramp at pixel centres whose signed distance into the leaf is ``twice_inward0 / 2 + i``
    (``i < count``), reversed if asked. Cached: a deep view's pieces repeat a few geometries,
    so the returned tensor is shared and must not be written to."""
    i = torch.arange(count, dtype=torch.float64)
    if e == 0:  # the image border: weight 1 inside, 0 outside (cropped anyway)
        out = (2 * i + twice_inward0 > 0).double()
    else:  # Python's int / int rounds once, so the start is exact for levels of any size
        num, den = e.numerator, e.denominator
        out = _ramp(i * (den / num) + twice_inward0 * den / (2 * num), window)
    return out.flip(0) if reverse else out


def axis_weights(layout, k: int, axis: int, side: int, u0: int, u1: int) -> torch.Tensor | None:
    """Leaf ``k``'s raw ramp ``rho`` along ``axis`` (0 rows, 1 columns) at level positions
    ``u0..u1`` of level ``side``: float64, exact for Python ints of any size; ``None`` where
    it is 1 throughout (the leaf's plateau, most pieces of a deep view). Shared (cached)
    tensors: read them, never write to them."""
    d, i, j = layout.leaf(k)
    c = side // (layout.grid << d)
    p0 = (i if axis == 0 else j) * c
    lo, hi = _edge_lists(layout)[k][2 * axis : 2 * axis + 2]
    e_lo, e_hi = _edge_px(layout, side, lo), _edge_px(layout, side, hi)
    flat_lo, flat_hi = u0 >= p0 + _reach(e_lo), u1 <= p0 + c - _reach(e_hi)  # past that edge's band
    if flat_lo and flat_hi:
        return None
    n = u1 - u0
    # Distances into the leaf of the first pixel centre from the low edge, and of the last
    # from the high edge, doubled: half-integers as ints.
    low = None if flat_lo else _edge_ramp(2 * (u0 - p0) + 1, n, e_lo, layout.window)
    high = None if flat_hi else _edge_ramp(2 * (p0 + c - u1) + 1, n, e_hi, layout.window, True)
    return high if low is None else (low if high is None else low * high)


@functools.lru_cache(maxsize=32)
def _edge_lists(layout) -> list[list[int]]:
    return edge_depths(layout).tolist()


@functools.lru_cache(maxsize=4096)
def _reach(e: Fraction) -> int:
    # Pixels past an edge whose centres still get weight: offsets below e.
    return max(0, math.ceil(e - Fraction(1, 2)))


def frame_profiles(layout, side: int, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw ramps over every depth-``depth`` leaf's frame: rows and columns ``(K_d, 2c)`` float64."""
    return _frame_profiles(layout, side, depth)


@functools.lru_cache(maxsize=64)
def _frame_profiles(layout, side: int, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    from .quadtree import _by_depth

    ks = _by_depth(layout)[depth][0]
    c = side // (layout.grid << depth)
    edges = edge_depths(layout)[ks]  # (K_d, 4)
    table = {v: _edge_px(layout, side, v) for v in set(edges.flatten().tolist())}
    inward = torch.arange(2 * c, dtype=torch.float64) - c // 2 + 0.5  # from the leaf's low edge

    def ramp(e_col: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        e = torch.tensor([float(table[v]) for v in e_col.tolist()], dtype=torch.float64)[:, None]
        soft = _ramp(dist / e.clamp_min(1e-300), layout.window)
        return torch.where(e > 0, soft, (dist > 0).double())

    rows = ramp(edges[:, 0], inward[None]) * ramp(edges[:, 1], (c - inward)[None])
    cols = ramp(edges[:, 2], inward[None]) * ramp(edges[:, 3], (c - inward)[None])
    return rows, cols


def _overlap_add(layout, side: int, frames_of) -> torch.Tensor:
    """Sum over depths of weighted frames placed on the level: ``frames_of(d)`` gives
    ``(B, C, K_d, 2c, 2c)``; returns ``(B, C, side, side)``."""
    from .quadtree import _by_depth

    c0 = side // layout.grid
    out = None
    for d, (ks, rows, cols) in enumerate(_by_depth(layout)):
        if not len(ks):
            continue
        frames = frames_of(d)
        B, C, K, f, _ = frames.shape
        c, n = f // 2, layout.grid << d
        if out is None:
            out = frames.new_zeros(B, C, side + c0, side + c0)  # origin at -c0/2
        # The frames on the full (n x n) grid of frame positions (zero where a leaf of
        # another depth is), overlap-added by fold: frame (i, j) starts at (i c, j c) of
        # a level padded by half a cell.
        dense = frames.new_zeros(B * C, f * f, n * n)
        dense[:, :, (rows * n + cols).to(frames.device)] = rearrange(frames, "b c k h w -> (b c) (h w) k")
        placed = F.fold(dense, ((n + 1) * c, (n + 1) * c), kernel_size=f, stride=c)
        o = c0 // 2 - c // 2
        out[..., o : o + side + c, o : o + side + c] += placed.reshape(B, C, side + c, side + c)
    h = c0 // 2
    return out[..., h : h + side, h : h + side]


def weight_sum(layout, side: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """``sum_k rho_k`` over the level: ``(side, side)`` (cached for small sides)."""
    fn = _weight_sum if side <= CACHED_NORM_SIDE else _weight_sum.__wrapped__
    return fn(layout, side).to(device=device or "cpu", dtype=dtype)


@functools.lru_cache(maxsize=8)
def _weight_sum(layout, side: int) -> torch.Tensor:
    def frames_of(d):
        rows, cols = frame_profiles(layout, side, d)
        return (rows[:, :, None] * cols[:, None, :])[None, None]

    return _overlap_add(layout, side, frames_of)[0, 0]


def normalised_weights(layout, side: int, depth: int, dtype, device) -> torch.Tensor:
    """``w_k`` over every depth-``depth`` leaf's frame: ``(K_d, 2c, 2c)``, zero outside the image."""
    from .quadtree import _by_depth

    _, rows, cols = _by_depth(layout)[depth]
    c = side // (layout.grid << depth)
    ry, rx = frame_profiles(layout, side, depth)
    pad = side // layout.grid // 2
    # Zero past the image border, so a frame's weight there is 0, not 0 / 0.
    norm = F.pad(1 / weight_sum(layout, side), (pad, pad, pad, pad))
    y = (rows * c - c // 2 + pad)[:, None] + torch.arange(2 * c)  # (K_d, 2c) rows of the padded level
    x = (cols * c - c // 2 + pad)[:, None] + torch.arange(2 * c)
    w = ry[:, :, None] * rx[:, None, :] * norm[y[:, :, None], x[:, None, :]]
    return w.to(device=device, dtype=dtype)


def frame_stack(stack: torch.Tensor) -> torch.Tensor:
    """Mirror frames ``(..., c, c)`` -> ``(..., 2c, 2c)``: the copy, reflected half a cell past each edge."""
    idx = _mirror_index(stack.shape[-1], stack.device)
    return stack[..., idx, :][..., idx]


def assemble(layout, a, b, stacks: list) -> torch.Tensor:
    """The blended step from each depth's domain stack ``(B, C, N, c_d, c_d)`` (``None`` for
    depths without leaves), ``c_d = S / (grid * 2**d)`` -> ``(B, C, S, S)``."""
    from .quadtree import _by_depth

    first = next(s for s in stacks if s is not None)
    side = first.shape[-1] * (layout.grid << stacks.index(first))
    weights = torch.cat([a, b[..., None]], dim=-1)  # (B, C, K, N+1)

    def frames_of(d):
        ks = _by_depth(layout)[d][0].to(a.device)
        stack = torch.cat([stacks[d], torch.ones_like(stacks[d][:, :, :1])], dim=2)
        frames = torch.einsum("bckn,bcnhw->bckhw", weights[:, :, ks], frame_stack(stack))
        rows, cols = (p.to(frames) for p in frame_profiles(layout, side, d))
        return frames * (rows[:, :, None] * cols[:, None, :])

    return _overlap_add(layout, side, frames_of) / weight_sum(layout, side, first.dtype, first.device)


def pieces(layout, rect: Rect, side: int) -> list[Piece]:
    """The parts of every leaf's frame with weight under ``rect``, cut at the copy's edges;
    ``local`` in the leaf's own level (side ``side / (grid * 2**depth)``), ``flip`` the
    mirrored dims."""
    from .quadtree import _leaves

    index = _leaves(layout)[1]
    c0, out = side // layout.grid, []
    lo_i, hi_i = max(0, (rect[0] - c0 // 2) // c0), min(layout.grid, (rect[1] + c0 // 2 - 1) // c0 + 1)
    lo_j, hi_j = max(0, (rect[2] - c0 // 2) // c0), min(layout.grid, (rect[3] + c0 // 2 - 1) // c0 + 1)
    for i in range(lo_i, hi_i):
        for j in range(lo_j, hi_j):
            _descend(layout, 0, i, j, c0, rect, side, index, out)
    return out


def _descend(layout, d, i, j, c, rect, side, index, out) -> None:
    # Every frame under node (d, i, j) lies within the node grown by half its side.
    h = c // 2
    if i * c - h >= rect[1] or (i + 1) * c + h <= rect[0] or j * c - h >= rect[3] or (j + 1) * c + h <= rect[2]:
        return
    k = index.get((d, i, j))
    if k is None:
        for di in range(2):
            for dj in range(2):
                _descend(layout, d + 1, 2 * i + di, 2 * j + dj, c // 2, rect, side, index, out)
        return
    edges = _edge_lists(layout)[k]
    reach = [_reach(_edge_px(layout, side, e)) for e in edges]
    spans = []
    for axis, p in ((0, i * c), (1, j * c)):
        s0 = max(rect[2 * axis], p - reach[2 * axis], 0)
        s1 = min(rect[2 * axis + 1], p + c + reach[2 * axis + 1], side)
        spans.append(list(mirror_segments(s0, s1, p - h, c)) if s1 > s0 else [])
    for g0, g1, u0, u1, fy in spans[0]:
        for h0, h1, v0, v1, fx in spans[1]:
            out.append(Piece(k, (g0, g1, h0, h1), (u0, u1, v0, v1), (-2,) * fy + (-1,) * fx))


def piece_weight(layout, piece: Piece, side: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Raw ramps ``(rows, cols)`` float64 of a piece (divide by :func:`weight_sum` of the
    window), or ``None`` inside the leaf's plateau (weight 1 before normalising)."""
    g0, g1, h0, h1 = piece.rect
    rows = axis_weights(layout, piece.cell, 0, side, g0, g1)
    cols = axis_weights(layout, piece.cell, 1, side, h0, h1)
    if rows is None and cols is None:
        return None
    ones = torch.ones
    return (ones(g1 - g0, dtype=torch.float64) if rows is None else rows), (
        ones(h1 - h0, dtype=torch.float64) if cols is None else cols
    )
