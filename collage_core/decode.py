"""Decoding a collage to its attractor: iteratively, or exactly at any side.

Pooling commutes with the step, so the attractor at side ``S`` is one step applied to
the attractor at side ``S / grid`` (DESIGN.md section 2). Climbing from the closed-form
mean at side 1 gives the true fixed point at sides ``c * grid**L`` in about the cost
of one step at full size.
"""

from __future__ import annotations

import functools
import math

import torch

from .cancel import check_cancelled
from .operator import collage_step, domain_count
from .resample import area_resize

# Bases ``c`` not reached from side 1 are found by iterating at side ``c * grid``;
# above this many pixels that costs more than rendering a larger exact side.
MAX_ITERATED_BASE = 512 * 512
# Bases with at most this many pixels are solved as a linear system instead: exact,
# differentiable without unrolling, and what training at a small native size uses.
MAX_SOLVED_BASE = 256
MAX_SOLVE_SETUP = 2**24
BASE_TOLERANCE = 1e-7
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


def is_exact_side(side: int, grid: int) -> bool:
    """Whether :func:`decode_exact` renders this side without a final resample."""
    c, _ = _split(side, grid)
    return _reachable_from_one(c, grid) or c * grid * c * grid <= MAX_ITERATED_BASE


def nearest_exact_side(side: int, grid: int) -> int:
    """The smallest exactly decodable side ``>= side``."""
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
    grid: int,
    symmetries: str,
    side: int | tuple[int, int],
    aux: torch.Tensor | None = None,
) -> torch.Tensor:
    """The attractor rendered at ``side`` (each pixel the area average of the fixed point).

    Args:
        a: ``(B, C, K, N)``, b: ``(B, C, K)``, aux: ``(B, C, A, h, w)`` or ``None``.
        side: an int, or ``(height, width)`` for a non-square pixel grid of the same
            unit square; sides not decodable exactly are rendered at the next exact
            side and area-resampled.
    Returns:
        ``(B, C, height, width)``.
    """
    h, w = (side, side) if isinstance(side, int) else side
    if min(h, w) < 1:
        raise ValueError(f"side must be positive, got {side}")
    s = nearest_exact_side(max(h, w), grid)
    return area_resize(_attractor(a, b, grid, symmetries, s, aux), (h, w))


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
