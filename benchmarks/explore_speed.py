"""Explore view speed (issue 10): map tiles, the tile cache, the first map, posters.

With the astronaut photo fitted at grid 32, d4, on the CPU (2 threads):

* **tiles**: a 256x256 tile at a random depth 1..1e15 (random centre, the pyramid under
  it as the page would have it), median and p95 of ``--tiles`` tiles; side by side in the
  same loop, the same views through ``ViewRenderer.render`` with float centres (the
  issue's baseline) and the whole tile a browser gets (tone + PNG);
* **from the cache**: a cached tile through the real HTTP route, with FastAPI's test
  client and over a local socket to uvicorn (as a browser asks), the route before the
  speed-up side by side, and a 304 revalidation;
* **first map**: pressing Explore to every tile of the first screen (1280x800 at the
  whole image: the pyramid's levels 0..2, 21 tiles), in-process with the server's two
  renderers; with ``--browser``, also measured in Chromium from the click on Explore to
  the first tile drawn and to the screen complete;
* **posters**: ``render_poster`` of 8192^2 (and 16384^2 with ``--big``) at 1e6x: wall time
  and peak memory above the process, in a fresh subprocess each (``/proc/self/clear_refs``
  then ``VmHWM``).

The CPU is shared: the load average is printed before and after, CPU seconds next to
wall seconds, and every speed-up is measured against its baseline in the same run (the
renderer and the tile route before it, in process; posters with ``--poster-baseline
REV``, ``collage_core`` of that git revision, in their own fresh processes). Run:
``python benchmarks/explore_speed.py [--tiles 60] [--big] [--browser] [--poster-baseline REV]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
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


class _Before:
    """The renderer as it was before the tile speed-up (copies of the whole dense level for
    every window, the dense level split on every render): the side-by-side baseline."""

    @staticmethod
    def make(code):
        import collage_core as cc

        class Before(cc.ViewRenderer):
            copies_min_read = 0.0

            def _dense_detail(self, dense):
                self._details.clear()
                return super()._dense_detail(dense)

        return Before(code)


def bench_tiles(code, n: int, seed: int = 0):
    """Per tile: wall and CPU seconds of the exact path, the float-centre baseline and the
    renderer before the speed-up (same views, rotating order), and the whole served tile."""
    import collage_core as cc
    from app.explore_server import TileService
    from collage_core import tiles

    rng = random.Random(seed)
    renderer, before = cc.ViewRenderer(code), _Before.make(code)
    aspect = renderer.aspect_fraction
    service = TileService(prefetch=False)
    exp = service.start(code, "bench")
    for r in (renderer, before):
        tiles.render_tile(r, tiles.home_root(aspect), 2, 1, 1)  # warm-up: the dense base level
    times = {"exact": [], "float": [], "before": [], "whole": []}
    cpu = {k: [] for k in times}

    def timed(name, fn, *args, **kwargs):
        t, c = time.perf_counter(), time.process_time()
        fn(*args, **kwargs)
        times[name].append(time.perf_counter() - t)
        cpu[name].append(time.process_time() - c)

    for i in range(n):
        zoom = Fraction(10 ** rng.uniform(0, 15))
        center = (Fraction(rng.uniform(0.05, 0.95)), Fraction(rng.uniform(0.05, 0.95)))
        root = tiles.root_for(center, zoom, aspect)
        level = max(0, round(float(zoom / root.zoom)).bit_length() - 1)
        u, v = root.to_viewer(*center, aspect)
        x, y = min(2**level - 1, int(u * 2**level)), min(2**level - 1, int(v * 2**level))
        (cx, cy), tz = tiles.tile_view(root, aspect, level, x, y)
        runs = [
            ("exact", tiles.render_tile, renderer, root, level, x, y),
            ("float", renderer.render, (float(cx), float(cy)), max(1.0, float(tz)), (256, 256), True),
            ("before", tiles.render_tile, before, root, level, x, y),
        ]
        # Rotate the order: a later run may profit from an earlier one's cached levels.
        for name, fn, *args in runs[i % 3 :] + runs[: i % 3]:
            timed(name, fn, *args)
        rid = exp.add_root(root)
        service.levels(exp, root, level)  # once per depth of an exploration, shared by its tiles
        timed("whole", service.tile_png, exp, rid, level, x, y)  # render + tone + PNG
    return times, cpu


def _before_tile(token: str, code_hash: str, root: int, level: int, x: int, y: int):
    """The tile route before the speed-up (a FastAPI route in the thread pool): the baseline."""
    from fastapi.responses import Response

    from app import explore_server

    exp = explore_server.SERVICE.get(token, code_hash)
    png = explore_server.SERVICE.tile_png(exp, root, level, x, y)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600, immutable"})


def bench_cache(code, n: int = 200):
    """A cached tile: through FastAPI's test client and through a real server on a local
    socket with a kept-alive connection (what a browser sees), the route now and the route
    before side by side (alternating), and a revalidation answered 304."""
    import http.client
    import socket
    import threading

    import uvicorn
    from fastapi import FastAPI
    from fastapi.routing import APIRoute
    from fastapi.testclient import TestClient

    from app import explore_server

    service = explore_server.TileService(prefetch=False)
    explore_server.SERVICE = service
    before = APIRoute("/before/tile/{token}/{code_hash}/{root}/{level}/{x}/{y}.png", _before_tile, methods=["GET"])
    app = FastAPI(routes=[*explore_server.routes(), before])
    exp = service.start(code, "bench")
    exp.config()
    url = f"/explore/tile/{exp.token}/{exp.hash}/0/2/1/1.png"
    urls = {"now": url, "before": url.replace("/explore/", "/before/")}
    client = TestClient(app)
    first = client.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def over_socket(u, headers=None):
        conn.request("GET", u, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()

    times = {k: [] for k in ("client now", "client before", "socket now", "socket before", "socket 304")}
    lookups = []
    key = service.tile_key(exp, 0, 2, 1, 1)
    for _ in range(n):
        for which in ("now", "before"):
            t = time.perf_counter()
            r = client.get(urls[which])
            times[f"client {which}"].append(time.perf_counter() - t)
            assert r.status_code == 200 and r.content == first.content
            t = time.perf_counter()
            status, body = over_socket(urls[which])
            times[f"socket {which}"].append(time.perf_counter() - t)
            assert status == 200 and body == first.content
        t = time.perf_counter()
        status, _ = over_socket(url, {"If-None-Match": etag})
        times["socket 304"].append(time.perf_counter() - t)
        assert status == 304
        t = time.perf_counter()
        service.cache.get(key)
        lookups.append(time.perf_counter() - t)
    server.should_exit = True
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


def bench_poster(code_path: Path, side: int, tree: Path = ROOT):
    """``render_poster`` in a fresh process with the package of ``tree`` (a baseline's too)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", POSTER_CHILD, str(code_path), str(side), str(Path(tmp) / "p.png")],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tree)},
            check=True,
            cwd=tmp,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_tree(rev: str) -> Path:
    """``collage_core`` as of git revision ``rev``, in a temporary folder (a side-by-side baseline)."""
    folder = Path(tempfile.mkdtemp(prefix="explore-baseline-"))
    archive = subprocess.run(["git", "archive", rev, "collage_core"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", type=int, default=60)
    parser.add_argument("--big", action="store_true", help="also a 16384^2 poster")
    parser.add_argument("--browser", action="store_true", help="also time the first map in Chromium")
    parser.add_argument("--no-poster", action="store_true")
    parser.add_argument("--poster-baseline", metavar="REV", help="also time the posters with collage_core of git REV")
    args = parser.parse_args()
    setup()
    from PIL import Image

    import collage_core as cc

    code = cc.fractalize(Image.open(PHOTOS / "astronaut.jpg"), grid=32, symmetries="d4")
    tmp = Path(tempfile.mkdtemp())
    code_path = code.save(tmp / "astronaut.collage")

    times, cpu = bench_tiles(code, args.tiles)
    print("| 256x256 tile, random depth 1..1e15 | median | p95 | CPU median | CPU p95 | target |")
    print("|---|---|---|---|---|---|")
    rows = [
        ("exact", "exact tile render (Fraction centre)", "median <= 40 ms, p95 <= 100 ms"),
        ("float", "ViewRenderer.render, float centre (the issue's baseline)", ""),
        ("before", "the renderer before the tile speed-up, exact centre", ""),
        ("whole", "whole tile served: render + tone + PNG", ""),
    ]
    for key, label, target in rows:
        t, c = times[key], cpu[key]
        print(
            f"| {label} | {statistics.median(t) * 1e3:.0f} ms | {pct(t, 0.95) * 1e3:.0f} ms "
            f"| {statistics.median(c) * 1e3:.0f} ms | {pct(c, 0.95) * 1e3:.0f} ms | {target} |"
        )
    for other in ("float", "before"):
        print(
            f"\nexact / {other} (same loop): median {statistics.median(times['exact']) / statistics.median(times[other]):.2f}, "
            f"p95 {pct(times['exact'], 0.95) / pct(times[other], 0.95):.2f}",
            end="",
        )
    print()

    cache, lookups = bench_cache(code)
    print("\n| cached 256x256 tile over HTTP, in process | median | p95 |")
    print("|---|---|---|")
    labels = {
        "client now": "FastAPI test client, the route now",
        "client before": "FastAPI test client, the route before",
        "socket now": "local socket (uvicorn, kept-alive connection), the route now",
        "socket before": "local socket, the route before",
        "socket 304": "local socket, revalidation (If-None-Match) now",
    }
    for key, label in labels.items():
        print(f"| {label} | {statistics.median(cache[key]) * 1e3:.2f} ms | {pct(cache[key], 0.95) * 1e3:.2f} ms |")
    print(
        f"\nnow / before (medians, same loop): test client {statistics.median(cache['client now']) / statistics.median(cache['client before']):.2f}, "
        f"socket {statistics.median(cache['socket now']) / statistics.median(cache['socket before']):.2f}; target <= 5 ms; "
        f"the LRU lookup itself {statistics.median(lookups) * 1e6:.1f} us"
    )

    first, count = bench_first_map(code)
    print(f"first map, in process: Explore + {count} tiles of the first screen in {first:.2f} s (target <= 1 s)")
    if args.browser:
        for i, (t_first, t_done) in enumerate(bench_browser(code_path)):
            print(
                f"first map in Chromium, press {i + 1}: first tile drawn {t_first:.2f} s, screen complete {t_done:.2f} s"
            )

    if not args.no_poster:
        trees = [("now", ROOT)]
        if args.poster_baseline:
            trees.append((args.poster_baseline, export_tree(args.poster_baseline)))
        print("\n| poster at 1e6x | code | seconds | CPU seconds | peak above the process | target |")
        print("|---|---|---|---|---|---|")
        for side in (8192, 16384) if args.big else (8192,):
            target = "<= 120 s, <= 1 GB" if side == 8192 else "<= 1.5 GB"
            results = {}
            for name, tree in trees:  # one after the other, in fresh processes
                r = results[name] = bench_poster(code_path, side, tree)
                print(
                    f"| {side}x{side} | {name} | {r['seconds']:.0f} | {r['cpu']:.0f} | {r['peak_extra'] / 2**30:.2f} GB | {target} |",
                    flush=True,
                )
            if len(results) == 2:
                now, base = results["now"], results[args.poster_baseline]
                print(
                    f"| {side}x{side} | now / {args.poster_baseline} | {now['seconds'] / base['seconds']:.2f} | {now['cpu'] / base['cpu']:.2f} | | |"
                )
        for _, tree in trees[1:]:
            shutil.rmtree(tree, ignore_errors=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
