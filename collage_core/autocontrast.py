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
MAX_SAMPLES = 1 << 15  # percentiles from a strided sample of at most this many pixels


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
    floor = MIN_RANGE_ULPS * torch.finfo(x.dtype).eps * float(lv.abs().max().clamp_min(1e-3))
    span = (lv[1, :n] - lv[0, :n]).clamp_min(floor)[:, None, None]
    out = x.clone()
    out[:n] = (x[:n] - lo.to(x.dtype)) / span.to(x.dtype)
    return out.clamp_(0.0, 1.0)


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
    tail_levels: Callable[[int], torch.Tensor] | None = None,
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
        circular: the animation loops, so frame ``n - 1`` neighbours frame 0;
            ``tail_levels(j)`` then gives the ``(T, 2, C)`` levels of frame ``j`` for the
            last ``r`` frames, needed before they are rendered.
    Yields:
        ``(C, H, W)`` frames in [0, 1].
    """
    kernel = gaussian_weights(sigma)
    radius = (len(kernel) - 1) // 2
    known: dict[int, torch.Tensor] = {}
    if circular and radius and tail_levels is not None:
        for j in range(max(0, n - radius), n):
            known[j - n] = tail_levels(j)
    pending: deque[tuple[int, torch.Tensor, torch.Tensor]] = deque()

    def emit(i: int) -> torch.Tensor:
        _, terms, weights = pending.popleft()
        total, acc = 0.0, None
        for d in range(-radius, radius + 1):
            j = i + d
            if circular:
                j = j if 0 <= j < n else (j - n if j >= n else j)
                if j < 0 and j not in known:
                    continue
            if j not in known:
                continue
            w = float(kernel[d + radius])
            acc = known[j] * w if acc is None else acc + known[j] * w
            total += w
        lv = acc / total  # (T, 2, C)
        out = sum(float(weights[t]) * apply_levels(terms[t], lv[t]) for t in range(terms.shape[0]))
        return out

    for i, (terms, weights) in enumerate(frames):
        known[i] = torch.stack([levels(t) for t in terms]).to(torch.float64)
        pending.append((i, terms, weights))
        while pending and pending[0][0] + radius <= i:
            yield emit(pending[0][0])
    while pending:
        yield emit(pending[0][0])
