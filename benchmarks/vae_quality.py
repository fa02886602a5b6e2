"""Seams and magnification consistency of VAE samples, on any checkpoint (issue 13).

    python benchmarks/vae_quality.py                       # shipped Collage and baseline weights
    python benchmarks/vae_quality.py --checkpoint runs/collage_beta1.safetensors

Two numbers per model, on ``--n`` samples drawn with ``--seed``:

* **blockiness** at 40x: the mean |gradient| across the collage's cell boundaries over
  the mean |gradient| elsewhere, per sample, then the median (and range) over samples.
  The 4x4 grid of 7-px cells puts boundaries every 280 px at 40x, and the next level's
  cells every 70 px; ``period=70`` counts both. A seamless picture is near 1.
* **pool consistency**: ``|avg_pool(sample(40), 40) - sample(1)|`` in probability, mean
  and 99th percentile over all pixels; for the logits too (``sample_logits``), which the
  linear head makes exact.

Prints one JSON line per model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from collage_core import vae  # noqa: E402


def blockiness(images: torch.Tensor, period: int) -> torch.Tensor:
    """Per image: mean |neighbour difference| across lines every ``period`` px / mean elsewhere.

    Args:
        images: ``(B, 1, H, W)``.
    Returns:
        ``(B,)``; ``nan`` for an image with no variation off the boundaries.
    """
    x = images[:, 0].double()
    dx = (x[:, :, 1:] - x[:, :, :-1]).abs()  # (B, H, W-1); column j is the step from j to j+1
    dy = (x[:, 1:, :] - x[:, :-1, :]).abs()  # (B, H-1, W)
    on_x = (torch.arange(1, x.shape[2]) % period) == 0  # step into column j+1 crosses a boundary
    on_y = (torch.arange(1, x.shape[1]) % period) == 0
    across = torch.cat([dx[:, :, on_x].flatten(1), dy[:, on_y, :].flatten(1)], dim=1).mean(1)
    other = torch.cat([dx[:, :, ~on_x].flatten(1), dy[:, ~on_y, :].flatten(1)], dim=1).mean(1)
    return torch.where(other > 0, across / other.clamp_min(1e-300), torch.full_like(other, float("nan"))).float()


def pool_gap(big: torch.Tensor, small: torch.Tensor, magnify: int) -> dict[str, float]:
    """Mean, 99th percentile and max of ``|avg_pool(big, m) - small|``."""
    gap = (F.avg_pool2d(big, magnify) - small).abs().flatten().double()
    return {"mean": gap.mean().item(), "p99": torch.quantile(gap, 0.99).item(), "max": gap.max().item()}


def measure(model: vae.HierarchicalVAE, n: int, magnify: int, seed: int) -> dict:
    """Blockiness of ``sample(magnify)`` and its pool consistency against ``sample(1)``."""
    cfg = model.config
    big = model.sample(n=n, magnify=magnify, seed=seed)
    small = model.sample(n=n, magnify=1, seed=seed)
    cell = magnify * cfg.image_side // cfg.grid  # 280 px at 40x
    sub = cell // cfg.grid if cell % cfg.grid == 0 else None  # 70 px: the next level's cells
    result = {"likelihood": cfg.likelihood, "head": cfg.head if cfg.likelihood == "collage" else None, "n": n}
    result["magnify"], result["seed"] = magnify, seed
    for name, period in (("blockiness", sub or cell), ("blockiness_cells_only", cell)):
        b = blockiness(big, period)
        b = b[torch.isfinite(b)]
        result[name] = {"median": b.median().item(), "min": b.min().item(), "max": b.max().item(), "period_px": period}
    result["pool_probability"] = pool_gap(big, small, magnify)
    del big
    result["pool_logits"] = pool_gap(
        model.sample_logits(n=n, magnify=magnify, seed=seed), model.sample_logits(n=n, magnify=1, seed=seed), magnify
    )
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", action="append", default=None, help="checkpoint(s); default: shipped weights")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--magnify", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.checkpoint:
        models = {path: vae.load_pretrained(checkpoint=path) for path in args.checkpoint}
    else:
        models = {f"shipped:{w}": vae.load_pretrained(w) for w in ("collage", "baseline")}
    for name, model in models.items():
        res = measure(model, args.n, args.magnify, args.seed)
        print(json.dumps({"model": name, **res}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
