"""Issue 9's adaptive-cell targets: fidelity at the same cells, seams, consistency, speed, memory.

Run from the repository root (needs scikit-image for the held-out photos)::

    python benchmarks/adaptive.py            # five held-out photos
    python benchmarks/adaptive.py --quick    # two photos, no memory subprocess
    python benchmarks/adaptive.py --soft     # also the soft fit (all 8 copies mixed)

Side by side in the same run, on the five held-out 512x512 photos (``heldout.py``):

* **hard**: the hard grid 32 (1024 cells), ``blend=False``: the baseline;
* **adaptive**: ``adaptive=True, grid=8, max_cells=1024``, the default: a quadtree grown
  from the 8x8 root grid (64 px cells) down to 4 px cells, at most 1024 leaves (the grid
  32's cell budget), its leaves blended (``collage_core/quadtree_blend.py``);
* **adaptive hard**: the same tree with hard leaves, ``blend=False``.

With the default settings otherwise (one sharp copy per cell, strength 0.2). Printed per
photo and as medians:

* **fidelity**: 1x PSNR against the photo; code size in bytes (target: adaptive at most
  1.1x the hard grid's; median PSNR gain at least +1.5 dB);
* **seams**: 1x blockiness, the mean |luma step| across the code's own cell boundaries
  over the mean elsewhere, divided by the photo's at the same positions (1 = no seams);
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
from collage_core.layout import BlendedLayout, GridLayout  # noqa: E402
from collage_core.viewport import ViewRenderer  # noqa: E402

SIDE = 512
LOOKS = {
    "hard": {"grid": 32, "blend": False},
    "adaptive": {"grid": 8, "adaptive": True, "max_cells": 1024},
    "adaptive hard": {"grid": 8, "adaptive": True, "max_cells": 1024, "blend": False},
}
ADAPTIVE = ("adaptive", "adaptive hard")
SOFT = {"copies": "soft", "strength": 0.0}
VIEWS = [((0.4137, 0.3561), 1e12), ((0.7071, 0.6180), 1e12)]


def view_time(code) -> tuple[float, float]:
    """Median ``(wall, CPU)`` seconds of a 512x512 view at 1e12 (after one warm-up view)."""
    renderer = ViewRenderer(code, "cpu")
    renderer.render((0.5, 0.5), 1.0, (SIDE, SIDE))
    times = [cpu_timed(renderer.render, c, z, (SIDE, SIDE))[:2] for c, z in VIEWS for _ in range(2)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def boundaries(layout, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of the luma steps that cross a cell boundary: ``(side, side - 1)`` between
    columns and ``(side - 1, side)`` between rows."""
    cols = torch.zeros(side, side - 1, dtype=torch.bool)
    rows = torch.zeros(side - 1, side, dtype=torch.bool)
    if isinstance(layout, GridLayout | BlendedLayout):
        c = side // layout.grid
        cols[:, c - 1 :: c] = True
        rows[c - 1 :: c, :] = True
        return cols, rows
    for k in range(layout.cells):
        d, i, j = layout.leaf(k)
        c = side // (layout.grid << d)
        if (j + 1) * c < side:
            cols[i * c : (i + 1) * c, (j + 1) * c - 1] = True
        if (i + 1) * c < side:
            rows[(i + 1) * c - 1, j * c : (j + 1) * c] = True
    return cols, rows


def blockiness(img: torch.Tensor, masks) -> float:
    """Mean |luma step| across the boundaries over the mean elsewhere."""
    y = img.mean(0)
    steps = ((y[:, 1:] - y[:, :-1]).abs(), (y[1:, :] - y[:-1, :]).abs())
    across = torch.cat([s[m] for s, m in zip(steps, masks, strict=True)])
    other = torch.cat([s[~m] for s, m in zip(steps, masks, strict=True)])
    return (across.mean() / other.mean()).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two photos, no memory subprocess")
    parser.add_argument("--soft", action="store_true", help="also fit with all 8 copies mixed")
    args = parser.parse_args()
    setup()
    photos = heldout_photos(SIDE)
    if args.quick:
        photos = dict(list(photos.items())[:2])
    rows = []
    for name, img in photos.items():
        x = to_tensor(img)
        row = {"photo": name}
        for look, kw in LOOKS.items():
            wall, cpu, code = cpu_timed(cc.fractalize, img, **kw)
            w1, c1, one = cpu_timed(code.render_tensor, 1)
            row[f"{look} psnr"] = psnr(one, x)
            row[f"{look} bytes"] = code.nbytes
            row[f"{look} fit ms"] = (1000 * (wall + w1), 1000 * (cpu + c1))
            masks = boundaries(code.layout, SIDE)
            row[f"{look} seams"] = blockiness(one, masks) / blockiness(x, masks)
            pooled = torch.nn.functional.avg_pool2d(code.render_tensor(4)[None], 4)[0]
            row[f"{look} pool"] = 255 * (pooled - one).abs().mean().item()
            row[f"{look} view"] = view_time(code)
            if not args.quick and name == next(iter(photos)):
                row[f"{look} view MB"] = view_peak_memory(code) / 2**20
            if args.soft:
                row[f"soft {look} psnr"] = psnr(cc.fractalize(img, **kw, **SOFT).render_tensor(1), x)
        rows.append(row)
        print(
            f"{name:11s} load {os.getloadavg()[0]:.1f} | PSNR hard {row['hard psnr']:.2f}, adaptive "
            f"{row['adaptive psnr']:.2f} ({row['adaptive psnr'] - row['hard psnr']:+.2f}), adaptive hard "
            f"{row['adaptive hard psnr']:.2f} ({row['adaptive hard psnr'] - row['hard psnr']:+.2f}) dB | bytes "
            f"{row['adaptive bytes']} / {row['hard bytes']} | seams "
            + ", ".join(f"{look} {row[f'{look} seams']:.2f}" for look in LOOKS)
            + " | pool(4x) vs 1x grey "
            + ", ".join(f"{look} {row[f'{look} pool']:.3f}" for look in LOOKS)
            + " | fit+render(1) wall/CPU ms "
            + ", ".join(f"{look} {row[f'{look} fit ms'][0]:.0f}/{row[f'{look} fit ms'][1]:.0f}" for look in LOOKS)
            + " | view 1e12 wall/CPU s "
            + ", ".join(f"{look} {row[f'{look} view'][0]:.2f}/{row[f'{look} view'][1]:.2f}" for look in LOOKS),
            flush=True,
        )
    print()
    for look in ADAPTIVE:
        gain = [r[f"{look} psnr"] - r["hard psnr"] for r in rows]
        size = [r[f"{look} bytes"] / r["hard bytes"] for r in rows]
        print(
            f"{look}: PSNR - hard grid 32, median {statistics.median(gain):+.2f} dB (target >= +1.5), "
            f"min {min(gain):+.2f}, max {max(gain):+.2f}; code size ratio max {max(size):.3f} (target <= 1.1)"
        )
        if args.soft:
            soft = [r[f"soft {look} psnr"] - r["soft hard psnr"] for r in rows]
            print(f"{look}, soft fit: PSNR - soft hard grid 32, median {statistics.median(soft):+.2f} dB")
    for look in LOOKS:
        ms = [r[f"{look} fit ms"] for r in rows]
        seams = [r[f"{look} seams"] for r in rows]
        pool = [r[f"{look} pool"] for r in rows]
        print(
            f"{look}: 1x seams median {statistics.median(seams):.2f} (max {max(seams):.2f}) x the photo's; "
            f"pool(render(4)) vs render(1) max {max(pool):.3f} grey (<= 1); fit + render(1) median "
            f"{statistics.median(m[0] for m in ms):.0f} ms wall, {statistics.median(m[1] for m in ms):.0f} ms CPU"
        )
    for look in ADAPTIVE:
        ratio = [r[f"{look} view"][0] / r["hard view"][0] for r in rows]
        cpu_ratio = [r[f"{look} view"][1] / r["hard view"][1] for r in rows]
        print(
            f"view 512^2 at 1e12: {look} median {statistics.median(r[f'{look} view'][0] for r in rows):.2f} s wall "
            f"(target <= 1), hard {statistics.median(r['hard view'][0] for r in rows):.2f} s; {look} / hard "
            f"{statistics.median(ratio):.2f}x wall, {statistics.median(cpu_ratio):.2f}x CPU (target <= 3)"
        )
    if "hard view MB" in rows[0]:
        mb = ", ".join(f"{look} {rows[0][f'{look} view MB']:.0f} MB" for look in LOOKS)
        print(f"view memory at 1e12: {mb} (target <= 1024)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} ({time.strftime('%H:%M UTC', time.gmtime())})")


if __name__ == "__main__":
    main()
