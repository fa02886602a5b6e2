"""The loop cell of a code: the cell whose map copies the whole image best.

The engine plants a seamless loop there (``fractalize(..., plant_loop=True)``); zoom
animations dive into it (:mod:`collage_core.zoom.loop`).
"""

from __future__ import annotations

import torch

# Tie-break towards interior cells: a border cell's loop point sits on the image edge.
INTERIOR_BONUS = 1e-3
# Without any identity copy (a sharp code may choose none), the strongest copy of any
# orientation is the best dive target: it shows the whole photo, turned.
ANY_COPY_WEIGHT = 1e-2


def loop_score(a: torch.Tensor) -> torch.Tensor:
    """How well each cell copies the whole image: ``(K,)``, higher is better.

    A cell's content is ``a_0 * image + sum_{n>0} a_n * D_n + b``. Zooming into it by
    ``grid`` loops when the identity term dominates (``a_0 / sum |a|`` near 1) and is
    strong (a large ``a_0`` keeps the copy's contrast; a flat cell has ``a = 0`` and must
    not win). The score is their product ``a_0^2 / sum_n |a_n|``, averaged over
    channels: a pure copy scores its ``a_0``.

    Args:
        a: ``(C, K, N)`` weights of one code; domain 0 is the identity copy.
    """
    total = a.abs().sum(-1).clamp_min(1e-12)
    own = a[..., 0].clamp_min(0)
    strongest = a.abs().amax(-1)
    return (own * own / total).mean(0) + ANY_COPY_WEIGHT * (strongest * strongest / total).mean(0)


def loop_cell(a: torch.Tensor, grid: int) -> int:
    """The cell whose map copies the whole image best (see :func:`loop_score`).

    Args:
        a: ``(C, K, N)`` weights of one code; domain 0 is the identity copy.
    Returns:
        the row-major cell index ``k``.
    """
    score = loop_score(a).double()
    if a.shape[1] != grid * grid:  # adaptive (quadtree) cells: leaves in preorder, no row-major interior
        return int(torch.argmax(score).item())
    i, j = torch.div(torch.arange(grid * grid), grid, rounding_mode="floor"), torch.arange(grid * grid) % grid
    interior = ((i > 0) & (i < grid - 1) & (j > 0) & (j < grid - 1)).double()
    return int(torch.argmax(score + INTERIOR_BONUS * interior).item())
