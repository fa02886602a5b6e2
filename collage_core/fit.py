"""Fitting a collage to an image: closed-form least squares, then optional refinement.

Closed form (classic fractal coding, the Collage theorem): every cell is regressed on
the same pooled domains plus a constant. The domains are global, so all cells share one
Gram matrix and the whole fit is one batched solve. Refinement then descends the
attractor error itself, through the exact (differentiable) decoder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch
import torch.nn.functional as F
from einops import rearrange

from .decode import decode_exact
from .operator import collage_domains, contract, domain_count

# Ridge on the normal equations: symmetric copies of a symmetric image are collinear.
RIDGE = 1e-6

ProgressFn = Callable[[int, int, float], None]


class Cancelled(RuntimeError):
    """Raised when a long operation is cancelled through its ``cancel`` event."""


def fit_closed_form(
    x: torch.Tensor,
    grid: int,
    symmetries: str = "d4",
    s_max: float = 0.9,
    strength: float = 0.0,
    aux: torch.Tensor | None = None,
    plant_loop: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares collage coefficients for ``x``.

    Args:
        x: ``(B, C, H, W)`` target, sides divisible by ``grid``.
        plant_loop: a cell index whose map is forced to a pure identity copy
            (``a = s_max`` on the identity domain, no offset fitted beyond the mean),
            so zooming into that cell loops exactly.
    Returns:
        ``a`` of shape ``(B, C, K, N)`` inside the contraction bound, ``b`` ``(B, C, K)``.
    """
    n_self, _ = domain_count(symmetries, 0 if aux is None else aux.shape[2])
    domains = rearrange(collage_domains(x, grid, symmetries, aux), "b c n h w -> b c n (h w)")
    cells = rearrange(x, "b c (gy h) (gx w) -> b c (gy gx) (h w)", gy=grid, gx=grid)
    a = contract(_lstsq(domains, cells)[..., :-1], n_self, s_max, strength)
    if plant_loop is not None:
        a[:, :, plant_loop] = 0.0
        a[:, :, plant_loop, 0] = s_max
    # Shrinking the self weights moved the best auxiliary weights and offsets: refit
    # them on what the self domains leave unexplained.
    residual = cells - torch.einsum("bckn,bcnp->bckp", a[..., :n_self], domains[:, :, :n_self])
    rest = _lstsq(domains[:, :, n_self:], residual)
    a = torch.cat([a[..., :n_self], rest[..., :-1]], dim=-1)
    b = rest[..., -1]
    if plant_loop is not None:
        # The loop cell stays a pure copy of the image: no style, offset = mean residual.
        a[:, :, plant_loop, n_self:] = 0.0
        b[:, :, plant_loop] = residual[:, :, plant_loop].mean(-1)
    return a, b


def _lstsq(domains: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Per-cell least squares on shared regressors plus a constant.

    Args:
        domains: ``(B, C, N, P)`` regressors, shared by every cell.
        cells: ``(B, C, K, P)`` targets.
    Returns:
        ``(B, C, K, N + 1)``, the constant last.
    """
    design = torch.cat([domains, torch.ones_like(cells[:, :, :1])], dim=2)  # (B, C, N+1, P)
    gram = design @ design.transpose(-1, -2)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    gram = gram + RIDGE * gram.diagonal(dim1=-2, dim2=-1).mean(-1)[..., None, None] * eye
    return torch.linalg.solve(gram, design @ cells.transpose(-1, -2)).transpose(-1, -2)


def refine(
    x: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    grid: int,
    symmetries: str,
    steps: int,
    s_max: float = 0.9,
    strength: float = 0.0,
    aux: torch.Tensor | None = None,
    lr: float = 3e-3,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    frozen_cell: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on the attractor error ``||x - z*(a, b)||^2`` through the exact decoder.

    Args:
        x: ``(B, C, S, S)`` target.
        progress: called as ``progress(step, steps, loss)`` after every step.
        cancel: when set, raises :class:`Cancelled` at the next step.
        frozen_cell: a cell whose weights stay fixed (a planted loop cell).
    Returns:
        refined ``(a, b)``, still inside the contraction bound.
    """
    n_self, _ = domain_count(symmetries, 0 if aux is None else aux.shape[2])
    torch.manual_seed(seed)
    side = x.shape[-1]
    raw_a = a.detach().clone().requires_grad_(True)
    raw_b = b.detach().clone().requires_grad_(True)
    keep = torch.ones_like(a)
    if frozen_cell is not None:
        keep[:, :, frozen_cell] = 0.0
    opt = torch.optim.Adam([raw_a, raw_b], lr=lr)
    best = (F.mse_loss(decode_exact(a, b, grid, symmetries, side, aux), x).item(), a, b)
    for step in range(steps):
        if cancel is not None and cancel.is_set():
            raise Cancelled("refinement cancelled")
        cur_a = contract(raw_a * keep + a * (1 - keep), n_self, s_max, strength)
        loss = F.mse_loss(decode_exact(cur_a, raw_b, grid, symmetries, side, aux), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if loss.item() < best[0]:
            best = (loss.item(), cur_a.detach(), raw_b.detach().clone())
        if progress is not None:
            progress(step + 1, steps, loss.item())
    final_a = contract(raw_a.detach() * keep + a * (1 - keep), n_self, s_max, strength)
    final_loss = F.mse_loss(decode_exact(final_a, raw_b.detach(), grid, symmetries, side, aux), x).item()
    if final_loss < best[0]:
        best = (final_loss, final_a, raw_b.detach().clone())
    return best[1], best[2]
