"""Peak memory of ``FractalCode.render(m)`` against the output image's float size.

torch's CPU allocations are invisible to ``tracemalloc``, so each measurement runs in
a fresh subprocess that loads a saved code, warms up with ``render(1)``, resets the
kernel's peak-RSS counter (``/proc/self/clear_refs``), renders once, and reports the
peak resident set (``VmHWM``) minus the resident set before the render. Two
measurements per magnification:

* ``render_tensor(m)``: the exact decode alone, float32 ``(C, H, W)``;
* ``render(m)``: the full call, including the conversion to a PIL image.

The target (issue 2) is a peak growth within 3x of ``C * H * W * 4`` bytes.

Run: ``python benchmarks/core_memory.py`` (under a minute on 2 CPU cores; Linux only).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from core_common import PEAK_RSS_CHILD, PHOTOS, setup

PHOTO = PHOTOS / "astronaut.jpg"
MAGNIFICATIONS = (1, 2, 4, 8, 16)
TARGET = 3.0

CHILD = (
    PEAK_RSS_CHILD
    + """
code = cc.FractalCode.load(sys.argv[1])
kind, m = sys.argv[2], int(sys.argv[3])
code.render(1)  # warm-up: allocator, caches, lazy imports
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM to the current RSS
before = status("VmRSS")
out = code.render_tensor(m) if kind == "tensor" else code.render(m)
print(json.dumps({"before": before, "peak": status("VmHWM")}))
"""
)


def measure(code_path: Path, kind: str, m: int) -> int:
    """Peak RSS growth in bytes of one render in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(code_path), kind, str(m)], capture_output=True, text=True, check=True
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["peak"] - result["before"]


def main() -> None:
    import collage_core as cc

    setup()
    code = cc.fractalize(PHOTO, grid=32, symmetries="d4")
    print(f"Peak RSS growth of render(m): {PHOTO.name}, grid 32, d4; one fresh subprocess per cell")
    print(f"target: growth <= {TARGET:.0f}x the float32 output (C*H*W*4 bytes)\n")
    print("| m | output | float32 output | render_tensor(m) peak | ratio | render(m) peak | ratio | within 3x |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        path = code.save(Path(tmp) / "astronaut.collage")
        for m in MAGNIFICATIONS:
            w, h = code.output_size(m)
            floats = code.channels * w * h * 4
            tensor = measure(path, "tensor", m)
            full = measure(path, "render", m)
            ok = "yes" if max(tensor, full) <= TARGET * floats else "NO"
            print(
                f"| {m} | {w}x{h} | {floats / 2**20:.0f} MiB | {tensor / 2**20:.0f} MiB | {tensor / floats:.3f}x "
                f"| {full / 2**20:.0f} MiB | {full / floats:.3f}x | {ok} |"
            )


if __name__ == "__main__":
    main()
