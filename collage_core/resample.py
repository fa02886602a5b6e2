"""Exact area (box-filter) resampling between pixel grids: the one box resampler.

A pixel of an attractor rendered at side S is the area average of the continuous
attractor over that pixel, so changing resolution by area weights keeps that meaning:
``area_resize(x, (S // f, S // f))`` equals ``avg_pool2d(x, f)``.

Every area weight in the package comes from :func:`_overlap`: :func:`area_weights` for
a window of any start and step (the viewport's views, partly outside the image), and
:func:`area_resize` for whole images (a band of at most ``ceil(ratio) + 1`` taps per
output pixel: ``O(pixels * taps)`` on large sides, where a dense matrix would cost
``O(out * in^2)``; a dense matrix of the same weights on small ones).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import torch
import torch.nn.functional as F

# Up to this many (out x in) weights a dense matrix is cheaper than gathering rows tap by tap.
DENSE_LIMIT = 1 << 18


def _overlap(e0: torch.Tensor, e1: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Length of ``[e0, e1) ∩ [j, j + 1)``: how much of input pixel ``j`` an output pixel covers."""
    return (torch.minimum(e1, j + 1) - torch.maximum(e0, j)).clamp_min(0)


def area_weights(n_in: int, start: Fraction, step: Fraction, count: int, lo: int, hi: int) -> torch.Tensor:
    """Area weights ``(count, hi - lo)``: output ``i`` averages input ``[start + i*step, start + (i+1)*step)``.

    Positions are in input pixels (``n_in`` of them, each of width 1); input columns
    ``lo..hi`` are the ones held. Parts outside ``[0, n_in)`` weigh zero (black), so a
    pixel half off the image is half as bright. Big integers stay exact: only offsets
    relative to ``lo`` become floats.
    """
    base = float(start - lo)
    edges = base + torch.arange(count + 1, dtype=torch.float64) * float(step)
    j = torch.arange(hi - lo, dtype=torch.float64)[None, :]
    overlap = _overlap(edges[:-1, None], edges[1:, None], j)
    inside = (j >= -lo) & (j < n_in - lo)  # the image [0, n_in) in local coordinates
    return overlap * inside / float(step)


def area_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize by exact area weights (box filter), up or down, any ratio.

    Args:
        x: ``(..., h, w)`` float tensor.
        size: ``(out_h, out_w)``.
    Returns:
        ``(..., out_h, out_w)``, contiguous.
    """
    h, w = x.shape[-2:]
    out_h, out_w = size
    if (h, w) == (out_h, out_w):
        return x
    if h % out_h == 0 and w % out_w == 0 and h // out_h == w // out_w:
        lead = x.shape[:-2]
        y = F.avg_pool2d(x.reshape(-1, 1, h, w), h // out_h)
        return y.reshape(*lead, out_h, out_w)
    if h * out_h <= DENSE_LIMIT and w * out_w <= DENSE_LIMIT:
        rows, cols = (_dense(n, m).to(x.device, x.dtype) for n, m in ((h, out_h), (w, out_w)))
        return rows @ x @ cols.T
    x = _resize_rows(x, out_h)
    return _resize_rows(x.transpose(-1, -2).contiguous(), out_w).transpose(-1, -2).contiguous()


def _resize_rows(x: torch.Tensor, n_out: int) -> torch.Tensor:
    n_in = x.shape[-2]
    if n_in == n_out:
        return x
    if n_in * n_out <= DENSE_LIMIT:
        return _dense(n_in, n_out).to(x.device, x.dtype) @ x
    index, weight = _band(n_in, n_out)
    return _gather_rows(x, index.to(x.device), weight.to(x.device, x.dtype))


def _gather_rows(x: torch.Tensor, index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``sum_t weight[:, t] * x[..., index[:, t], :]``: ``(..., n, w)`` -> ``(..., count, w)``."""
    # Gathering whole rows (index_select on dim -2) copies contiguous memory: fast.
    out = x.index_select(-2, index[:, 0]) * weight[:, 0, None]
    for t in range(1, index.shape[1]):
        out += x.index_select(-2, index[:, t]) * weight[:, t, None]
    return out


@functools.lru_cache(maxsize=128)
def _band(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index, weight)``, each ``(n_out, taps)``: the input pixels under each output pixel."""
    r = n_in / n_out
    taps = math.ceil(r) + 1
    lo = torch.arange(n_out, dtype=torch.float64) * r
    j = lo.floor()[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    weight = _overlap(lo[:, None], lo[:, None] + r, j) / r
    return j.clamp(max=n_in - 1).long(), weight  # taps past the end weigh 0


@functools.lru_cache(maxsize=128)
def _dense(n_in: int, n_out: int) -> torch.Tensor:
    """The band as a ``(n_out, n_in)`` matrix: one matmul beats a loop of gathers on small sides."""
    index, weight = _band(n_in, n_out)
    return torch.zeros(n_out, n_in, dtype=torch.float64).scatter_add_(1, index, weight)


def banded_product(weights: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``weights @ x`` for area weights ``(count, n)`` whose rows are short runs (the taps
    of :func:`area_weights`), as a few row gathers: ``O(count * taps)`` a column instead of
    ``O(count * n)`` (a 1024^2 poster block: 6x less work than the dense product).

    Args:
        x: ``(..., n, w)``.
    """
    count, n = weights.shape
    nonzero = weights != 0
    first = nonzero.to(torch.uint8).argmax(1)  # (count,)
    last = n - 1 - nonzero.flip(1).to(torch.uint8).argmax(1)
    span = torch.where(nonzero.any(1), last - first, 0)  # rows all off the image: none
    taps = int(span.max()) + 1
    if taps > 8:  # a strong reduction: the dense product is as fast
        return weights @ x
    index = first[:, None] + torch.arange(taps, device=weights.device)  # (count, taps)
    valid = index < n
    index = index.clamp(max=n - 1)
    w = torch.where(valid, weights.gather(1, index), torch.zeros((), dtype=weights.dtype, device=weights.device))
    return _gather_rows(x, index, w)
