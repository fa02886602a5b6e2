"""Eight users at once on one studio: 8 x 5 fractalize calls plus one zoom export, through gradio_client.

Checks, on a real ``python -m app`` server:
* no request fails, and every user gets their own result (each user's photo has its own
  size and content: the attractor must have that size and resemble that photo best);
* at most 2 heavy jobs run at once, counted from the outside: the queue tells every client
  when its job starts processing and when it finishes;
Prints the p50 / p95 latency of the fractalize calls (queueing included), the zoom
export's time and the server's peak resident memory.

    python benchmarks/load.py [--users 8] [--calls 5] [--baseline REV] [--json out.json]

``--baseline REV`` runs the same load against another revision first (side by side, same
machine, same minutes), e.g. the commit before issue 11.

Numbers depend on the machine's load (printed); on the shared 2-core machine other
engineers' jobs run beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image
from studio_server import REPO, Studio, extract, load_note

sys.path.insert(0, str(REPO))

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.utils import Status  # noqa: E402

PHOTOS = sorted((REPO / "assets" / "photos").glob("*.jpg"))


def user_photo(folder: Path, user: int) -> Path:
    """A photo of its own size per user, from the shipped examples (rotated for variety)."""
    img = Image.open(PHOTOS[user % len(PHOTOS)]).convert("RGB").rotate(90 * (user // len(PHOTOS)))
    img = img.resize((320 + 16 * user, 320))
    path = folder / f"user{user}.png"
    img.save(path)
    return path


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB").resize(a.size), dtype=np.float64)
    return 10 * np.log10(255.0**2 / max(((x - y) ** 2).mean(), 1e-9))


class Tracker:
    """Counts jobs in the PROCESSING state across all clients (polled from their status)."""

    def __init__(self):
        self.jobs = []
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            now = sum(1 for job in list(self.jobs) if not job.done() and job.status().code == Status.PROCESSING)
            self.peak = max(self.peak, now)
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measure(repo: Path, photos: list[Path], calls: int, title: str) -> dict:
    users = len(photos)
    print(f"\n{title}: {users} users x {calls} fractalize calls + 1 zoom export  ({load_note()})", flush=True)
    studio = Studio(repo)
    tracker = Tracker()
    latencies: list[float] = []
    errors: list[str] = []
    mixups: list[str] = []
    zoom_seconds = [0.0]

    def user(u: int) -> None:
        client = Client(studio.url, verbose=False)
        for call in range(calls):
            t = time.perf_counter()
            job = client.submit(handle_file(str(photos[u])), seed=call, api_name="/fractalize")
            tracker.jobs.append(job)
            try:
                attractor, _, _ = job.result(timeout=600)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"user {u} call {call}: {exc}")
                continue
            latencies.append(time.perf_counter() - t)
            out = Image.open(attractor)
            scores = [psnr(out, Image.open(p)) for p in photos]
            if out.size != Image.open(photos[u]).size or int(np.argmax(scores)) != u:
                mixups.append(f"user {u} call {call}: got {out.size}, best match user {int(np.argmax(scores))}")

    def zoomer() -> None:
        client = Client(studio.url, verbose=False)
        t = time.perf_counter()
        job = client.submit(handle_file(str(photos[0])), api_name="/zoom", seconds=4, fps=12, size="256×256")
        tracker.jobs.append(job)
        try:
            job.result(timeout=600)
            zoom_seconds[0] = time.perf_counter() - t
        except Exception as exc:  # noqa: BLE001
            errors.append(f"zoom: {exc}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
    threads.append(threading.Thread(target=zoomer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    tracker.stop()
    studio.stop()
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
    result = {
        "title": title,
        "users": users,
        "calls": calls,
        "errors": errors,
        "mixups": mixups,
        "p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "p95_s": round(q[18], 2),
        "zoom_s": round(zoom_seconds[0], 2),
        "wall_s": round(wall, 1),
        "peak_heavy_jobs": tracker.peak,
        "peak_rss_gb": round(studio.peak_rss / 1e9, 2),
        "tracebacks": studio.log.count("Traceback (most recent call last)"),
        "load": load_note(),
    }
    print(
        f"fractalize latency p50 {result['p50_s']} s, p95 {result['p95_s']} s ({len(latencies)} calls); "
        f"zoom export {result['zoom_s']} s; all done in {result['wall_s']} s\n"
        f"at most {tracker.peak} heavy jobs at once; peak RSS {result['peak_rss_gb']} GB; "
        f"errors {len(errors)}; results mixed up {len(mixups)}; tracebacks in the log {result['tracebacks']}",
        flush=True,
    )
    for line in errors + mixups:
        print("  " + line)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--baseline", metavar="REV", help="run this revision first, side by side")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="load-"))
    photos = [user_photo(folder, u) for u in range(args.users)]
    results = []
    if args.baseline:
        results.append(measure(extract(args.baseline), photos, args.calls, f"baseline {args.baseline}"))
    results.append(measure(REPO, photos, args.calls, "this tree"))
    if args.baseline:
        base, now = results
        print(
            f"\nthis tree / baseline: p50 x{now['p50_s'] / base['p50_s']:.2f}, p95 x{now['p95_s'] / base['p95_s']:.2f}, "
            f"peak RSS x{now['peak_rss_gb'] / base['peak_rss_gb']:.2f}, "
            f"heavy jobs at once {now['peak_heavy_jobs']} vs {base['peak_heavy_jobs']}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    now = results[-1]
    ok = not now["errors"] and not now["mixups"] and now["peak_heavy_jobs"] <= 2
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
