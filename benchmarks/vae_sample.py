"""Sampling speed of the Collage VAE at 40x: blended cells, the hard grid, and bicubic upscaling.

    python benchmarks/vae_sample.py [--runs 5] [--threads 2] [--checkpoint runs/x.safetensors]
        [--reference-runs 1] [--grids /tmp/vae40] [--figure docs/vae/side_by_side.png]

Times ``sample(n=16, magnify=40)`` side by side in one run (median wall and process CPU
seconds, all threads) for: the shipped Collage VAE (blended cells, linear head; or
``--checkpoint``), the first shipped design (hard grid, MLP head: the ``v1`` recipe, a
seeded fresh model, since speed does not depend on the weights) and the shipped baseline
with bicubic upscaling; then the blended
model through the training-time decode (``decode_exact`` + head, sample by sample), which
the inference kernel replaces, and the largest difference between the two. Prints ratios
and the load average before and after (other processes inflate wall times: compare CPU
time, and ratios measured in the same run). ``--grids DIR`` writes both blended 40x grids.

On a shared machine set ``OMP_WAIT_POLICY=PASSIVE``: with other jobs on the 2 cores,
OpenMP threads that spin at every barrier made each of these samplers 4-6x slower with
``--threads 2`` than with 1 (the blended one 15.9 s against 3.5 s passive, 30 Nov).
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


def reference_render(model, n: int, magnify: int, seed: int) -> torch.Tensor:
    """The blended model's samples through the training-time decode (``BlendedLayout.assemble``)."""
    from collage_core.decode import decode_exact

    like = model.likelihood
    with torch.no_grad():
        h = model.decoder.sample(n, 1.0, torch.Generator().manual_seed(seed))
        a, b = like.collage_params(h)
        side = like.image_side * magnify
        return torch.cat(
            [
                like.head.probabilities(decode_exact(a[i : i + 1], b[i : i + 1], like.layout, like.symmetries, side))
                for i in range(n)
            ]
        )


def blended_model(checkpoint: Path | None):
    if checkpoint is not None:
        model, _, _ = vae.load_checkpoint(checkpoint)  # reads the file only
        return model
    return vae.load_pretrained("collage")


def hard_model():
    """The first shipped design (``v1``: hard grid, MLP head), seeded fresh weights."""
    torch.manual_seed(0)
    return vae.build_vae(vae.VAEConfig(**vae.RECIPES["v1"][0])).eval()


def write_grid(samples: torch.Tensor, path: Path) -> None:
    """Samples as black digits on white, on the studio's contact sheet."""
    from PIL import ImageOps

    from app.callbacks import contact_sheet, gray_image

    path.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet([ImageOps.invert(gray_image(t)) for t in samples]).save(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--magnify", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoint", type=Path, default=None, help="blended model to time (default: the shipped weights)")
    p.add_argument("--reference-runs", type=int, default=1, help="runs of the training-time decode (0: skip)")
    p.add_argument("--grids", type=Path, default=None, help="write the blended 40x grids (kernel, reference) here")
    p.add_argument("--figure", type=Path, default=None, help="write the shipped models' side-by-side PNG here")
    p.add_argument("--figure-digits", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    blend = blended_model(args.checkpoint)
    if blend.config.layout != "blend":
        raise SystemExit(f"{args.checkpoint} is not a blended-cell model (layout {blend.config.layout!r})")
    collage, baseline = hard_model(), vae.load_pretrained("baseline")
    kw = dict(n=args.n, magnify=args.magnify, seed=args.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    blend.sample(**kw)
    cold = (time.perf_counter() - t0, time.process_time() - c0)
    t_x, cpu_x, big_x = timed(lambda: blend.sample(**kw), args.runs)
    print(f"blended: {t_x:.3f} s, {cpu_x:.3f} CPU-s (first call {cold[0]:.3f} s)", flush=True)
    t_c, cpu_c, big_c = timed(lambda: collage.sample(**kw), args.runs)
    print(f"hard grid (v1): {t_c:.3f} s, {cpu_c:.3f} CPU-s", flush=True)
    t_b, cpu_b, big_b = timed(lambda: baseline.sample(**kw), args.runs)
    print(f"bicubic: {t_b:.3f} s, {cpu_b:.3f} CPU-s", flush=True)
    small_x = blend.sample(n=args.n, magnify=1, seed=args.seed)
    small_c = collage.sample(n=args.n, magnify=1, seed=args.seed)
    small_b = baseline.sample(n=args.n, magnify=1, seed=args.seed)
    gap_x = (F.avg_pool2d(big_x, args.magnify) - small_x).abs()
    gap_c = (F.avg_pool2d(big_c, args.magnify) - small_c).abs()
    result = {
        "n": args.n,
        "magnify": args.magnify,
        "threads": args.threads,
        "runs": args.runs,
        "blended": str(args.checkpoint or "shipped"),
        "blended_median_s": round(t_x, 3),
        "blended_cpu_s": round(cpu_x, 3),
        "blended_first_call_s": round(cold[0], 3),
        "hard_v1_median_s": round(t_c, 3),
        "hard_v1_cpu_s": round(cpu_c, 3),
        "baseline_bicubic_median_s": round(t_b, 3),
        "baseline_bicubic_cpu_s": round(cpu_b, 3),
        "ratio_blended_over_hard": round(t_x / t_c, 2),
        "ratio_blended_over_bicubic": round(t_x / t_b, 2),
        "ratio_hard_over_bicubic": round(t_c / t_b, 2),
        "cpu_ratio_blended_over_hard": round(cpu_x / cpu_c, 2),
        "blended_pool_gap_mean_abs": float(f"{gap_x.mean().item():.2e}"),
        "hard_pool_gap_mean_abs": float(f"{gap_c.mean().item():.2e}"),
    }
    if args.reference_runs > 0:
        t_r, cpu_r, ref = timed(lambda: reference_render(blend, args.n, args.magnify, args.seed), args.reference_runs)
        result |= {
            "blended_training_path_median_s": round(t_r, 3),
            "blended_training_path_cpu_s": round(cpu_r, 3),
            "speedup_kernel_over_training_path": round(t_r / t_x, 2),
            "cpu_speedup_kernel_over_training_path": round(cpu_r / cpu_x, 2),
            "kernel_vs_training_path_max_abs": float(f"{(ref - big_x).abs().max().item():.2e}"),
        }
        if args.grids:
            write_grid(ref, args.grids / "blended_training_path.png")
    if args.grids:
        write_grid(big_x, args.grids / "blended_kernel.png")
    result |= {
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "load_average_1min_before": round(load_before[0], 2),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    print(
        f"{args.n} x {args.magnify}x: blended {t_x:.2f} s ({cpu_x:.2f} CPU-s), hard v1 {t_c:.2f} s ({cpu_c:.2f}), "
        f"bicubic {t_b:.2f} s ({cpu_b:.2f}); blended / hard {t_x / t_c:.2f}, blended / bicubic {t_x / t_b:.2f}; "
        f"load {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    if args.figure:
        k = args.figure_digits
        side_by_side(big_x[:k], big_b[:k], small_x[:k], small_b[:k], args.figure)
        print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
