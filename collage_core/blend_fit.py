"""Closed-form fit of a blended layout: coupled least squares by block Gauss-Seidel.

For fixed domains the blended collage ``sum_k w_k (Phi theta_k)`` is linear in the
coefficients ``theta_k = (a_k, b_k)``, so the collage error is a linear least-squares
problem. Overlapping frames couple neighbouring cells; cells two apart in both
directions never overlap, so the four colour classes ``(i % 2, j % 2)`` are each solved
exactly given the others (a block Gauss-Seidel sweep lowers the error at every colour).
All frames share one design ``Phi`` (the whole image, shrunk); only the window differs
at the image border, so there are 9 distinct Gram matrices, not ``K``.
"""

from __future__ import annotations

import torch
from einops import rearrange

from .copies import floor_on_chosen, positive_self, select_copies
from .layout import BlendedLayout
from .operator import contract, domain_count

# Ridge relative to the mean Gram diagonal. Coupled frames (and style domains) admit
# large cancelling weights that fit the collage but not the coarser levels the
# attractor climbs from: 1e-2 keeps them small and gained 0.1-10 dB over 1e-6.
RIDGE = 1e-2
NEGLIGIBLE = 1e-4  # self weight (L1) below which a cell's copy is invisible: at most 1e-4 of a grey level range
SWEEPS = 1  # a second sweep added 0.05 dB at 1x (astronaut, grid 32) for 20% more time


def fit_blended(
    x: torch.Tensor,
    layout: BlendedLayout,
    symmetries: str = "d4",
    s_max: float = 0.9,
    strength: float = 0.0,
    aux: torch.Tensor | None = None,
    copies: int | None = None,
    mask: torch.Tensor | None = None,
    sweeps: int = SWEEPS,
    coupled_self: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares coefficients of a blended collage for ``x``.

    Args:
        x: ``(B, C, S, S)`` target, ``S`` divisible by ``2 * grid``.
        copies: at most this many domains per cell, chosen per cell by least squares on
            its window-weighted frame and shared by the channels
            (:func:`~collage_core.copies.select_copies`); ``None`` mixes them all.
        mask: ``(B, K, N)`` bool, the domains each cell may use, instead of ``copies``.
        sweeps: Gauss-Seidel sweeps over the four colours, before and after the
            projection into the contraction bound.
    Returns:
        ``a`` ``(B, C, K, N)`` inside the contraction bound, ``b`` ``(B, C, K)``.
    """
    B, C, S, _ = x.shape
    n_self, N = domain_count(symmetries, 0 if aux is None else aux.shape[2])
    K = layout.cells
    design = layout.frame_domains(layout.domains(x, symmetries, aux))  # (B, C, N, d, d)
    design = rearrange(torch.cat([design, torch.ones_like(design[:, :, :1])], dim=2), "b c n h w -> b c n (h w)")
    w = rearrange(layout.frame_weights(S, x.dtype, x.device), "k h w -> k (h w)")  # (K, P)
    keep = torch.ones(B, K, N + 1, dtype=torch.bool, device=x.device)
    solver = _Solver(layout, design, w, x, keep)
    if mask is None and copies is not None:
        mask = select_copies(*solver.centered_stats(), copies, n_self, s_max, strength)
    if mask is not None:
        keep[..., :N] = mask
    theta = solver.independent()
    if coupled_self:
        theta = solver.sweep(theta, sweeps)
    # Coupling leaks ~1e-6 weights into flat cells from their neighbours' overlaps: drop
    # them, so a flat cell keeps no copy and deep views of it read no level below.
    a = theta[..., :N] * (theta[..., :n_self].abs().sum(-1, keepdim=True) >= NEGLIGIBLE)
    if copies is not None:  # sharp copies show the photo, never its negative (see copies.positive_self)
        a = positive_self(a, n_self)
    a = contract(a, n_self, s_max, strength)
    if copies is not None:
        a = floor_on_chosen(a, mask, n_self, strength)
    # The projection moved the self weights: refit the rest (style weights, offsets).
    rest = keep.clone()
    rest[..., :n_self] = False
    theta = solver.sweep(torch.cat([a, theta[..., N:]], dim=-1), sweeps, free=rest)
    return theta[..., :N].contiguous(), theta[..., N].contiguous()


class _Solver:
    """Block Gauss-Seidel on ``min || x - sum_k w_k (Phi theta_k) ||^2``.

    Images are held padded to ``(g + 2) c`` a side (half a cell before, one and a half
    after), where the frames of one colour tile a square exactly: cutting them out and
    putting them back are reshapes, not scatters.
    """

    def __init__(self, layout, design, w, x, keep):
        self.layout, self.design, self.keep = layout, design, keep
        self.design_t = design.transpose(-1, -2).contiguous()  # (B, C, P, n)
        g, S = layout.grid, x.shape[-1]
        self.g, self.c = g, S // g
        i = torch.arange(g)
        # Window class per axis: 0 first cell, 1 interior, 2 last; the 9 classes share Grams.
        axis = torch.where(i == 0, 0, torch.where(i == g - 1, 2, 1))
        self.cls = (axis[:, None] * 3 + axis[None, :]).flatten().to(x.device)  # (K,)
        reps = torch.tensor([0, 1, g - 1])
        self.w9 = w[(reps[:, None] * g + reps[None, :]).flatten().to(x.device)]  # (9, P)
        self.colours = []
        for p in range(2):
            for q in range(2):
                ks = (torch.arange(p, g, 2)[:, None] * g + torch.arange(q, g, 2)[None, :]).flatten().to(x.device)
                self.colours.append(((p, q), ks, w[ks].contiguous()))
        self.x = self._pad(x)
        self.x_frames = [self._cut(self.x, p, q) for (p, q), _, _ in self.colours]

    def _pad(self, img):
        c = self.c
        return torch.nn.functional.pad(img, (c // 2, c + c // 2, c // 2, c + c // 2))

    def _cut(self, img, p, q):
        # The frames of colour (p, q) from a padded image: (B, C, K/4, P).
        c, g = self.c, self.g
        block = img[..., p * c : p * c + g * c, q * c : q * c + g * c]
        return rearrange(block, "b c (m h) (n w) -> b c (m n) (h w)", h=2 * c, w=2 * c)

    def _put(self, img, frames, p, q):
        c, g = self.c, self.g
        block = rearrange(frames, "b c (m n) (h w) -> b c (m h) (n w)", m=g // 2, h=2 * c)
        img[..., p * c : p * c + g * c, q * c : q * c + g * c] += block

    def _gram(self, power: int, free) -> torch.Tensor:
        weighted = self.design[:, :, None] * self.w9[:, None] ** power  # (B, C, 9, n, P)
        gram = (weighted @ self.design_t[:, :, None])[:, :, self.cls]  # (B, C, K, n, n)
        ridge = RIDGE * gram.diagonal(dim1=-2, dim2=-1).mean(-1, keepdim=True).clamp_min(1e-12)
        eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
        pair = (free[:, None, :, :, None] & free[:, None, :, None, :]).to(gram.dtype)
        # Fixed unknowns get an identity row: their update is zero.
        return gram * pair + (ridge[..., None] + (~free[:, None, :, :, None]).to(gram.dtype)) * eye

    def centered_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Window-weighted :func:`~collage_core.copies.centered_stats`: ``G`` ``(B, N, N)``, ``r`` ``(B, K, N)``.

        Centred on the interior window's weighted means (offsets are free per channel),
        summed over channels; ``G`` is the interior cells' (border cells differ slightly).
        """
        w = self.w9[4]  # an interior cell's window
        d = self.design[:, :, :-1]
        d = d - (d * w).sum(-1, keepdim=True) / w.sum()
        G = torch.einsum("bcnp,p,bcmp->bnm", d, w, d)
        r = self.x.new_zeros(self.x.shape[0], self.layout.cells, d.shape[2])
        for (_, ks, wk), cells in zip(self.colours, self.x_frames, strict=True):
            cells = cells - (cells * wk).sum(-1, keepdim=True) / wk.sum(-1, keepdim=True)
            r[:, ks] = torch.einsum("bckp,bcnp->bkn", wk * cells, d)
        return G, r

    def independent(self) -> torch.Tensor:
        """Each frame fitted alone, weighted by its window: ``(B, C, K, N + 1)``."""
        B, C = self.x.shape[:2]
        rhs = self.x.new_zeros(B, C, self.layout.cells, self.design.shape[2])
        for (_, ks, w), cells in zip(self.colours, self.x_frames, strict=True):
            rhs[:, :, ks] = (w * cells) @ self.design_t
        return torch.linalg.solve(self._gram(1, self.keep), rhs * self.keep[:, None])

    def sweep(self, theta: torch.Tensor, sweeps: int, free: torch.Tensor | None = None) -> torch.Tensor:
        """Block Gauss-Seidel from ``theta``, updating only the ``free`` unknowns ``(B, K, n)``."""
        free = self.keep if free is None else free
        theta = theta.clone()
        residual = self.x.clone()
        for (p, q), ks, w in self.colours:
            self._put(residual, -(theta[:, :, ks] @ self.design) * w, p, q)
        if not free[..., :-1].any():
            return self._sweep_offsets(theta, residual, sweeps)
        inverse = torch.linalg.inv(self._gram(2, free))  # (B, C, K, n, n), fixed rows give 0
        for _ in range(sweeps):
            for (p, q), ks, w in self.colours:
                # The exact block minimiser given the other colours: one Newton step on the
                # block's quadratic, whose gradient is Phi^T (w r).
                grad = (w * self._cut(residual, p, q)) @ self.design_t  # (B, C, K/4, n)
                delta = (inverse[:, :, ks] @ (grad * free[:, None, ks]).unsqueeze(-1)).squeeze(-1)
                theta[:, :, ks] += delta
                self._put(residual, -(delta @ self.design) * w, p, q)
        return theta

    def _sweep_offsets(self, theta, residual, sweeps):
        # Only the offsets move: a cell's frame changes by w_k * db_k, so the block
        # minimiser is db_k = <w_k, r> / <w_k, w_k>, with no design matrix involved.
        for _ in range(sweeps):
            for (p, q), ks, w in self.colours:
                delta = (w * self._cut(residual, p, q)).sum(-1) / (w * w).sum(-1)  # (B, C, K/4)
                theta[:, :, ks, -1] += delta
                self._put(residual, -delta[..., None] * w, p, q)
        return theta
