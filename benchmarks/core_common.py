"""Helpers shared by the ``benchmarks/core_*.py`` scripts."""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from collage_core.image_io import open_image, to_tensor
from collage_core.resample import area_resize
from collage_core.resources import data_dir

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = data_dir("photos")
THREADS = 2  # issue 2's figures are for 2 CPU cores

# The start of the child scripts that measure peak RSS in a fresh process: they reset
# the high-water mark through /proc/self/clear_refs and read VmHWM with status().
PEAK_RSS_CHILD = """
import json, sys, torch
torch.set_num_threads(2)
import collage_core as cc

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)
"""


VIEW_PEAK_CHILD = (
    PEAK_RSS_CHILD
    + """from collage_core.viewport import ViewRenderer

code = cc.FractalCode.load(sys.argv[1])
ViewRenderer(code).render((0.5, 0.5), 1.0, (64, 64))  # warm-up: libraries, allocator
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
code.render_view(center=(0.4137, 0.3561), zoom=1e12, size=(512, 512))
print(json.dumps({"peak_extra": status("VmHWM") - before}))
"""
)


def view_peak_memory(code) -> int:
    """Peak extra RSS in bytes of one 512x512 view of ``code`` at 1e12, in a fresh process."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = code.save(Path(tmp) / "code.collage")
        out = subprocess.run(
            [sys.executable, "-c", VIEW_PEAK_CHILD, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
        )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_extra"]


def setup(threads: int = THREADS) -> None:
    """Re-run this script with passive OpenMP waiting, then pin torch to ``threads`` threads.

    On a CPU shared with other jobs (here: VAE training), OpenMP's default spin-waiting
    made every small op tens of times slower (a 9 ms fit took 240 ms, all of it spinning).
    libgomp reads the policy once, when torch loads, hence the re-exec.
    """
    if os.environ.get("OMP_WAIT_POLICY") is None:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__} on CPU, {torch.get_num_threads()} threads, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, load average {load:.1f} on {os.cpu_count()} cores\n"
    )


def median_time(fn, runs: int = 3, warmup: bool = False) -> float:
    """Median seconds of ``runs`` calls of ``fn`` (after one uncounted call with ``warmup``)."""
    if warmup:
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed(fn, *args, **kwargs):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def cpu_timed(fn, *args, **kwargs):
    """``(wall seconds, CPU seconds of this process, result)`` of one call.

    CPU time counts only the time the process ran, so unlike wall time it barely moves
    with other jobs' load (with passive OpenMP waiting, idle threads add nothing).
    """
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def psnr(z: torch.Tensor, x: torch.Tensor) -> float:
    """PSNR in dB of ``z`` clipped to [0, 1] (what a render shows) against ``x``."""
    return -10 * math.log10(F.mse_loss(z.clamp(0, 1), x).item())


def load_photo(name: str, side: int) -> torch.Tensor:
    """``(1, C, side, side)``: a photo from ``assets/photos`` area-resized to a square."""
    return area_resize(to_tensor(open_image(PHOTOS / name))[None], (side, side))
