"""Decoding a collage to its attractor: iteratively, or exactly at any side.

Pooling commutes with the step, so the attractor at side ``S`` is one step applied to
the attractor at side ``S / grid`` (DESIGN.md section 2). Climbing from the closed-form
mean at side 1 gives the true fixed point at sides ``c * grid**L`` in about the cost
of one step at full size.

Blended layouts (:class:`~collage_core.layout.BlendedLayout`) read the level of side
``2 S / grid`` and their weights vary inside a pixel, so pooling commutes with their
step only approximately. Their renders are *defined* by the multiscale recursion
(:func:`blended_attractor`): exact in the sense that every level is exactly one step of
the level below, and that any window of a level (the viewport) equals the same crop of
the whole level; ``pool(A(m S), m)`` matches ``A(S)`` to a small measured error.

Quadtree layouts (:class:`~collage_core.quadtree.QuadtreeLayout`) do not overlap, so
pooling commutes with their step exactly and :func:`quadtree_attractor` is the true
fixed point at every power-of-two side (other sides are area-resampled from the next).
"""

from __future__ import annotations

import functools
import math

import torch

from .cancel import check_cancelled
from .layout import BlendedLayout, Layout, as_layout
from .operator import collage_step, domain_count
from .quadtree import QuadtreeLayout, _by_depth
from .resample import area_resize
from .symmetry import apply_symmetries

# Bases ``c`` not reached from side 1 are found by iterating at side ``c * grid``;
# above this many pixels that costs more than rendering a larger exact side.
MAX_ITERATED_BASE = 512 * 512
# Bases with at most this many pixels are solved as a linear system instead: exact,
# differentiable without unrolling, and what training at a small native size uses.
MAX_SOLVED_BASE = 256
MAX_SOLVE_SETUP = 2**24
BASE_TOLERANCE = 1e-7
# Quadtree bases (the level the biggest leaves read at the smallest exact side) up to
# this many pixels are solved densely (32 x 32: a 1024-unknown system per channel).
MAX_SOLVED_QUADTREE_BASE = 1024
BASE_MAX_ITERATIONS = 1000


def decode_iterative(
    a: torch.Tensor,
    b: torch.Tensor,
    grid: int,
    symmetries: str,
    start: torch.Tensor,
    steps: int,
    aux: torch.Tensor | None = None,
) -> torch.Tensor:
    """``steps`` collage steps from ``start`` (the paper's decoder; differentiable).

    Args:
        start: ``(B, C, H, W)`` starting image.
    Returns:
        ``(B, C, H, W)``.
    """
    z = start
    for _ in range(steps):
        check_cancelled()
        z = collage_step(z, a, b, grid, symmetries, aux)
    return z


def _split(side: int, grid: int) -> tuple[int, int]:
    """``side = c * grid**L`` with ``grid`` not dividing ``c``."""
    levels = 0
    while side % grid == 0:
        side //= grid
        levels += 1
    return side, levels


def _reachable_from_one(c: int, grid: int) -> bool:
    # c divides some grid**j, so it is an exact average pooling of a climbed side.
    return math.gcd(c, grid**8) == c


def is_exact_side(side: int, grid: int | Layout) -> bool:
    """Whether :func:`decode_exact` renders this side without a final resample."""
    layout = as_layout(grid)
    if isinstance(layout, BlendedLayout):
        return side % layout.unit == 0
    if isinstance(layout, QuadtreeLayout):
        return side & (side - 1) == 0
    grid = layout.grid
    c, _ = _split(side, grid)
    return _reachable_from_one(c, grid) or c * grid * c * grid <= MAX_ITERATED_BASE


def nearest_exact_side(side: int, grid: int | Layout) -> int:
    """The smallest exactly decodable side ``>= side``."""
    layout = as_layout(grid)
    if isinstance(layout, BlendedLayout):
        return -(-side // layout.unit) * layout.unit
    if isinstance(layout, QuadtreeLayout):
        return 1 << max(0, side - 1).bit_length()
    s = side
    while not is_exact_side(s, grid):
        s += 1
    return s


def attractor_mean(a: torch.Tensor, b: torch.Tensor, symmetries: str, aux: torch.Tensor | None = None) -> torch.Tensor:
    """The attractor at side 1, in closed form: ``(B, C, 1, 1)``.

    Every symmetric copy of a 1x1 image is itself, so the mean ``m`` solves
    ``m = mean_k(sum_self a) m + mean_k(sum_aux a mean(aux) + b)``.
    """
    n_self, n_total = domain_count(symmetries, 0 if aux is None else aux.shape[2])
    gain = a[..., :n_self].sum(-1).mean(-1)  # (B, C)
    offset = b.mean(-1)
    if aux is not None and aux.shape[2] > 0:
        aux_mean = aux.mean(dim=(-2, -1))  # (B, C, A)
        weights = a[..., n_self:].unflatten(-1, (aux.shape[2], n_self)).sum(-1).mean(-2)  # (B, C, A)
        offset = offset + (weights * aux_mean).sum(-1)
    return (offset / (1 - gain))[..., None, None]


def decode_exact(
    a: torch.Tensor,
    b: torch.Tensor,
    grid: int | Layout,
    symmetries: str,
    side: int | tuple[int, int],
    aux: torch.Tensor | None = None,
) -> torch.Tensor:
    """The attractor rendered at ``side`` (each pixel the area average of the fixed point).

    Args:
        a: ``(B, C, K, N)``, b: ``(B, C, K)``, aux: ``(B, C, A, h, w)`` or ``None``.
        grid: the hard grid's size, or a cell layout (blended layouts follow
            :func:`blended_attractor`).
        side: an int, or ``(height, width)`` for a non-square pixel grid of the same
            unit square; sides not decodable exactly are rendered at the next exact
            side and area-resampled.
    Returns:
        ``(B, C, height, width)``.
    """
    h, w = (side, side) if isinstance(side, int) else side
    if min(h, w) < 1:
        raise ValueError(f"side must be positive, got {side}")
    layout = as_layout(grid)
    if isinstance(layout, BlendedLayout):
        return area_resize(blended_attractor(a, b, layout, symmetries, max(h, w), aux), (h, w))
    if isinstance(layout, QuadtreeLayout):
        s = nearest_exact_side(max(h, w), layout)
        return area_resize(quadtree_attractor(a, b, layout, symmetries, s, aux), (h, w))
    s = nearest_exact_side(max(h, w), layout.grid)
    return area_resize(_attractor(a, b, layout.grid, symmetries, s, aux), (h, w))


def blended_attractor(a, b, layout: BlendedLayout, symmetries: str, side: int, aux=None, memo=None) -> torch.Tensor:
    """``A(side)`` of a blended layout, ``(B, C, side, side)``, by the multiscale recursion.

    With ``u = 2 * grid`` (a step needs whole half cells):

    * ``A(S) = step(A(2 S / grid))`` when ``u`` divides ``S``;
    * ``A(S) = area_resize(A(S'), S)`` otherwise, ``S'`` the next multiple of ``u``;
    * at ``S = u`` the level read is ``4 x 4``, ``area_resize(A(u), 4)`` itself: that
      small linear fixed point is solved exactly (a 16-unknown system per channel).

    So every level is exactly one blended step of the level below, and a side
    ``m * (grid / 2)**L`` costs ``L`` steps above a small base.
    """
    memo = {} if memo is None else memo
    if side in memo:
        return memo[side]
    u = 2 * layout.grid
    if side % u:
        z = area_resize(blended_attractor(a, b, layout, symmetries, -(-side // u) * u, aux, memo), (side, side))
    elif side == u:
        z = collage_step(_blended_base(a, b, layout, symmetries, aux), a, b, layout, symmetries, aux, (u, u))
    else:
        child = blended_attractor(a, b, layout, symmetries, layout.child_side(side), aux, memo)
        check_cancelled()
        z = collage_step(child, a, b, layout, symmetries, aux, (side, side))
    memo[side] = z
    return z


def _blended_base(a, b, layout, symmetries, aux):
    # p = area_resize(A(2g), 4) solves p = L p + v, L p + v = pool(step(p)) at side 2g.
    B, C = b.shape[:2]
    u, n = 2 * layout.grid, 16
    own = a[..., : domain_count(symmetries)[0]]  # style images are constants here
    # The linear part applied to the 16 basis images, as one batch of steps.
    basis = torch.eye(n, dtype=a.dtype, device=a.device).reshape(1, n, 1, 4, 4).expand(B, n, C, 4, 4)
    own16 = own[:, None].expand(B, n, *own.shape[1:]).reshape(B * n, *own.shape[1:])
    zero_b = torch.zeros(B * n, *b.shape[1:], dtype=b.dtype, device=b.device)
    steps = collage_step(basis.reshape(B * n, C, 4, 4), own16, zero_b, layout, symmetries, None, (u, u))
    lin = area_resize(steps, (4, 4)).reshape(B, n, C, n).permute(0, 2, 3, 1)  # (B, C, out, in)
    zero = torch.zeros(B, C, 4, 4, dtype=a.dtype, device=a.device)
    v = area_resize(collage_step(zero, a, b, layout, symmetries, aux, (u, u)), (4, 4)).reshape(B, C, n, 1)
    eye = torch.eye(n, dtype=a.dtype, device=a.device)
    return torch.linalg.solve(eye - lin, v).reshape(B, C, 4, 4)


def quadtree_attractor(a, b, layout: QuadtreeLayout, symmetries: str, side: int, aux=None, memo=None):
    """``A(side)`` of a quadtree layout, ``side`` a power of two: ``(B, C, side, side)``.

    Blended leaves (``layout.blend``): above ``u`` a leaf of depth ``d`` reads
    ``A(side / (grid * 2**d))`` itself (:meth:`~collage_core.quadtree.QuadtreeLayout.step_levels`),
    not a pooling of ``A(side / grid)``: pooling commutes with the blended step only
    approximately, and own levels keep deep views as cheap as hard leaves'. ``A(u)`` is
    still the true fixed point of the step at ``u``.

    With ``u = layout.unit`` (the smallest side where every leaf is whole pixels):

    * ``A(S) = step(A(S / grid))`` when ``u`` divides ``S`` (the biggest leaves read
      ``A(S / grid)``, smaller ones the same level pooled further: pooling commutes);
    * ``A(S) = pool(A(u), u / S)`` for ``S < u``;
    * ``A(u / grid)`` is the small linear fixed point ``p = pool(step(p))``, solved.

    So every side is the true fixed point (area averages of the attractor), and ``S``
    costs ``log_grid(S / u)`` steps (about 1.07 steps at ``S``).
    """
    memo = {} if memo is None else memo
    if side in memo:
        return memo[side]
    u = layout.unit
    if side & (side - 1):
        raise ValueError(f"quadtree attractors are exact at powers of two, got {side}")
    if side < u:
        z = area_resize(quadtree_attractor(a, b, layout, symmetries, u, aux, memo), (side, side))
    elif layout.blend and side > u:
        # Blended leaves pool only approximately: each depth reads the recursion's own level.
        present = [len(ks) > 0 for ks, _, _ in _by_depth(layout)]
        levels = [
            quadtree_attractor(a, b, layout, symmetries, s, aux, memo) if used else None
            for s, used in zip(layout.reads(side), present, strict=True)
        ]
        check_cancelled()
        z = layout.step_levels(levels, a, b, symmetries, aux)
    else:
        child = side // layout.grid
        if child % u == 0:
            base = quadtree_attractor(a, b, layout, symmetries, child, aux, memo)
        elif side == u:
            base = _quadtree_base(a, b, layout, symmetries, aux)
        else:
            base = area_resize(quadtree_attractor(a, b, layout, symmetries, u, aux, memo), (child, child))
        check_cancelled()
        z = collage_step(base, a, b, layout, symmetries, aux, (side, side))
    memo[side] = z
    return z


def _quadtree_base(a, b, layout, symmetries, aux):
    # p = A(u / grid) solves p = L p + v with L p + v = pool(step(p)) at side u. L is
    # built on the basis images by _pooled_linear (the pooled step without the full-size
    # image), one small system per channel.
    if layout.blend:
        return _blended_quadtree_base(a, b, layout, symmetries, aux)
    B, C = b.shape[:2]
    u, p = layout.unit, layout.unit // layout.grid
    n = p * p
    zero = torch.zeros(B, C, p, p, dtype=a.dtype, device=a.device)
    v = area_resize(collage_step(zero, a, b, layout, symmetries, aux, (u, u)), (p, p))
    own = a[..., : domain_count(symmetries)[0]]  # style images are constants here
    if n > MAX_SOLVED_QUADTREE_BASE:
        # Too many unknowns for one dense solve: iterate the contraction from the mean.
        z = attractor_mean(a, b, symmetries, aux).expand(B, C, p, p)
        for _ in range(BASE_MAX_ITERATIONS):
            check_cancelled()
            new = _pooled_linear(z, own, layout, symmetries) + v
            delta, z = (new - z).abs().max(), new
            if delta <= BASE_TOLERANCE * (1 + z.abs().max()):
                break
        return z
    basis = torch.eye(n, dtype=a.dtype, device=a.device).reshape(n, 1, 1, p, p)
    lin = _pooled_linear(basis.expand(n, B, C, p, p), own, layout, symmetries)  # (in, B, C, p, p)
    lin = lin.reshape(n, B, C, n).permute(1, 2, 3, 0)  # (B, C, out, in)
    eye = torch.eye(n, dtype=a.dtype, device=a.device)
    # One system at a time: torch 2.13's batched LU fails ("pivots ... >= 1") for
    # 256 x 256 systems with 2 CPU threads; a loop over B * C systems costs nothing.
    system, rhs = (eye - lin).reshape(B * C, n, n), v.reshape(B * C, n, 1)
    return torch.stack([torch.linalg.solve(m, r) for m, r in zip(system, rhs, strict=True)]).reshape(B, C, p, p)


def _blended_quadtree_base(a, b, layout, symmetries, aux):
    # Blended leaves: p = A(u / grid) solves p = pool(step(p)) at side u, no longer a
    # pooling of hard cells. The hard quadtree's linear map at the same side is close to
    # the blended one (they differ only in the bands), so it preconditions the fixed-point
    # iteration: p <- p + (I - L_hard)^-1 (pool(step(p)) - p) converges in a few steps.
    B, C = b.shape[:2]
    u, p = layout.unit, layout.unit // layout.grid
    n = p * p

    def residual(z):
        return area_resize(collage_step(z, a, b, layout, symmetries, aux, (u, u)), (p, p)) - z

    z = attractor_mean(a, b, symmetries, aux).expand(B, C, p, p)
    solve = None
    if n <= MAX_SOLVED_QUADTREE_BASE:
        own = a[..., : domain_count(symmetries)[0]]
        # Sharp copies share their weights across channels: one system serves them all.
        shared = B == 1 and bool((own == own[:, :1]).all())
        own = own[:, :1] if shared else own
        systems = own.shape[0] * own.shape[1]
        basis = torch.eye(n, dtype=a.dtype, device=a.device).reshape(n, 1, 1, p, p)
        lin = _pooled_linear(basis.expand(n, *own.shape[:2], p, p), own, layout, symmetries).reshape(n, systems, n)
        system = torch.eye(n, dtype=a.dtype, device=a.device) - lin.permute(1, 2, 0)  # (systems, out, in)
        factors = [torch.linalg.lu_factor(m) for m in system]

        def solve(r):
            flat = r.reshape(B * C, n)
            if shared:  # every channel a column of one right-hand side
                return torch.linalg.lu_solve(*factors[0], flat.T).T.reshape(r.shape)
            out = [torch.linalg.lu_solve(*f, v[:, None]) for f, v in zip(factors, flat, strict=True)]
            return torch.stack(out).reshape(r.shape)

    for _ in range(BASE_MAX_ITERATIONS):
        check_cancelled()
        r = residual(z)
        z = z + (r if solve is None else solve(r))
        # float32 codes stop at their own resolution, not below it.
        if r.abs().max() <= max(BASE_TOLERANCE, 4 * torch.finfo(z.dtype).eps) * (1 + z.abs().max()):
            break
    return z


def _pooled_linear(z, own, layout, symmetries):
    """``pool(step(z) - offsets, grid)`` at side ``p = unit / grid``, straight from ``z`` ``(..., B, C, p, p)``.

    Pooling commutes with the step, so a leaf ``t = p / (grid * 2**d)`` pixels wide after
    pooling is its cell at side ``t``; a leaf narrower than a pixel adds its mean,
    ``sum_n a_kn * mean(z)`` (symmetries keep the mean), weighted by its area.
    """
    lead, p = z.shape[:-2], z.shape[-1]
    out = z.new_zeros(*lead, p * p)
    mean = z.mean(dim=(-2, -1))  # (..., B, C)
    for d, (ks, rows, cols) in enumerate(_by_depth(layout)):
        if not len(ks):
            continue
        weights = own[:, :, ks.to(own.device)]  # (B, C, K_d, n)
        n_side, dev = layout.grid << d, own.device
        if p >= n_side:
            t = p // n_side
            dom = apply_symmetries(area_resize(z, (t, t)), symmetries)  # (..., B, C, n, t, t)
            cells = torch.einsum("bckn,...bcnhw->...bckhw", weights, dom)
            grid_view = out.view(*lead, n_side, t, n_side, t).transpose(-3, -2)  # (..., i, j, h, w)
            grid_view[..., rows.to(dev), cols.to(dev), :, :] = cells
        else:
            r = n_side // p  # leaves per output pixel, a side
            pixel = (rows // r) * p + cols // r
            values = weights.sum(-1) * mean[..., None] / (r * r)  # (..., B, C, K_d)
            out.index_add_(-1, pixel.to(dev), values)
    return out.reshape(*lead, p, p)


def _attractor(a, b, grid, symmetries, side, aux):
    c, levels = _split(side, grid)
    if c == 1:
        z = attractor_mean(a, b, symmetries, aux)
    elif _reachable_from_one(c, grid):
        p = grid
        while p % c:
            p *= grid
        z = area_resize(_attractor(a, b, grid, symmetries, p, aux), (c, c))
    elif c * c <= MAX_SOLVED_BASE and grid**4 * c**4 <= MAX_SOLVE_SETUP:
        z = _solved_base(a, b, grid, symmetries, c, aux)
    else:
        z = _iterated_base(a, b, grid, symmetries, c, aux)
    for _ in range(levels):
        check_cancelled()
        side = z.shape[-1] * grid
        z = collage_step(z, a, b, grid, symmetries, aux, size=(side, side))
    return z


def _iterated_base(a, b, grid, symmetries, c, aux):
    # Start from the finest cheap exact side resampled to c, then iterate at side c*grid
    # (pooled back to c) until the change is below tolerance: a contraction converges.
    p = grid
    while p < c:
        p *= grid
    z = area_resize(_attractor(a, b, grid, symmetries, p, aux), (c, c))
    for _ in range(BASE_MAX_ITERATIONS):
        check_cancelled()
        full = collage_step(z, a, b, grid, symmetries, aux, size=(c * grid, c * grid))
        new = area_resize(full, (c, c))
        delta = (new - z).abs().max()
        z = new
        if delta <= BASE_TOLERANCE * (1 + z.abs().max()):
            break
    return z


@functools.lru_cache(maxsize=16)
def _base_operator(grid: int, symmetries: str, c: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``Q[k, n]``: the linear map ``p -> pool(cell k of step with a = e_{k,n}, b = 0)`` on c x c images.

    Shape ``(K, n_self, c*c, c*c)``; ``L = einsum(a, Q)`` is then the pooled step's linear part.
    """
    n_self, _ = domain_count(symmetries)
    K, n = grid * grid, c * c
    onehot = torch.eye(K * n_self, dtype=dtype, device=device).reshape(K * n_self, 1, K, n_self)
    basis = torch.eye(n, dtype=dtype, device=device).reshape(1, n, c, c).expand(K * n_self, n, c, c)
    full = collage_step(
        basis,
        onehot.expand(K * n_self, n, K, n_self),
        torch.zeros(K * n_self, n, K, dtype=dtype, device=device),
        grid,
        symmetries,
        size=(c * grid, c * grid),
    )
    pooled = area_resize(full, (c, c)).reshape(K, n_self, n, n)  # (k, n, in, out)
    return pooled.transpose(-1, -2).contiguous()


def _solved_base(a, b, grid, symmetries, c, aux):
    # The pooled attractor p (c x c) solves p = L p + v, with L p + v = pool(step(p)):
    # one small batched linear solve, exact and differentiable without unrolling.
    B, C = b.shape[:2]
    n_self, _ = domain_count(symmetries)
    size = (c * grid, c * grid)
    zero = torch.zeros(B, C, c, c, dtype=a.dtype, device=a.device)
    v = area_resize(collage_step(zero, a, b, grid, symmetries, aux, size=size), (c, c))
    lin = torch.einsum("bckn,knij->bcij", a[..., :n_self], _base_operator(grid, symmetries, c, a.dtype, a.device))
    eye = torch.eye(c * c, dtype=a.dtype, device=a.device)
    p = torch.linalg.solve(eye - lin, v.reshape(B, C, c * c, 1))
    return p.reshape(B, C, c, c)
