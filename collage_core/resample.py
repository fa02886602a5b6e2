"""Exact area (box-filter) resampling between pixel grids.

A pixel of an attractor rendered at side S is the area average of the continuous
attractor over that pixel, so changing resolution by area weights keeps that meaning:
``area_resize(x, (S // f, S // f))`` equals ``avg_pool2d(x, f)``.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=64)
def _area_matrix(n_in: int, n_out: int) -> torch.Tensor:
    # Row i averages the input interval [i * n_in / n_out, (i + 1) * n_in / n_out).
    edges = torch.arange(n_out + 1, dtype=torch.float64) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = torch.arange(n_in, dtype=torch.float64)[None, :]
    overlap = (torch.minimum(hi, j + 1) - torch.maximum(lo, j)).clamp_min(0)
    return overlap / overlap.sum(dim=1, keepdim=True)


def area_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize by exact area weights (box filter), up or down.

    Args:
        x: ``(..., h, w)`` float tensor.
        size: ``(out_h, out_w)``.
    Returns:
        ``(..., out_h, out_w)``.
    """
    h, w = x.shape[-2:]
    out_h, out_w = size
    if (h, w) == (out_h, out_w):
        return x
    if h % out_h == 0 and w % out_w == 0 and h // out_h == w // out_w:
        lead = x.shape[:-2]
        y = F.avg_pool2d(x.reshape(-1, 1, h, w), h // out_h)
        return y.reshape(*lead, out_h, out_w)
    rows = _area_matrix(h, out_h).to(device=x.device, dtype=x.dtype)
    cols = _area_matrix(w, out_w).to(device=x.device, dtype=x.dtype)
    return rows @ x @ cols.T
