"""Issue 9's adaptive-cell targets: fidelity at the same cells, consistency, speed, memory.

Run from the repository root (needs scikit-image for the held-out photos)::

    python benchmarks/adaptive.py            # five held-out photos
    python benchmarks/adaptive.py --quick    # two photos, no memory subprocess

Side by side in the same run, on the five held-out 512x512 photos (``heldout.py``):

* **hard**: the hard grid 32 (1024 cells), ``blend=False``;
* **adaptive**: ``adaptive=True, grid=8, max_cells=1024``: a quadtree grown from the
  8x8 root grid (64 px cells) down to 4 px cells, at most 1024 leaves (so the same cell
  budget as the grid 32, which is why it starts from a coarser root).

Both with the default settings otherwise (one sharp copy per cell, strength 0.2), and
again with the soft fit (``copies="soft", strength=0``). Printed per photo and as medians:

* **fidelity**: 1x PSNR against the photo; code size in bytes (target: adaptive at most
  1.1x the hard grid's; median PSNR gain at least +1.5 dB);
* **consistency**: mean |pool(render(4), 4) - render(1)| in grey levels (target <= 1);
* **speed**: fit + render(1), and a 512x512 view at 1e12 (target <= 1 s and <= 3x the hard
  grid's), wall time and process CPU time, with the load average;
* **memory**: peak extra RSS of one 512x512 view at 1e12 in a fresh process (<= 1 GB).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core_common import cpu_timed, psnr, setup, view_peak_memory  # noqa: E402
from heldout import heldout_photos  # noqa: E402

import collage_core as cc  # noqa: E402
from collage_core.image_io import to_tensor  # noqa: E402
from collage_core.viewport import ViewRenderer  # noqa: E402

SIDE = 512
LOOKS = {
    "hard": {"grid": 32, "blend": False},
    "adaptive": {"grid": 8, "adaptive": True, "max_cells": 1024},
}
FITS = {"sharp": {}, "soft": {"copies": "soft", "strength": 0.0}}
VIEWS = [((0.4137, 0.3561), 1e12), ((0.7071, 0.6180), 1e12)]


def view_time(code) -> tuple[float, float]:
    """Median ``(wall, CPU)`` seconds of a 512x512 view at 1e12 (after one warm-up view)."""
    renderer = ViewRenderer(code, "cpu")
    renderer.render((0.5, 0.5), 1.0, (SIDE, SIDE))
    times = [cpu_timed(renderer.render, c, z, (SIDE, SIDE))[:2] for c, z in VIEWS for _ in range(2)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two photos, no memory subprocess")
    args = parser.parse_args()
    setup()
    photos = heldout_photos(SIDE)
    if args.quick:
        photos = dict(list(photos.items())[:2])
    rows = []
    for name, img in photos.items():
        x = to_tensor(img)
        row = {"photo": name}
        for fit, fit_kw in FITS.items():
            for look, kw in LOOKS.items():
                wall, cpu, code = cpu_timed(cc.fractalize, img, **kw, **fit_kw)
                w1, c1, one = cpu_timed(code.render_tensor, 1)
                key = f"{fit} {look}"
                row[f"{key} psnr"] = psnr(one, x)
                row[f"{key} bytes"] = code.nbytes
                row[f"{key} cells"] = code.layout.cells
                row[f"{key} fit ms"] = (1000 * (wall + w1), 1000 * (cpu + c1))
                if fit == "sharp":
                    pooled = torch.nn.functional.avg_pool2d(code.render_tensor(4)[None], 4)[0]
                    row[f"{look} pool"] = 255 * (pooled - one).abs().mean().item()
                    row[f"{look} view"] = view_time(code)
                    if not args.quick and name == next(iter(photos)):
                        row[f"{look} view MB"] = view_peak_memory(code) / 2**20
        rows.append(row)
        print(
            f"{name:11s} load {os.getloadavg()[0]:.1f} | PSNR sharp: hard {row['sharp hard psnr']:.2f}, adaptive "
            f"{row['sharp adaptive psnr']:.2f} ({row['sharp adaptive psnr'] - row['sharp hard psnr']:+.2f}) | soft: "
            f"hard {row['soft hard psnr']:.2f}, adaptive {row['soft adaptive psnr']:.2f} "
            f"({row['soft adaptive psnr'] - row['soft hard psnr']:+.2f}) dB | bytes {row['sharp adaptive bytes']} / "
            f"{row['sharp hard bytes']} | pool(4x) vs 1x: hard {row['hard pool']:.4f}, adaptive "
            f"{row['adaptive pool']:.4f} grey | fit+render(1) wall/CPU ms: hard {row['sharp hard fit ms'][0]:.0f}/"
            f"{row['sharp hard fit ms'][1]:.0f}, adaptive {row['sharp adaptive fit ms'][0]:.0f}/"
            f"{row['sharp adaptive fit ms'][1]:.0f} | view 1e12 wall/CPU s: hard {row['hard view'][0]:.2f}/"
            f"{row['hard view'][1]:.2f}, adaptive {row['adaptive view'][0]:.2f}/{row['adaptive view'][1]:.2f}",
            flush=True,
        )
    print()
    for fit in FITS:
        gain = [r[f"{fit} adaptive psnr"] - r[f"{fit} hard psnr"] for r in rows]
        size = [r[f"{fit} adaptive bytes"] / r[f"{fit} hard bytes"] for r in rows]
        print(
            f"{fit} fit: PSNR adaptive - hard, median {statistics.median(gain):+.2f} dB (target >= +1.5), "
            f"min {min(gain):+.2f}, max {max(gain):+.2f}; code size ratio max {max(size):.3f} (target <= 1.1)"
        )
    print(f"pool(render(4), 4) vs render(1), adaptive: max {max(r['adaptive pool'] for r in rows):.4f} grey (<= 1)")
    for look in LOOKS:
        ms = [r[f"sharp {look} fit ms"] for r in rows]
        print(
            f"fit + render(1), {look}: median {statistics.median(m[0] for m in ms):.0f} ms wall, "
            f"{statistics.median(m[1] for m in ms):.0f} ms CPU"
        )
    ratio = [r["adaptive view"][0] / r["hard view"][0] for r in rows]
    cpu_ratio = [r["adaptive view"][1] / r["hard view"][1] for r in rows]
    print(
        f"view 512^2 at 1e12: adaptive median {statistics.median(r['adaptive view'][0] for r in rows):.2f} s wall "
        f"(target <= 1), hard {statistics.median(r['hard view'][0] for r in rows):.2f} s; adaptive / hard "
        f"{statistics.median(ratio):.2f}x wall, {statistics.median(cpu_ratio):.2f}x CPU (target <= 3)"
    )
    if "adaptive view MB" in rows[0]:
        print(
            f"view memory at 1e12: adaptive {rows[0]['adaptive view MB']:.0f} MB, hard {rows[0]['hard view MB']:.0f} MB"
            " (target <= 1024)"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} ({time.strftime('%H:%M UTC', time.gmtime())})")


if __name__ == "__main__":
    main()
