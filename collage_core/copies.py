"""Sharp copies: which domains each cell may use (DESIGN.md section 9).

A soft fit mixes all 8 dihedral copies in every cell, so ``l`` levels deep a pixel
mixes ``8**l`` paths and the self-copies blur into mush. Choosing at most ``k`` domains
per cell, the same for every channel, keeps the copies crisp: with one copy a cell is an
affine recolouring of one orientation of the whole attractor, at every depth.

Selection is greedy and exact for the first copy: every candidate's best weight is
clamped to the contraction bound (and the ``strength`` floor) before its error is
compared, so the chosen copy is the best *admissible* one. Further copies are added by
forward selection on the unconstrained least-squares error.

Self weights are never negative. A negative weight makes the cell a photographic
negative of the whole image: least squares picks one in about half of the cells of a
photo (a sign is as good as a small weight's), and a deep view inside such a cell shows
the photo inverted, an orange suit blue and a face teal, an odd number of times along
the path. With positive weights every cell, at every depth, is the photo itself.
"""

from __future__ import annotations

import torch
from einops import rearrange

# Ridge on the normal equations, relative to the Gram diagonal: copies of a symmetric
# image are collinear.
RIDGE = 1e-6


def parse_copies(value) -> int | None:
    """``None``/``"soft"``/``"all"`` for the soft mix, else a positive integer."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("soft", "all", "none", "")):
        return None
    if isinstance(value, bool):
        raise ValueError(f"copies must be a positive integer or 'soft', got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 1 <= value <= 64:
        raise ValueError(f"copies must be an integer in [1, 64] or 'soft', got {value!r}")
    return value


def centered_stats(domains: torch.Tensor, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normal equations of one weight per domain shared by the channels, offsets per channel.

    With per-channel offsets the offsets fit the means, so the weights solve the
    least squares of the centred cells on the centred domains, summed over channels.

    Args:
        domains: ``(B, C, N, P)`` regressors, shared by every cell.
        cells: ``(B, C, K, P)`` targets.
    Returns:
        ``G`` ``(B, N, N)`` (shared by the cells) and ``r`` ``(B, K, N)``.
    """
    d = domains - domains.mean(-1, keepdim=True)
    c = cells - cells.mean(-1, keepdim=True)
    return torch.einsum("bcnp,bcmp->bnm", d, d), torch.einsum("bckp,bcnp->bkn", c, d)


def select_copies(
    G: torch.Tensor,
    r: torch.Tensor,
    copies: int,
    n_self: int,
    s_max: float,
    strength: float = 0.0,
) -> torch.Tensor:
    """The domains each cell uses.

    Args:
        G: ``(B, N, N)`` and r: ``(B, K, N)`` from :func:`centered_stats`; the ``n_self``
            self copies come first, then style copies.
        copies: at most this many self copies per cell, and as many style copies.
        strength: the floor on the self weight (the first copy is always a self copy,
            so every cell keeps a self weight and no zoom ends in a flat cell).
    Returns:
        ``(B, K, N)`` boolean mask.
    """
    N = G.shape[-1]
    var = G.diagonal(dim1=-2, dim2=-1)
    var = var.clamp_min(RIDGE * var.amax(-1, keepdim=True).clamp_min(1e-12))[:, None, :]  # (B, 1, N)
    # First copy: a 1-D fit per candidate, its weight clamped to what the code may hold
    # (positive, in [strength, s_max]).
    weight, r_self, var = r[..., :n_self] / var[..., :n_self], r[..., :n_self], var[..., :n_self]
    weight = weight.clamp(min=strength, max=s_max)
    err = weight * weight * var - 2 * weight * r_self  # (B, K, n_self): the error up to a constant
    mask = torch.nn.functional.one_hot(err.argmin(-1), N).bool()
    self_domains = torch.arange(N, device=G.device) < n_self
    for _ in range(1, min(copies, n_self)):
        mask = _add_copy(G, r, mask, self_domains)
    for _ in range(min(copies, N - n_self)):
        mask = _add_copy(G, r, mask, ~self_domains)
    return mask


def positive_self(w: torch.Tensor, n_self: int) -> torch.Tensor:
    """Weights ``w`` ``(..., N)`` with negative self weights set to zero.

    A cell left with no self weight keeps no copy (a flat cell stays a constant); under a
    ``strength`` floor :func:`~collage_core.operator.contract` then gives it the floor,
    which the sharp fit moves onto the cell's chosen copy.
    """
    return torch.cat([w[..., :n_self].clamp_min(0.0), w[..., n_self:]], dim=-1)


def floor_on_chosen(a: torch.Tensor, support: torch.Tensor, n_self: int, strength: float) -> torch.Tensor:
    """Move a floored weight that :func:`~collage_core.operator.contract` put on the identity
    to the cell's chosen self copy: ``a`` ``(B, C, K, N)``, ``support`` ``(B, K, N)`` bool."""
    if strength <= 0:
        return a
    chosen = support[:, None, :, :n_self].expand_as(a[..., :n_self])
    own = a[..., :n_self]
    stray = (own != 0) & ~chosen
    if not bool(stray.any()):
        return a
    first = chosen.float().argmax(-1, keepdim=True)  # the cell's first chosen self copy
    moved = torch.zeros_like(own).scatter_(-1, first, own.abs().sum(-1, keepdim=True))
    own = torch.where(stray.any(-1, keepdim=True), moved, own)
    return torch.cat([own, a[..., n_self:]], dim=-1)


def _add_copy(G: torch.Tensor, r: torch.Tensor, mask: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Forward selection: add, per cell, the ``allowed`` domain that lowers the error most."""
    N = mask.shape[-1]
    trial = mask[:, :, None, :] | torch.eye(N, dtype=torch.bool, device=mask.device)  # (B, K, n, N)
    explained = (masked_solve(G, r, trial) * r[:, :, None, :]).sum(-1)  # (B, K, n)
    explained = explained.masked_fill(mask | ~allowed, -float("inf"))
    return mask | torch.nn.functional.one_hot(explained.argmax(-1), N).bool()


def masked_solve(G: torch.Tensor, r: torch.Tensor, subset: torch.Tensor) -> torch.Tensor:
    """Least squares restricted to a subset of regressors per cell; zero elsewhere.

    Args:
        G: ``(B, M, M)`` shared Gram matrix, r: ``(B, K, M)``.
        subset: ``(B, K, M)`` or ``(B, K, n, M)`` boolean.
    Returns:
        ``(B, K, M)`` or ``(B, K, n, M)`` coefficients.
    """
    m = subset.to(G.dtype)
    eye = torch.eye(G.shape[-1], dtype=G.dtype, device=G.device)
    ridge = RIDGE * G.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-12)[:, None, None] * eye
    g = rearrange(G + ridge, "b i j -> b 1 i j")
    rhs = r
    if subset.dim() == 4:
        g, rhs = g[:, :, None], r[:, :, None, :]
    # Unselected regressors get an identity row and column and a zero right-hand side.
    system = g * m[..., :, None] * m[..., None, :] + eye * (1 - m[..., None, :])
    return torch.linalg.solve(system, (rhs * m)[..., None])[..., 0] * m


def offsets(domains: torch.Tensor, cells: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The offsets ``b`` ``(B, C, K)`` that fit each cell's mean, given weights ``a`` ``(B, C, K, N)``."""
    return cells.mean(-1) - torch.einsum("bckn,bcn->bck", a, domains.mean(-1))


def cells_of(x: torch.Tensor, grid: int) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, C, K, P)``: the pixels of each row-major grid cell."""
    return rearrange(x, "b c (gy h) (gx w) -> b c (gy gx) (h w)", gy=grid, gx=grid)


def share_channels(a: torch.Tensor, b: torch.Tensor, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One weight per domain for every channel; the offsets keep each cell's mean colour.

    Each weight becomes its mean over channels and each offset takes up the change,
    ``b_c + sum_n (a_cn - a_n) * mean_cn``, so a copy is the photo in its own colours,
    lighter or darker, at every depth. Means of weights keep what the fit enforced in each
    channel: ``sum_n |a_n| <= s_max`` (triangle inequality), the strength floor, and
    non-negative self weights.

    Args:
        a: ``(B, C, K, N)`` weights; b: ``(B, C, K)`` offsets.
        means: ``(B, C, N)`` each domain's mean per channel (a self copy's is the image's).
    Returns:
        ``(a, b)`` of the same shapes.
    """
    shared = a.mean(1, keepdim=True).expand_as(a).contiguous()
    return shared, b + ((a - shared) * means[:, :, None, :]).sum(-1)
