"""Explore view speed (issue 10): map tiles, the tile cache, the first map, posters.

With the astronaut photo fitted at grid 32, d4, on the CPU (2 threads):

* **tiles**: a 256x256 tile at a random depth 1..1e15 (random centre, the pyramid under
  it as the page would have it), median and p95 of ``--tiles`` tiles; side by side in the
  same loop, the same views through ``ViewRenderer.render`` with float centres (the
  issue's baseline) and the whole tile a browser gets (tone + PNG);
* **from the cache**: a cached tile through the real HTTP route (FastAPI test client),
  median of 200;
* **first map**: pressing Explore to every tile of the first screen (1280x800 at the
  whole image: the pyramid's levels 0..2, 21 tiles), in-process with the server's two
  renderers; with ``--browser``, also measured in Chromium from the click on Explore to
  the first tile drawn and to the screen complete;
* **posters**: ``render_poster`` of 8192^2 (and 16384^2 with ``--big``) at 1e6x: wall time
  and peak memory above the process, in a fresh subprocess each (``/proc/self/clear_refs``
  then ``VmHWM``).

The CPU is shared: the load average is printed before and after. Run:
``python benchmarks/explore_speed.py [--tiles 60] [--big] [--browser]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

from core_common import PEAK_RSS_CHILD, PHOTOS, ROOT, setup

TARGETS = {"median": 0.040, "p95": 0.100, "cache": 0.005, "first_map": 1.0, "poster_8192_s": 120, "poster_8192_gb": 1.0}
POSTER_CHILD = (
    PEAK_RSS_CHILD
    + """
import time
code = cc.FractalCode.load(sys.argv[1])
side = int(sys.argv[2])
cc.render_poster(code, sys.argv[3], size=(64, 64), center=(0.4137, 0.3561), zoom=1e6)  # warm-up
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
t, cpu = time.perf_counter(), time.process_time()
cc.render_poster(code, sys.argv[3], size=(side, side), center=(0.4137, 0.3561), zoom=1e6)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu, "peak_extra": status("VmHWM") - before}))
"""
)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def bench_tiles(code, n: int, seed: int = 0):
    import collage_core as cc
    from app.explore_server import TileService
    from collage_core import tiles

    rng = random.Random(seed)
    renderer = cc.ViewRenderer(code)
    aspect = renderer.aspect_fraction
    service = TileService(prefetch=False)
    exp = service.start(code, "bench")
    tiles.render_tile(renderer, tiles.home_root(aspect), 2, 1, 1)  # warm-up: the dense base level
    exact, floats, whole = [], [], []
    for _ in range(n):
        zoom = Fraction(10 ** rng.uniform(0, 15))
        center = (Fraction(rng.uniform(0.05, 0.95)), Fraction(rng.uniform(0.05, 0.95)))
        root = tiles.root_for(center, zoom, aspect)
        level = max(0, round(float(zoom / root.zoom)).bit_length() - 1)
        u, v = root.to_viewer(*center, aspect)
        x, y = min(2**level - 1, int(u * 2**level)), min(2**level - 1, int(v * 2**level))
        (cx, cy), tz = tiles.tile_view(root, aspect, level, x, y)

        def run_exact(root=root, level=level, x=x, y=y):
            t = time.perf_counter()
            tiles.render_tile(renderer, root, level, x, y)
            exact.append(time.perf_counter() - t)

        def run_float(cx=cx, cy=cy, tz=tz):
            t = time.perf_counter()
            renderer.render((float(cx), float(cy)), max(1.0, float(tz)), (256, 256), precise=True)
            floats.append(time.perf_counter() - t)

        # Alternate which goes first: the second profits from the first's cached levels.
        for run in (run_exact, run_float) if len(exact) % 2 else (run_float, run_exact):
            run()
        rid = exp.add_root(root)
        service.levels(exp, root, level)  # once per pyramid level and root, shared by its ~20 tiles
        t = time.perf_counter()
        service.tile_png(exp, rid, level, x, y)  # render + tone + PNG
        whole.append(time.perf_counter() - t)
    return exact, floats, whole


def bench_cache(code):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from app import explore_server

    service = explore_server.TileService(prefetch=False)
    explore_server.SERVICE = service
    client = TestClient(FastAPI(routes=explore_server.routes()))
    exp = service.start(code, "bench")
    exp.config()
    url = f"/explore/tile/{exp.token}/{exp.hash}/0/2/1/1.png"
    assert client.get(url).status_code == 200
    times, lookups = [], []
    key = next(iter(service.cache.keys()))
    for _ in range(200):
        t = time.perf_counter()
        r = client.get(url)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200
        t = time.perf_counter()
        service.cache.get(key)
        lookups.append(time.perf_counter() - t)
    return times, lookups


def bench_first_map(code):
    from app.explore_server import TileService

    service = TileService(prefetch=False)
    addresses = [(level, x, y) for level in range(3) for y in range(2**level) for x in range(2**level)]
    t = time.perf_counter()
    exp = service.start(code, "bench")  # what the Explore button does (hash, token, root)
    exp.config()
    with ThreadPoolExecutor(2) as pool:  # the browser asks several at once; two renderers serve them
        list(pool.map(lambda a: service.tile_png(exp, 0, *a), addresses))
    return time.perf_counter() - t, len(addresses)


def bench_browser(code_path: Path):
    sys.path.insert(0, str(ROOT / "tests"))
    from browser_support import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright
    from studio_server import running_studio

    with running_studio() as (_, url), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.wait_for_selector("#photo")
        page.get_by_role("tab", name="Explore").click()
        page.locator("#explore-drop input[type=file]").set_input_files(str(code_path))
        page.wait_for_function("document.querySelector('#explore-root').dataset.ready === '1'")
        times = []
        for _ in range(3):  # a fresh map each press: new token, new renderers' tiles from the cache
            page.evaluate(
                "window.__t0 = performance.now(); window.__tiles0 = Number(document.querySelector('#explore-root').dataset.tiles)"
            )
            page.locator("#explore-btn").click()
            page.wait_for_function("Number(document.querySelector('#explore-root').dataset.tiles) > window.__tiles0")
            first = page.evaluate("performance.now() - window.__t0") / 1000
            page.wait_for_function("document.querySelector('#explore-root').dataset.ready === '1'")
            done = page.evaluate("performance.now() - window.__t0") / 1000
            times.append((first, done))
        browser.close()
    return times


def bench_poster(code_path: Path, side: int):
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", POSTER_CHILD, str(code_path), str(side), str(Path(tmp) / "p.png")],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", type=int, default=60)
    parser.add_argument("--big", action="store_true", help="also a 16384^2 poster")
    parser.add_argument("--browser", action="store_true", help="also time the first map in Chromium")
    parser.add_argument("--no-poster", action="store_true")
    args = parser.parse_args()
    setup()
    from PIL import Image

    import collage_core as cc

    code = cc.fractalize(Image.open(PHOTOS / "astronaut.jpg"), grid=32, symmetries="d4")
    tmp = Path(tempfile.mkdtemp())
    code_path = code.save(tmp / "astronaut.collage")

    exact, floats, whole = bench_tiles(code, args.tiles)
    print("| 256x256 tile, random depth 1..1e15 | median | p95 | target |")
    print("|---|---|---|---|")
    print(
        f"| exact tile render (Fraction centre) | {statistics.median(exact) * 1e3:.0f} ms | {pct(exact, 0.95) * 1e3:.0f} ms | median <= 40 ms, p95 <= 100 ms |"
    )
    print(
        f"| baseline: ViewRenderer.render, float centre | {statistics.median(floats) * 1e3:.0f} ms | {pct(floats, 0.95) * 1e3:.0f} ms | |"
    )
    print(
        f"| whole tile served: render + tone + PNG | {statistics.median(whole) * 1e3:.0f} ms | {pct(whole, 0.95) * 1e3:.0f} ms | |"
    )
    print(f"\nexact / float ratio (medians, same loop): {statistics.median(exact) / statistics.median(floats):.2f}")

    cache, lookups = bench_cache(code)
    print(
        f"\ncached tile over HTTP (FastAPI test client, in process): median {statistics.median(cache) * 1e3:.2f} ms, "
        f"p95 {pct(cache, 0.95) * 1e3:.2f} ms (target <= 5 ms); the LRU lookup itself {statistics.median(lookups) * 1e6:.1f} us"
    )

    first, count = bench_first_map(code)
    print(f"first map, in process: Explore + {count} tiles of the first screen in {first:.2f} s (target <= 1 s)")
    if args.browser:
        for i, (t_first, t_done) in enumerate(bench_browser(code_path)):
            print(
                f"first map in Chromium, press {i + 1}: first tile drawn {t_first:.2f} s, screen complete {t_done:.2f} s"
            )

    if not args.no_poster:
        print("\n| poster at 1e6x | seconds | peak above the process | target |")
        print("|---|---|---|---|")
        for side in (8192, 16384) if args.big else (8192,):
            r = bench_poster(code_path, side)
            target = "<= 120 s, <= 1 GB" if side == 8192 else "<= 1.5 GB"
            print(
                f"| {side}x{side} | {r['seconds']:.0f} | {r['cpu']:.0f} | {r['peak_extra'] / 2**30:.2f} GB | {target} |"
            )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
