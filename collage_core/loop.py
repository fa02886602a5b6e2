"""Loop points: where zooming by exactly ``grid`` lands on a copy of the whole image."""

from __future__ import annotations

import torch


def loop_cell(a: torch.Tensor, grid: int) -> int:
    """The cell whose map copies the whole image best: the largest identity weight.

    Args:
        a: ``(C, K, N)`` weights of one code; domain 0 is the identity copy.
    Returns:
        the row-major cell index ``k``.
    """
    score = a[..., 0].mean(0)  # (K,), averaged over channels
    # Border cells' loop points sit on the image edge; prefer interior cells on ties.
    return int(torch.argmax(score).item())


def loop_center(cell: int, grid: int) -> tuple[float, float]:
    """Normalised ``(x, y)`` fixed point of ``p -> (p + (j, i)) / grid`` for cell ``(i, j)``.

    Zooming into it by exactly ``grid`` maps the view of the whole image onto the cell.
    """
    i, j = divmod(cell, grid)
    return (j / (grid - 1), i / (grid - 1))
