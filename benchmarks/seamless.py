"""Issue 9's targets: seamless cells at 1x and at depth, fidelity, consistency, speed, memory.

Run from the repository root (needs scikit-image for the held-out photos)::

    python benchmarks/seamless.py            # five held-out photos
    python benchmarks/seamless.py --quick    # two photos, no memory subprocess

Every number is printed for the hard grid (``blend=False``) and the default blended
cells (mirror frames) side by side, measured in the same run, grid 32, default settings otherwise:

* **blockiness at 1x**: mean |luma gradient| across the 31 cell boundaries per axis over
  the mean elsewhere, for the 1x attractor, divided by the photo's own at the same
  positions (target: <= 1.25 for the default code).
* **blockiness at depth**: 512x512 views of one cell (the centre of a random cell path)
  at depth 1 and 2 (zoom ``32**d``), at the next level's boundaries (every ``512 / factor``
  pixels: 16 for hard cells and mirror frames, 32 for wide frames; target: median <= 1.5).
* **fidelity**: 1x PSNR against the photo (blended must not lose against the hard grid).
* **consistency**: mean |pool(render(4), 4) - render(1)| in grey levels (target: <= 1).
* **speed**: fit + render(1) of the 512x512 photo (target: <= 150 ms), and a 512x512 view
  at 1e12 (target: <= 1 s and <= 3x the hard grid's).
* **memory**: peak extra RSS of one 512x512 view at 1e12, in a fresh process (<= 1 GB).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core_common import median_time, setup, view_peak_memory  # noqa: E402
from heldout import heldout_photos  # noqa: E402

import collage_core as cc  # noqa: E402
from collage_core.viewport import ViewRenderer  # noqa: E402

GRID = 32
SIDE = 512
LUMA = torch.tensor([0.299, 0.587, 0.114])


def blockiness(img: torch.Tensor, period: int) -> float:
    """Mean |luma gradient| across lines every ``period`` pixels over the mean elsewhere.

    ``img`` ``(3, H, W)``; both axes, gradients between neighbouring pixels.
    """
    y = torch.einsum("c,chw->hw", LUMA.to(img.dtype), img)
    across, other = [], []
    for g in (y[:, 1:] - y[:, :-1], (y[1:, :] - y[:-1, :]).T):
        g = g.abs()
        at = (torch.arange(g.shape[1]) + 1) % period == 0  # between pixel p and p + 1
        across.append(g[:, at].flatten())
        other.append(g[:, ~at].flatten())
    return (torch.cat(across).mean() / torch.cat(other).mean().clamp_min(1e-12)).item()


def to_tensor(img) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)


def cell_views(code, rng: np.random.Generator, depths=(1, 2), paths: int = 3):
    """Views of one cell at each depth (centre of a random cell path): ``[(depth, view)]``."""
    out = []
    renderer = ViewRenderer(code)
    for _ in range(paths):
        cells = rng.integers(1, GRID - 1, size=(max(depths), 2))
        for d in depths:
            # Centre of cell (i_1, j_1) -> ... -> (i_d, j_d): nested positions.
            x = sum((j + 0.5 * (k == d - 1)) / GRID ** (k + 1) for k, (_, j) in enumerate(cells[:d]))
            y = sum((i + 0.5 * (k == d - 1)) / GRID ** (k + 1) for k, (i, _) in enumerate(cells[:d]))
            view = renderer.render((x, y), float(GRID**d), (SIDE, SIDE), precise=True)
            out.append((d, view.float().cpu()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two photos, no memory subprocess")
    parser.add_argument("--band", type=float, default=None, help="blend band to test (default: the config's)")
    args = parser.parse_args()
    setup()
    photos = heldout_photos(SIDE)
    if args.quick:
        photos = dict(list(photos.items())[:2])
    looks = {"hard": {"blend": False}, "blended": {} if args.band is None else {"band": args.band}}
    rng = np.random.default_rng(0)
    rows, depth, speed = [], {k: [] for k in looks}, {k: [] for k in looks}
    for name, img in photos.items():
        x = to_tensor(img)
        own = blockiness(x, SIDE // GRID)
        row = {"photo": name, "own": own}
        for look, kw in looks.items():
            start, cpu = time.perf_counter(), time.process_time()
            code = cc.fractalize(img, grid=GRID, **kw)
            one = code.render_tensor(1)
            row[f"{look} fit+render ms"] = 1000 * (time.perf_counter() - start)
            row[f"{look} fit+render cpu ms"] = 1000 * (time.process_time() - cpu)
            row[f"{look} block"] = blockiness(one, SIDE // GRID) / own
            row[f"{look} psnr"] = -10 * np.log10(((one.clamp(0, 1) - x) ** 2).mean().item())
            pooled = torch.nn.functional.avg_pool2d(code.render_tensor(4)[None], 4)[0]
            row[f"{look} pool"] = 255 * (pooled - one).abs().mean().item()
            # A view of one cell shows the whole image shrunk into the cell's frame: the
            # next level's cells are SIDE / factor pixels wide (16 hard, 32 blended).
            depth[look] += [blockiness(v, SIDE // code.layout.factor) for _, v in cell_views(code, rng)]
            renderer = ViewRenderer(code)
            speed[look].append(
                median_time(lambda r=renderer: r.render((0.4137, 0.3561), 1e12, (SIDE, SIDE)), warmup=True)
            )
            if not args.quick and look == "blended" and name == next(iter(photos)):
                row["blended view MB"] = view_peak_memory(code) / 2**20
        rows.append(row)
        print(
            f"{name:11s} own {own:.2f} | 1x blockiness / photo's: hard {row['hard block']:.2f}, "
            f"blended {row['blended block']:.2f} | PSNR hard {row['hard psnr']:.2f}, blended "
            f"{row['blended psnr']:.2f} dB | pool(4x) vs 1x: hard {row['hard pool']:.3f}, blended "
            f"{row['blended pool']:.3f} grey levels | fit+render(1): hard {row['hard fit+render ms']:.0f} ms, "
            f"blended {row['blended fit+render ms']:.0f} ms | view 1e12: hard {speed['hard'][-1]:.2f} s, "
            f"blended {speed['blended'][-1]:.2f} s",
            flush=True,
        )
    print()
    block = [r["blended block"] for r in rows]
    print(
        f"blockiness at 1x / photo's (target <= 1.25): blended max {max(block):.2f} (hard {max(r['hard block'] for r in rows):.2f})"
    )
    for look in looks:
        print(f"blockiness at depth 1-2, median (target <= 1.5): {look} {statistics.median(depth[look]):.2f}")
    gain = [r["blended psnr"] - r["hard psnr"] for r in rows]
    print(f"PSNR blended - hard: median {statistics.median(gain):+.2f} dB, min {min(gain):+.2f} dB")
    print(
        f"pool(render(4), 4) vs render(1), blended: max {max(r['blended pool'] for r in rows):.3f} grey levels (target <= 1)"
    )
    wall = [r["blended fit+render ms"] / r["hard fit+render ms"] for r in rows]
    cpu = [r["blended fit+render cpu ms"] / r["hard fit+render cpu ms"] for r in rows]
    print(
        f"fit + render(1), blended: median {statistics.median(r['blended fit+render ms'] for r in rows):.0f} ms wall, "
        f"{statistics.median(r['blended fit+render cpu ms'] for r in rows):.0f} ms CPU (target <= 150); "
        f"{statistics.median(wall):.1f}x the hard grid's wall, {statistics.median(cpu):.1f}x its CPU time"
    )
    ratio = [b / h for b, h in zip(speed["blended"], speed["hard"], strict=True)]
    print(
        f"view at 1e12: blended median {statistics.median(speed['blended']):.2f} s (target <= 1), "
        f"{statistics.median(ratio):.1f}x the hard grid's (target <= 3)"
    )
    if "blended view MB" in rows[0]:
        print(f"view memory at 1e12, blended: {rows[0]['blended view MB']:.0f} MB (target <= 1024)")
    print("adaptive cells (max_cells): see benchmarks/adaptive.py")


if __name__ == "__main__":
    main()
