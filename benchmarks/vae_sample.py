"""Sampling speed of the Collage VAE at 40x, against bicubic upscaling of the baseline.

    python benchmarks/vae_sample.py [--runs 5] [--threads 2] [--figure docs/vae/side_by_side.png]

Prints the median wall time (and process CPU time) of ``sample(n=16, magnify=40)`` for
both shipped models, their ratio, the machine's load average (other processes inflate
wall times), and how far ``avg_pool(sample(40), 40)`` is from ``sample(1)``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from collage_core import vae  # noqa: E402


def timed(fn, runs: int) -> tuple[float, float, torch.Tensor]:
    """Median wall seconds, median process CPU seconds (all threads), last output."""
    out = fn()  # warm-up: allocator, cached base operators
    walls, cpus = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def side_by_side(
    collage: torch.Tensor,
    baseline: torch.Tensor,
    small_c: torch.Tensor,
    small_b: torch.Tensor,
    path: Path,
    crop: int = 280,
) -> None:
    """Rows: Collage VAE, baseline + bicubic. Columns per digit: 1x, 40x whole (area-shrunk), 40x crop."""
    from PIL import Image, ImageDraw

    n, side = collage.shape[0], collage.shape[-1]
    tile, pad, label_w = crop, 8, 150
    W = label_w + n * (3 * tile + 2 * pad) + (n - 1) * 3 * pad
    H = 30 + 2 * tile + pad
    canvas = Image.new("L", (W, H), 255)
    draw = ImageDraw.Draw(canvas)
    for j, title in enumerate(("1x", "40x (whole)", "40x (native crop)")):
        for i in range(n):
            x0 = label_w + i * (3 * tile + 5 * pad) + j * (tile + pad)
            draw.text((x0 + 4, 8), title, fill=0)
    names = ("Collage VAE", "baseline +\nbicubic")
    for r, (big, small) in enumerate(((collage, small_c), (baseline, small_b))):
        y0 = 30 + r * (tile + pad)
        draw.text((6, y0 + tile // 2 - 10), names[r], fill=0)
        for i in range(n):
            x0 = label_w + i * (3 * tile + 5 * pad)
            views = [
                F.interpolate(small[i : i + 1], size=(tile, tile), mode="nearest")[0, 0],
                F.adaptive_avg_pool2d(big[i : i + 1], tile)[0, 0],
                big[i, 0, side // 2 - crop // 2 : side // 2 + crop // 2, side // 2 - crop // 2 : side // 2 + crop // 2],
            ]
            for j, v in enumerate(views):
                img = Image.fromarray((255 * (1 - v.clamp(0, 1))).round().byte().numpy(), mode="L")
                canvas.paste(img, (x0 + j * (tile + pad), y0))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--magnify", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--figure", type=Path, default=None, help="write the side-by-side PNG here")
    p.add_argument("--figure-digits", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    collage, baseline = vae.load_pretrained("collage"), vae.load_pretrained("baseline")
    kw = dict(n=args.n, magnify=args.magnify, seed=args.seed)
    t_c, cpu_c, big_c = timed(lambda: collage.sample(**kw), args.runs)
    t_b, cpu_b, big_b = timed(lambda: baseline.sample(**kw), args.runs)
    small_c = collage.sample(n=args.n, magnify=1, seed=args.seed)
    small_b = baseline.sample(n=args.n, magnify=1, seed=args.seed)
    gap = (F.avg_pool2d(big_c, args.magnify) - small_c).abs()
    result = {
        "n": args.n,
        "magnify": args.magnify,
        "threads": args.threads,
        "runs": args.runs,
        "collage_median_s": round(t_c, 3),
        "baseline_bicubic_median_s": round(t_b, 3),
        "ratio_collage_over_bicubic": round(t_c / t_b, 2),
        "collage_cpu_s": round(cpu_c, 3),
        "baseline_bicubic_cpu_s": round(cpu_b, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "pool_consistency_mean_abs": float(f"{gap.mean().item():.2e}"),
        "pool_consistency_max_abs": float(f"{gap.max().item():.2e}"),
    }
    print(json.dumps(result))
    if args.figure:
        k = args.figure_digits
        side_by_side(big_c[:k], big_b[:k], small_c[:k], small_b[:k], args.figure)
        print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
