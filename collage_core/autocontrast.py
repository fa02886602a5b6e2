"""Auto-contrast for deep zooms (DESIGN.md section 4): robust per-channel levels, smoothed in time.

The contrast of detail revealed ``l`` levels deep scales like ``s**l``, so a deep frame
is nearly flat. Each colour channel is stretched between robust percentiles of its
values (one shared range would leave a colour cast); alpha is left alone. In an
animation the levels are smoothed with a centred Gaussian over neighbouring frames so
the picture does not flicker, computed in one streaming pass with a short look-ahead.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator

import torch

LOW, HIGH = 0.005, 0.995  # percentiles: ignore the 0.5% extremes on either side
# A channel whose range is below this many units of its float resolution is flat: do
# not amplify rounding noise.
MIN_RANGE_ULPS = 64
MAX_SAMPLES = 1 << 15
MAX_SMOOTHING_FRAMES = 12  # look-ahead cap: frames held back while smoothing  # percentiles from a strided sample of at most this many pixels


def colour_channels(channels: int) -> int:
    """How many leading channels are colour (LA and RGBA end with alpha)."""
    return {2: 1, 4: 3}.get(channels, channels)


def levels(x: torch.Tensor, low: float = LOW, high: float = HIGH) -> torch.Tensor:
    """Robust black and white points of each channel.

    Args:
        x: ``(C, H, W)`` frame.
    Returns:
        ``(2, C)``: row 0 the ``low`` percentile, row 1 the ``high`` one.
    """
    C = x.shape[0]
    flat = x.reshape(C, -1)
    stride = max(1, flat.shape[1] // MAX_SAMPLES)
    sample = flat[:, ::stride]
    q = torch.tensor([low, high], device=x.device, dtype=sample.dtype)
    return torch.quantile(sample, q, dim=1)  # (2, C)


def apply_levels(x: torch.Tensor, lv: torch.Tensor) -> torch.Tensor:
    """Stretch colour channels of ``x`` ``(C, H, W)`` so ``lv`` ``(2, C)`` maps to 0 and 1; clamp."""
    n = colour_channels(x.shape[0])
    lo = lv[0, :n, None, None]
    span = _span(lv, x.dtype)[:n, None, None]
    out = x.clone()
    out[:n] = (x[:n] - lo.to(x.dtype)) / span.to(x.dtype)
    return out.clamp_(0.0, 1.0)


def _span(lv: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``hi - lo`` per channel of levels ``(2, C)``, floored where a ``dtype`` frame is flat."""
    floor = MIN_RANGE_ULPS * torch.finfo(dtype).eps * float(lv.abs().max().clamp_min(1e-3))
    return (lv[1] - lv[0]).clamp_min(floor)


def _stretch(x: torch.Tensor, lv: torch.Tensor) -> torch.Tensor:
    """Colour channels mapped by ``(x - lo) / span`` in ``x``'s precision, not clamped."""
    n = colour_channels(x.shape[0])
    out = x.clone()
    out[:n] = (x[:n] - lv[0, :n, None, None].to(x.dtype)) / _span(lv, x.dtype)[:n, None, None].to(x.dtype)
    return out


def autocontrast(x: torch.Tensor) -> torch.Tensor:
    """One frame, per-channel robust levels: ``(C, H, W)`` in, ``(C, H, W)`` in [0, 1] out."""
    return apply_levels(x, levels(x))


def gaussian_weights(sigma: float) -> torch.Tensor:
    """Normalised kernel of radius ``ceil(2 sigma)``; ``sigma <= 0`` gives ``[1]``."""
    if sigma <= 0:
        return torch.ones(1, dtype=torch.float64)
    radius = math.ceil(2 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def smooth_stream(
    frames: Iterable[tuple[torch.Tensor, torch.Tensor]],
    n: int,
    sigma: float,
    circular: bool = False,
    outside: Callable[[int], torch.Tensor] | None = None,
) -> Iterator[torch.Tensor]:
    """Auto-contrast a stream of frames with temporally smoothed levels, in one pass.

    Each item is ``(terms, weights)``: ``terms`` ``(T, C, H, W)`` raw renders that are
    normalised separately and then mixed with ``weights`` ``(T,)`` (a blended loop
    mixes two depths; ordinary frames have ``T = 1``). The levels of frame ``i`` are the
    Gaussian-weighted mean over frames ``i - r .. i + r``: frames are held back ``r``
    frames, so memory is bounded for any length.

    Args:
        n: number of frames in the stream.
        sigma: smoothing in frames.
        circular: frame ``n + j`` is frame ``j`` (a ping-pong): the end is smoothed with
            the start.
        outside: ``outside(j)`` gives the ``(T, 2, C)`` levels of a frame ``j`` outside
            ``0..n-1`` (before the start, or past the end when not ``circular``), for
            example a loop's continuation; without it the window is cut at the ends.
    Yields:
        ``(C, H, W)`` frames in [0, 1].
    """
    kernel = gaussian_weights(min(sigma, MAX_SMOOTHING_FRAMES / 2))
    radius = min((len(kernel) - 1) // 2, max(0, n - 1))
    kernel = kernel[(len(kernel) - 1) // 2 - radius : (len(kernel) - 1) // 2 + radius + 1]
    known: dict[int, torch.Tensor] = {}
    kinds: dict[int, list[torch.dtype]] = {}  # the precision each held frame was rendered in
    pending: deque[tuple[int, torch.Tensor, torch.Tensor]] = deque()

    def level_of(j: int) -> torch.Tensor | None:
        if 0 <= j < n:
            return known[j]
        if circular and j >= n:
            return known[j - n]
        if outside is None:
            return None
        if j not in known:
            known[j] = outside(j).to(torch.float64)
        return known[j]

    def emit() -> torch.Tensor:
        i, terms, weights = pending.popleft()
        total, acc = 0.0, None
        for d in range(-radius, radius + 1):
            lv = level_of(i + d)
            if lv is None:
                continue
            w = float(kernel[d + radius])
            acc = lv * w if acc is None else acc + lv * w
            total += w
        lv = acc / total  # (T, 2, C)
        own = known[i]
        dtypes = kinds.pop(i)
        out = None
        for t in range(terms.shape[0]):
            # The held frame was stretched by its own levels; re-map to the smoothed ones:
            # (x - lo) / (hi - lo) = y * own_span / span + (own_lo - lo) / span.
            span = _span(lv[t], dtypes[t])
            scale = (_span(own[t], dtypes[t]) / span).float()[:, None, None]
            shift = ((own[t][0] - lv[t][0]) / span).float()[:, None, None]
            y = terms[t].float()
            n_col = colour_channels(y.shape[0])
            y[:n_col] = y[:n_col] * scale[:n_col] + shift[:n_col]
            y = float(weights[t]) * y.clamp_(0.0, 1.0)
            out = y if out is None else out + y
        return out

    for i, (terms, weights) in enumerate(frames):
        lv = torch.stack([levels(t) for t in terms]).to(torch.float64)  # (T, 2, C)
        known[i] = lv
        # Held frames are kept stretched by their own levels, as float16: deep views are
        # float64 (the detail is below float32 resolution) and 2048^2 x 3 x 8 bytes held
        # for ~12 frames would be 1.2 GB; stretched, 16 bits resolve 1/4 of a grey level.
        held = torch.stack([_stretch(t, lv[k]).to(torch.float16) for k, t in enumerate(terms)])
        pending.append((i, held, weights))
        kinds[i] = [t.dtype for t in terms]
        while pending and pending[0][0] + radius <= i:
            yield emit()
    while pending:
        yield emit()
