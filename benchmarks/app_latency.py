"""Latency of the studio, measured the way a user meets it.

1. First page: seconds from starting ``python -m app`` to an HTTP 200 for ``/`` (median of runs).
2. Fractalize round trip: a 512x512 photo at default settings through ``gradio_client``
   (upload, fit, render, files back), median after one warm-up call; also with
   ``download_files=False`` (the client gets URLs and fetches nothing).
3. Responsiveness while a zoom export runs: page load and fractalize round trip, idle vs
   during a 96-frame 256x256 GIF export by another user.
4. Live preview: ``callbacks.preview`` (256 px, refinement skipped even when 200 steps are
   asked) against the full fit and render of the same 512x512 photo, unrefined and with the
   200 steps, side by side in one process with the server's one torch thread (3 rounds,
   about 40 s); printed as ratios.

    python benchmarks/app_latency.py [--runs 10] [--starts 3] [--json out.json]

Numbers are noisy on a shared CPU: the script prints medians, the spread and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from collage_core.resources import example_photo

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
_TMP = Path(tempfile.mkdtemp(prefix="collage-bench-"))
os.environ.setdefault("GRADIO_TEMP_DIR", str(_TMP / "gradio"))
os.environ.setdefault("NEURAL_COLLAGE_PRESETS", str(_TMP / "presets"))
os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(_TMP / "examples"))

REPO = Path(__file__).resolve().parent.parent
PHOTO = example_photo("astronaut.jpg")  # 512x512


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(threads: int | None = None) -> tuple[subprocess.Popen, str, float]:
    """Start ``python -m app`` on a free port; returns the process, its URL and seconds to the first page."""
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port))
    cmd = [sys.executable, "-m", "app", "--no-browser"] + (["--threads", str(threads)] if threads else [])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - t0 < 60:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - t0
        except OSError:
            time.sleep(0.02)
    stop(proc)
    raise RuntimeError("the studio did not answer within 60 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def first_page_seconds() -> float:
    proc, _, seconds = start_server()
    stop(proc)
    return seconds


def page_seconds(url: str) -> float:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        r.read()
    return time.perf_counter() - t


def fractalize_seconds(client, handle_file) -> float:
    t = time.perf_counter()
    client.predict(handle_file(str(PHOTO)), api_name="/fractalize")
    return time.perf_counter() - t


def preview_vs_fit(runs: int = 3) -> dict:
    """Median seconds of the live preview and of the fits it stands in for, and the ratios."""
    import torch

    from app import callbacks

    torch.set_num_threads(1)  # as the server runs each request
    photo = callbacks.load_photo(str(PHOTO))
    asked = callbacks.resolve_config(refine_steps=200)
    work = {
        "preview_256": lambda: callbacks.preview(photo, asked),
        "fit_and_render_512": lambda: callbacks.fit(photo, asked.override(refine_steps=0)).render(1),
        "fit_200_steps_and_render_512": lambda: callbacks.fit(photo, asked).render(1),
    }
    times: dict[str, list[float]] = {name: [] for name in work}
    for i in range(runs + 1):  # interleaved, so all see the same load; the first round warms up
        for name, fn in work.items():
            t = time.perf_counter()
            fn()
            if i:
                times[name].append(time.perf_counter() - t)
    out = {name: summary(values) for name, values in times.items()}
    preview = out["preview_256"]["median_s"]
    out["ratio_to_fit"] = round(preview / out["fit_and_render_512"]["median_s"], 3)
    out["ratio_to_fit_200_steps"] = round(preview / out["fit_200_steps_and_render_512"]["median_s"], 4)
    return out


def summary(values: list[float]) -> dict:
    return {
        "median_s": round(statistics.median(values), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
        "n": len(values),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="fractalize round trips (default 10)")
    parser.add_argument("--starts", type=int, default=3, help="server starts for the first-page time (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads in the server (default: the app's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    results: dict = {"load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}
    starts = [first_page_seconds() for _ in range(args.starts)]
    results["first_page"] = summary(starts)
    print(f"first page after launch: median {results['first_page']['median_s']:.2f} s  {starts}")

    results["preview"] = p = preview_vs_fit()
    print(
        f"live preview (200 refinement steps asked) {p['preview_256']['median_s']:.3f} s: "
        f"{p['ratio_to_fit']}x the unrefined 512x512 fit + render, {p['ratio_to_fit_200_steps']}x the refined one"
    )

    from gradio_client import Client, handle_file

    # The server runs as users run it, in its own process (the client's threads would
    # otherwise compete with it for the GIL).
    proc, url, _ = start_server(args.threads)
    try:
        client = Client(url, verbose=False)
        fractalize_seconds(client, handle_file)  # warm-up: first-call allocations and caches
        trips = [fractalize_seconds(client, handle_file) for _ in range(args.runs)]
        results["fractalize_round_trip_512"] = summary(trips)
        print(f"fractalize 512x512 round trip: median {results['fractalize_round_trip_512']['median_s']:.3f} s")
        # The same call when the client does not fetch the 6 output files (URLs only).
        lean = Client(url, verbose=False, download_files=False)
        fractalize_seconds(lean, handle_file)
        lean_trips = [fractalize_seconds(lean, handle_file) for _ in range(args.runs)]
        results["fractalize_round_trip_512_urls_only"] = summary(lean_trips)
        print(f"  ... without downloading the outputs: median {statistics.median(lean_trips):.3f} s")

        idle_pages = [page_seconds(url) for _ in range(5)]
        # Another user exports a zoom while this one keeps working.
        exporter = Client(url, verbose=False)
        t_export = time.perf_counter()
        job = exporter.submit(handle_file(str(PHOTO)), depth=3, seconds=8, fps=12, size="256×256", api_name="/zoom")
        time.sleep(1.0)  # let the export start
        busy_pages, busy_trips = [], []
        while not job.done() and len(busy_trips) < args.runs:
            busy_pages.append(page_seconds(url))
            busy_trips.append(fractalize_seconds(client, handle_file))
        t = time.perf_counter()
        job.result(timeout=900)
        export_left = time.perf_counter() - t
        export_seconds = time.perf_counter() - t_export
        results["during_export"] = {
            "page_idle": summary(idle_pages),
            "page_during_export": summary(busy_pages) if busy_pages else None,
            "fractalize_during_export": summary(busy_trips) if busy_trips else None,
            "export_96_frames_256px_s": round(export_seconds, 1),
            "export_still_running_after_s": round(export_left, 1),
        }
        print(
            f"page load idle {statistics.median(idle_pages):.3f} s, during export "
            f"{statistics.median(busy_pages) if busy_pages else float('nan'):.3f} s; fractalize during export "
            f"{statistics.median(busy_trips) if busy_trips else float('nan'):.3f} s ({len(busy_trips)} calls)"
        )
    finally:
        stop(proc)
    results["load_average_1min_end"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    threading.excepthook = lambda a: None  # quiet client threads at exit
    sys.exit(main())
