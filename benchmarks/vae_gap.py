"""How sure is the Collage VAE's gap to the baseline? The test -ELBO gap with its error bars.

    python benchmarks/vae_gap.py                        # the shipped beta = 1 pair, seeds 0-7
    python benchmarks/vae_gap.py --collage runs/c.safetensors --baseline runs/b.safetensors --seeds 0

The reported test -ELBO (``collage eval-vae``, seed 0) binarises the 10,000 test digits
once and draws one posterior sample per digit, so it is itself an estimate. Each seed
here scores both models on the same binarised digits; the per-digit differences give the
seed's gap and its paired standard error, and the spread over seeds shows how far seed 0
could sit from the expectation. Prints one line per seed, then the mean gap over the
seeds with its standard error (the per-digit differences of every seed pooled; the seeds
are independent draws). About 1.5 minutes per seed on one core (12 for the default eight). Results: ``docs/vae.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from collage_core import vae  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collage", default=None, help="checkpoint (default: the shipped Collage VAE)")
    parser.add_argument("--baseline", default=None, help="checkpoint (default: the shipped baseline)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = {"collage": args.collage, "baseline": args.baseline}
    models = {k: vae.load_pretrained(k, checkpoint=p) for k, p in paths.items()}
    images = vae.load_mnist("test", args.data_dir, download=False)
    rows, scores = [], {k: [] for k in models}
    for seed in args.seeds:
        each = {k: vae.evaluate(m, images, seed=seed, per_image=True)["neg_elbo_images"] for k, m in models.items()}
        for k, v in each.items():
            scores[k].append(v)
        d = each["collage"] - each["baseline"]
        row = {
            "seed": seed,
            "collage": round(each["collage"].mean().item(), 3),
            "baseline": round(each["baseline"].mean().item(), 3),
            "gap": round(d.mean().item(), 3),
            "gap_se": round(d.std().item() / math.sqrt(d.numel()), 3),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    pooled = {k: torch.cat(v) for k, v in scores.items()}
    diff = pooled["collage"] - pooled["baseline"]
    summary = {
        "seeds": args.seeds,
        "collage": round(pooled["collage"].mean().item(), 3),
        "baseline": round(pooled["baseline"].mean().item(), 3),
        "gap": round(diff.mean().item(), 3),
        "gap_se": round(diff.std().item() / math.sqrt(diff.numel()), 3),
        "gap_min": min(r["gap"] for r in rows),
        "gap_max": max(r["gap"] for r in rows),
    }
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"per_seed": rows, "mean": summary}, indent=1))


if __name__ == "__main__":
    main()
