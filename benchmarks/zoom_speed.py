"""Deep-zoom speed and memory (issue 3): 512x512 views of the astronaut at 1e3..1e15x, GIF export.

Measures, on the CPU (2 threads), with the astronaut photo fitted at grid 32, d4:

* time per 512x512 frame, median of ``--runs`` runs, at zooms 1e3 .. 1e15, two ways:
  ``render_view`` = ``code.render_view(...)`` from scratch (what one call costs: it
  decodes the dense base level too), and ``animation frame`` = one reused
  :class:`ViewRenderer` with auto-contrast (what ``export_zoom`` pays per frame before
  encoding);
* the window recursion's work: windows per level and pixels computed, in units of the
  view's 512^2;
* the naive route (decode the whole magnified image with ``decode_exact``, then crop)
  at the zooms where it still fits in memory, and the speed-up over it;
* peak extra memory of one render per zoom, in a fresh subprocess each: the kernel's
  peak-RSS counter is reset after warm-up (``/proc/self/clear_refs``) and ``VmHWM``
  minus the RSS before the render is reported (torch's allocations are invisible to
  tracemalloc);
* wall time of ``export_zoom`` for a 10 s, 24 fps, 512x512 GIF zooming 1000x.

The CPU is shared with other jobs (VAE training) while this runs: medians, and the load
average is printed. Run: ``python benchmarks/zoom_speed.py`` (about 2 minutes);
``--quick`` skips the export and the memory subprocesses.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core_common import PEAK_RSS_CHILD, PHOTOS, ROOT, median_time, setup

ZOOMS = (1e3, 1e6, 1e9, 1e12, 1e15)
TARGETS = {1e3: 0.25, 1e6: 0.5, 1e12: 1.0}
NAIVE_ZOOMS = (2, 4, 8)  # 8x decodes 4096^2; 16x (8192^2, 0.8 GB of output alone) would break 1 GB
SIZE = (512, 512)
# An arbitrary, non-special point (not a loop point, not on a cell boundary).
CENTER = (0.4137, 0.3561)
# The naive comparison uses the centre, where both routes crop whole pixels: the same view.
NAIVE_CENTER = (0.5, 0.5)

CHILD = (
    PEAK_RSS_CHILD
    + """from collage_core.viewport import ViewRenderer

code = cc.FractalCode.load(sys.argv[1])
zoom = float(sys.argv[2])
ViewRenderer(code).render((0.5, 0.5), 1.0, (64, 64))  # warm-up: libraries, allocator
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
view = code.render_view(center=(0.4137, 0.3561), zoom=zoom, size=(512, 512))
print(json.dumps({"peak_extra": status("VmHWM") - before}))
"""
)


def peak_memory(code_path: Path, zoom: float) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(code_path), repr(zoom)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_extra"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="skip the GIF export and the memory subprocesses")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    setup()

    import collage_core as cc
    from collage_core.autocontrast import autocontrast
    from collage_core.viewport import ViewRenderer

    code = cc.fractalize(PHOTOS / "astronaut.jpg", grid=32, symmetries="d4")
    results: dict = {"size": SIZE, "center": CENTER, "runs": args.runs, "zooms": []}
    with tempfile.TemporaryDirectory() as tmp:
        code_path = code.save(Path(tmp) / "astronaut.collage")
        print(f"512x512 views of astronaut.jpg (grid 32, d4), centre {CENTER}, median of {args.runs} runs\n")
        print(
            "| zoom | render_view | animation frame | target | windows per level | pixels computed | peak extra memory |"
        )
        print("|---|---|---|---|---|---|---|")
        renderer = ViewRenderer(code)
        for zoom in ZOOMS:
            code.render_view(CENTER, zoom, SIZE)  # first call pays one-time costs (solved bases)
            cold = median_time(lambda z=zoom: code.render_view(CENTER, z, SIZE), args.runs)
            renderer.render(CENTER, zoom, SIZE, precise=True)
            warm = median_time(lambda z=zoom: autocontrast(renderer.render(CENTER, z, SIZE, precise=True)), args.runs)
            stats = renderer.stats
            memory = None if args.quick else peak_memory(code_path, zoom)
            target = TARGETS.get(zoom)
            row = {
                "zoom": zoom,
                "cold_s": cold,
                "warm_s": warm,
                "target_s": target,
                "windows": stats.window_counts,
                "pixels_per_view": stats.pixels / (SIZE[0] * SIZE[1]),
                "peak_extra_bytes": memory,
            }
            results["zooms"].append(row)
            mem = "-" if memory is None else f"{memory / 2**20:.0f} MB"
            print(
                f"| {zoom:.0e} | {cold:.3f} s | {warm:.3f} s | {'-' if target is None else f'<= {target} s'} "
                f"| {max(stats.window_counts, default=0)} (over {len(stats.window_counts)} levels) "
                f"| {row['pixels_per_view']:.0f} x 512^2 | {mem} |"
            )

        print(f"\nNaive route: decode the whole magnified image (decode_exact), then crop; centre {NAIVE_CENTER}\n")
        print("| zoom | decoded side | naive | window recursion | speed-up |")
        print("|---|---|---|---|---|")
        a, b = code.a[None], code.b[None]
        results["naive"] = []
        for zoom in NAIVE_ZOOMS:
            side = SIZE[0] * zoom

            def naive(side=side):
                full = cc.decode_exact(a, b, code.grid, code.symmetries, side)
                x0, y0 = side // 2 - 256, side // 2 - 256
                return full[..., y0 : y0 + 512, x0 : x0 + 512].clone()

            naive_s = median_time(naive, max(3, args.runs // 2))
            # Tensor to tensor, as the naive route: a fresh renderer (no cache), no PIL image.
            view_s = median_time(lambda z=zoom: ViewRenderer(code).render(NAIVE_CENTER, z, SIZE), args.runs)
            results["naive"].append({"zoom": zoom, "side": side, "naive_s": naive_s, "view_s": view_s})
            print(f"| {zoom} | {side} | {naive_s:.3f} s | {view_s:.3f} s | {naive_s / view_s:.1f}x |")

        if not args.quick:
            import os

            out = Path(tmp) / "zoom.gif"
            start = time.perf_counter()
            cc.export_zoom(code, out, zoom=1000.0, seconds=10.0, fps=24, size=SIZE)
            wall = time.perf_counter() - start
            results["gif_export"] = {"wall_s": wall, "bytes": out.stat().st_size, "frames": 240}
            print(
                f"\nexport_zoom: 10 s, 24 fps, 512x512 GIF zooming 1000x: {wall:.1f} s wall "
                f"(target <= 60 s), {out.stat().st_size / 2**20:.1f} MB, load average {os.getloadavg()[0]:.1f}"
            )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
