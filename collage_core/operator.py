"""The Collage operator (paper Definitions 1 and 2, global domain): one pure step.

Every cell of a ``grid x grid`` partition of the image is an affine mix of domains:
the whole image average-pooled to the cell size, its symmetric copies, and optional
auxiliary images ("style sources") pooled the same way::

    R_k <- sum_n a[c, k, n] * D_n + b[c, k]      per channel c

The map is a contraction in the max norm when ``sum_n |a[c, k, n]| <= s_max < 1``
over the self domains, because pooling and symmetries are non-expansive. Where the cells
are and how they meet (hard seams or blended frames) is the cell layout's business
(:mod:`~collage_core.layout`); ``grid`` below is a layout or, for the hard grid, its size.
"""

from __future__ import annotations

import torch

from .layout import Layout, as_layout
from .symmetry import symmetry_elements


def domain_count(symmetries: str, n_aux: int = 0) -> tuple[int, int]:
    """``(n_self, n_total)``: self domains first, then each auxiliary image's copies."""
    n_sym = len(symmetry_elements(symmetries))
    return n_sym, n_sym * (1 + n_aux)


def collage_domains(
    z: torch.Tensor,
    grid: int | Layout,
    symmetries: str,
    aux: torch.Tensor | None = None,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """The domain stack of one step producing an image of ``size``.

    Args:
        z: ``(B, C, H_z, W_z)``, the image at any side; it is area-pooled to the frame
            size (a no-op when it already is that size, as in multiscale decoding).
        grid: cells a side (the hard grid), or a cell layout (:mod:`~collage_core.layout`).
        aux: ``(B, C, A, h_a, w_a)`` auxiliary images at any size, or ``None``.
        size: output ``(H, W)``, divisible by ``grid``; defaults to ``z``'s size.
    Returns:
        ``(B, C, N, d, d)``, ``d`` the layout's frame side (``H // grid`` for the hard
        grid); the ``n_self`` self domains come first.
    """
    return as_layout(grid).domains(z, symmetries, aux, size)


def collage_step(
    z: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    grid: int | Layout,
    symmetries: str = "d4",
    aux: torch.Tensor | None = None,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Apply the Collage operator once.

    Args:
        z: ``(B, C, H_z, W_z)`` current image. Only its area average at the frame size
            is used, so passing the previous attractor level at that size is exact.
        a: ``(B, C, K, N)`` mixing weights, ``K = grid**2`` cells (row-major),
            ``N = n_sym * (1 + A)`` domains.
        b: ``(B, C, K)`` per-cell offsets.
        grid: cells a side (the hard grid), or a cell layout.
        aux: ``(B, C, A, h_a, w_a)`` auxiliary images, or ``None``.
        size: output ``(H, W)``, divisible by ``grid``; defaults to ``z``'s size.
    Returns:
        ``(B, C, H, W)``.
    """
    return as_layout(grid).step(z, a, b, symmetries, aux, size)


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
