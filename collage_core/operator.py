"""The Collage operator (paper Definitions 1 and 2, global domain): one pure step.

Every cell of a ``grid x grid`` partition of the image is an affine mix of domains:
the whole image average-pooled to the cell size, its symmetric copies, and optional
auxiliary images ("style sources") pooled the same way::

    R_k <- sum_n a[c, k, n] * D_n + b[c, k]      per channel c

The map is a contraction in the max norm when ``sum_n |a[c, k, n]| <= s_max < 1``
over the self domains, because pooling and symmetries are non-expansive.
"""

from __future__ import annotations

import torch
from einops import rearrange

from .resample import area_resize
from .symmetry import apply_symmetries, symmetry_elements


def domain_count(symmetries: str, n_aux: int = 0) -> tuple[int, int]:
    """``(n_self, n_total)``: self domains first, then each auxiliary image's copies."""
    n_sym = len(symmetry_elements(symmetries))
    return n_sym, n_sym * (1 + n_aux)


def collage_domains(
    z: torch.Tensor,
    grid: int,
    symmetries: str,
    aux: torch.Tensor | None = None,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """The domain stack of one step producing an image of ``size``.

    Args:
        z: ``(B, C, H_z, W_z)``, the image at any side; it is area-pooled to cell size
            (a no-op when it already is the cell size, as in multiscale decoding).
        aux: ``(B, C, A, h_a, w_a)`` auxiliary images at any size, or ``None``.
        size: output ``(H, W)``, divisible by ``grid``; defaults to ``z``'s size.
    Returns:
        ``(B, C, N, H // grid, W // grid)``; the ``n_self`` self domains come first.
    """
    H, W = size or z.shape[-2:]
    if H % grid or W % grid:
        raise ValueError(f"image {H}x{W} is not divisible by the grid {grid}")
    cell = (H // grid, W // grid)
    pooled = area_resize(z, cell)  # (B, C, h, w): the whole image at cell size
    domains = apply_symmetries(pooled, symmetries)  # (B, C, n, h, w)
    if aux is not None and aux.shape[2] > 0:
        extra = apply_symmetries(area_resize(aux, cell), symmetries)  # (B, C, A, n, h, w)
        domains = torch.cat([domains, rearrange(extra, "b c a n h w -> b c (a n) h w")], dim=2)
    return domains


def collage_step(
    z: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    grid: int,
    symmetries: str = "d4",
    aux: torch.Tensor | None = None,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Apply the Collage operator once.

    Args:
        z: ``(B, C, H_z, W_z)`` current image. Only its average over each cell-sized
            block is used, so passing the previous attractor level at cell size is exact.
        a: ``(B, C, K, N)`` mixing weights, ``K = grid**2`` cells (row-major),
            ``N = n_sym * (1 + A)`` domains.
        b: ``(B, C, K)`` per-cell offsets.
        aux: ``(B, C, A, h_a, w_a)`` auxiliary images, or ``None``.
        size: output ``(H, W)``, divisible by ``grid``; defaults to ``z``'s size.
    Returns:
        ``(B, C, H, W)``.
    """
    domains = collage_domains(z, grid, symmetries, aux, size)
    B, C, N, h, w = domains.shape
    if a.shape != (B, C, grid * grid, N) or b.shape != (B, C, grid * grid):
        raise ValueError(
            f"coefficients a{tuple(a.shape)}, b{tuple(b.shape)} do not fit B={B}, C={C}, K={grid * grid}, N={N}"
        )
    # The offset rides along as a constant domain. Batching the matmul over (gy, h) and
    # multiplying (gx, n) by (n, w) writes rows straight into image layout, so the
    # result is (B, C, H, W) as a view, with no copy the size of the output.
    weights = torch.cat([a, b[..., None]], dim=-1)  # (B, C, K, N+1)
    stack = torch.cat([domains, torch.ones_like(domains[:, :, :1])], dim=2)  # (B, C, N+1, h, w)
    rows = torch.matmul(
        rearrange(weights, "b c (gy gx) n -> b c gy 1 gx n", gy=grid),
        rearrange(stack, "b c n h w -> b c 1 h n w"),
    )  # (B, C, gy, h, gx, w)
    return rearrange(rows, "b c gy h gx w -> b c (gy h) (gx w)")


def contract(a: torch.Tensor, n_self: int, s_max: float, strength: float = 0.0) -> torch.Tensor:
    """Project weights so every cell's self-domain L1 norm lies in ``[strength, s_max]``.

    Rescaling (rather than clipping each weight) keeps the cell's mix of domains and is
    differentiable, so fitting and training can call it on raw parameters.

    Args:
        a: ``(..., N)``; the first ``n_self`` entries act on the image itself.
        strength: the floor, ``0 <= strength <= s_max``: cells are made at least this
            self-similar, so fractal detail stays visible.
    """
    if not 0.0 < s_max < 1.0:
        raise ValueError(f"s_max must lie in (0, 1), got {s_max}")
    if not 0.0 <= strength <= s_max:
        raise ValueError(f"strength must lie in [0, s_max={s_max}], got {strength}")
    own, rest = a[..., :n_self], a[..., n_self:]
    norm = own.abs().sum(dim=-1, keepdim=True)
    target = norm.clamp(min=strength, max=s_max)
    if strength > 0:
        # A cell with no self weight gets its floor on the identity copy.
        identity = torch.zeros_like(own)
        identity[..., 0] = 1.0
        own = torch.where(norm > 1e-12, own, identity)
        norm = own.abs().sum(dim=-1, keepdim=True)
    scale = target / norm.clamp_min(1e-12)
    return torch.cat([own * scale, rest], dim=-1)
