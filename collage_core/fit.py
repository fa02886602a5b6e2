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

from .blend_fit import fit_blended
from .copies import cells_of, centered_stats, floor_on_chosen, masked_solve, offsets, positive_self, select_copies
from .decode import decode_exact
from .layout import BlendedLayout, Layout, as_layout
from .operator import collage_domains, contract, domain_count

# Ridge on the normal equations: symmetric copies of a symmetric image are collinear.
RIDGE = 1e-6

ProgressFn = Callable[[int, int, float], None]


class Cancelled(RuntimeError):
    """Raised when a long operation is cancelled through its ``cancel`` event."""


def fit_closed_form(
    x: torch.Tensor,
    grid: int | Layout,
    symmetries: str = "d4",
    s_max: float = 0.9,
    strength: float = 0.0,
    aux: torch.Tensor | None = None,
    plant_loop: int | None = None,
    copies: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares collage coefficients for ``x``.

    Args:
        x: ``(B, C, H, W)`` target, sides divisible by ``grid``.
        grid: the hard grid's size, or a cell layout; blended layouts are fitted by
            :func:`~collage_core.blend_fit.fit_blended` (coupled least squares).
        plant_loop: a cell index whose map is forced to a pure identity copy
            (``a = s_max`` on the identity domain, no offset fitted beyond the mean),
            so zooming into that cell loops exactly.
        copies: ``None`` mixes every domain in every cell (soft); ``k`` lets each cell
            use at most ``k`` domains, chosen by least squares and shared by the
            channels (:mod:`~collage_core.copies`), so self-copies stay sharp at depth.
    Returns:
        ``a`` of shape ``(B, C, K, N)`` inside the contraction bound (zero outside the
        chosen copies), ``b`` ``(B, C, K)``.
    """
    layout = as_layout(grid)
    if isinstance(layout, BlendedLayout):
        if plant_loop is not None:
            raise ValueError("a planted loop cell needs hard cells (blend=False)")
        return fit_blended(x, layout, symmetries, s_max, strength, aux, copies=copies)
    grid = layout.grid
    n_self, _ = domain_count(symmetries, 0 if aux is None else aux.shape[2])
    domains = rearrange(collage_domains(x, grid, symmetries, aux), "b c n h w -> b c n (h w)")
    cells = cells_of(x, grid)
    if copies is not None:
        return _fit_sharp(domains, cells, copies, n_self, s_max, strength, plant_loop)
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


def _fit_sharp(domains, cells, copies, n_self, s_max, strength, plant_loop):
    # One weight per chosen copy, shared by the channels: a copy keeps its colours (only
    # the offsets differ per channel), 0.1 dB below per-channel weights on photos.
    B, C, K = cells.shape[:3]
    G, r = centered_stats(domains, cells)
    support = select_copies(G, r, copies, n_self, s_max, strength)  # (B, K, N)
    if plant_loop is not None:
        support[:, plant_loop] = False
        support[:, plant_loop, 0] = True
    w = contract(positive_self(masked_solve(G, r, support), n_self), n_self, s_max, strength)
    w = floor_on_chosen(w[:, None], support, n_self, strength)[:, 0]
    if plant_loop is not None:
        w[:, plant_loop, 0] = s_max
    if domains.shape[2] > n_self:
        # Shrinking the self weights moved the best style weights: refit them.
        residual = cells - torch.einsum("bkn,bcnp->bckp", w[..., :n_self], domains[:, :, :n_self])
        G2, r2 = centered_stats(domains[:, :, n_self:], residual)
        w = torch.cat([w[..., :n_self], masked_solve(G2, r2, support[..., n_self:])], dim=-1)
    a = w[:, None].expand(B, C, K, w.shape[-1]).contiguous()
    return a, offsets(domains, cells, a)


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


class _BudgetSpent(Exception):
    """Internal: ``refine``'s evaluation budget ran out inside a line search."""


def refine(
    x: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    grid: int | Layout,
    symmetries: str,
    steps: int,
    s_max: float = 0.9,
    strength: float = 0.0,
    aux: torch.Tensor | None = None,
    lr: float = 1.0,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    frozen_cell: int | None = None,
    keep_copies: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """L-BFGS on the attractor error ``||x - z*(a, b)||^2`` through the exact decoder.

    A step is one evaluation of the error and its gradient (one exact decode at the
    side of ``x`` and its backward pass), so ``steps`` is a cost budget, spent in full.
    L-BFGS with a strong-Wolfe line search reaches about what Adam (lr 3e-3) reaches in
    twice the evaluations (benchmarks/README.md). The weights are re-projected into the
    contraction bound at every evaluation, so every candidate is a valid code; the best
    one evaluated (the starting code included) is returned.

    Args:
        x: ``(B, C, S, S)`` target.
        a: ``(B, C, K, N)`` and b: ``(B, C, K)`` starting coefficients (the closed form).
        steps: error evaluations, at most.
        lr: scale of L-BFGS's step (1 takes the full quasi-Newton step).
        progress: called as ``progress(step, steps, loss)`` after every evaluation,
            ``loss`` the mean squared error of that candidate.
        cancel: when set, raises :class:`Cancelled` at the next evaluation.
        frozen_cell: a cell whose weights stay fixed (a planted loop cell).
        keep_copies: keep each cell's chosen copies (a sharp fit): weights that are zero
            in every channel of ``a`` stay zero; the others are optimised.
    Returns:
        refined ``(a, b)`` of the same shapes, inside the contraction bound.
    """
    if steps <= 0:
        return a, b
    n_self, _ = domain_count(symmetries, 0 if aux is None else aux.shape[2])
    side = x.shape[-1]
    # A sharp code shares its weights across channels: keep them shared.
    shared = keep_copies and bool((a == a[:, :1]).all())
    raw_a = (a[:, :1] if shared else a).detach().clone().requires_grad_(True)
    raw_b = b.detach().clone().requires_grad_(True)
    keep = torch.ones_like(a)
    support = a.ne(0).any(1, keepdim=True).expand_as(a) if keep_copies else None
    # A sharp code's copies are positive (the photo, never its negative): keep them so.
    positive = keep_copies and bool((a[..., :n_self] >= 0).all())
    if support is not None:
        keep = keep * support
    if frozen_cell is not None:
        keep[:, :, frozen_cell] = 0.0
    fixed = a.detach() * (1 - keep)
    # No tolerances: the budget is the step count, which the caller chose.
    opt = torch.optim.LBFGS(
        [raw_a, raw_b], lr=lr, history_size=10, tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe"
    )
    evals = 0
    best: tuple[float, torch.Tensor, torch.Tensor] | None = None
    scale: float | None = None

    def closure() -> torch.Tensor:
        nonlocal evals, best, scale
        if cancel is not None and cancel.is_set():
            raise Cancelled("refinement cancelled")
        if evals >= steps:
            raise _BudgetSpent  # the line search may ask for more than max_eval
        opt.zero_grad(set_to_none=True)
        cur_a = raw_a.expand_as(a) * keep + fixed
        if positive:
            cur_a = positive_self(cur_a, n_self)
        cur_a = contract(cur_a, n_self, s_max, strength)
        if support is not None:
            cur_a = floor_on_chosen(cur_a, support[:, 0], n_self, strength)
        loss = F.mse_loss(decode_exact(cur_a, raw_b, grid, symmetries, side, aux), x)
        evals += 1
        value = loss.item()
        if best is None or value < best[0]:
            best = (value, cur_a.detach().clone(), raw_b.detach().clone())
        # Relative error: the line search's first trial step is then image-independent.
        scale = scale or 1.0 / max(value, 1e-12)
        (loss * scale).backward()
        if progress is not None:
            progress(evals, steps, value)
        return loss.detach() * scale

    while evals < steps:
        before = evals
        opt.param_groups[0].update(max_iter=steps - evals, max_eval=steps - evals)
        try:
            opt.step(closure)
        except _BudgetSpent:
            break
        if evals == before:
            break  # converged exactly: nothing left to try
    if evals < steps and progress is not None:
        progress(steps, steps, best[0])
    return best[1], best[2]
