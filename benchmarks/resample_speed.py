"""The one box resampler against the dense matrix it replaced, side by side in one run.

``collage_core.resample.area_resize`` uses a dense ``(out, in)`` weight matrix on small
sides and a band of ``ceil(in / out) + 1`` taps on large ones (the viewport's old
resampler). The baseline here is the previous ``area_resize``: a dense matrix on every
side. Prints, per shape, median wall and CPU time of each and their ratio, with the load
average (the machine is shared, so the ratios matter, not the absolute times)::

    python benchmarks/resample_speed.py [--runs 15]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

import torch
import torch.nn.functional as F

from collage_core.resample import area_resize

CASES = [
    ((1, 3, 64, 64), (100, 100)),  # upsampling a small level
    ((1, 3, 256, 256), (96, 96)),
    ((1, 3, 512, 512), (300, 300)),
    ((1, 3, 1024, 1024), (33, 33)),
    ((1, 3, 2048, 2048), (1500, 1500)),  # past the dense limit: the band
    ((1, 3, 4096, 4096), (1000, 1000)),
]


def dense_area_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The previous implementation: dense area matrices on every side (normalised rows, cached)."""
    return _dense_apply(x, size)


@functools.lru_cache(maxsize=64)
def _matrix(n_in: int, n_out: int) -> torch.Tensor:
    edges = torch.arange(n_out + 1, dtype=torch.float64) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = torch.arange(n_in, dtype=torch.float64)[None, :]
    overlap = (torch.minimum(hi, j + 1) - torch.maximum(lo, j)).clamp_min(0)
    return overlap / overlap.sum(dim=1, keepdim=True)


def _dense_apply(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    h, w = x.shape[-2:]
    if h % size[0] == 0 and w % size[1] == 0 and h // size[0] == w // size[1]:
        return F.avg_pool2d(x.reshape(-1, 1, h, w), h // size[0]).reshape(*x.shape[:-2], *size)
    return _matrix(h, size[0]).to(x.dtype) @ x @ _matrix(w, size[1]).to(x.dtype).T


def measure(fn, x, size, runs: int) -> tuple[float, float]:
    fn(x, size)  # warm the weight caches
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn(x, size)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.1f}; 1 torch thread; medians of {args.runs}")
    print(f"{'input':>22} {'output':>12} {'dense ms (cpu)':>18} {'one resampler ms (cpu)':>24} {'cpu ratio':>9}")
    for shape, size in CASES:
        x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
        err = (area_resize(x, size) - dense_area_resize(x, size)).abs().max().item()
        (dw, dc), (nw, nc) = measure(dense_area_resize, x, size, args.runs), measure(area_resize, x, size, args.runs)
        print(
            f"{str(shape):>22} {str(size):>12} {dw * 1e3:8.2f} ({dc * 1e3:7.2f}) {nw * 1e3:12.2f} ({nc * 1e3:8.2f})"
            f" {dc / nc:9.2f}   max |diff| {err:.1e}"
        )


if __name__ == "__main__":
    main()
