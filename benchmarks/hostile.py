"""Issue 11's hostile inputs sent one after another to a real studio server; its memory is watched.

Target: the server's resident memory stays under 3 GB through the whole sequence, every
input gets an answer (a result or a message for a person), the server keeps serving,
and its log holds no traceback for these expected errors.

    python benchmarks/hostile.py [--baseline REV] [--json out.json]

``--baseline REV`` first runs the same sequence against another revision of this
repository (extracted with ``git archive``) under an 8 GB address-space cap, so the
unfixed server fails its allocations instead of taking the machine down.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from studio_server import REPO, Studio, extract, load_note

sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from gradio_client import Client, handle_file  # noqa: E402
from hostile_inputs import code_file, nested_json, png  # noqa: E402

TARGET_RSS = 3 * 10**9
ANSWER_TIMEOUT_S = 180  # the unfixed server never answered a zoom into a 20000x8 strip
BASELINE_CAP = 8 * 2**30


def cases(folder: Path) -> list[tuple[str, str, tuple, dict]]:
    """``(label, api_name, args, kwargs)`` of each hostile request (files made in ``folder``)."""
    f = lambda name, size, mode="RGB": handle_file(str(png(folder, name, size, mode)))  # noqa: E731
    c = lambda name, **meta: handle_file(str(code_file(folder, name, **meta)))  # noqa: E731
    return [
        ("20000x8 PNG", "/fractalize", (f("strip.png", (20000, 8)),), {}),
        ("2000x100 photo at x16", "/fractalize", (f("wide.png", (2000, 100)),), {"magnify": 16}),
        ("16x2000 photo at x4", "/fractalize", (f("tall.png", (16, 2000)),), {"magnify": 4}),
        ("2048x128 (16:1) at x16", "/fractalize", (f("edge.png", (2048, 128)),), {"magnify": 16}),
        (".collage claiming 65536x1", "/load_code", (c("claims.collage", source_size="65536,1"),), {}),
        (".collage claiming 32768x2048", "/load_code", (c("big.collage", source_size="32768,2048"),), {}),
        (".collage with nested JSON", "/load_code", (c("nested.collage", extra=nested_json(2000)),), {}),
        ("16-bit gray PNG", "/fractalize", (f("deep.png", (512, 384), "I;16"),), {}),
        ("RGBA PNG", "/fractalize", (f("alpha.png", (512, 384), "RGBA"),), {}),
        ("CMYK JPEG", "/fractalize", (f("cmyk.jpg", (512, 384), "CMYK"),), {}),
        ("grid 2.5", "/fractalize", (f("ok.png", (256, 256)),), {"grid": 2.5}),
        ("seed 2^70", "/fractalize", (f("ok2.png", (256, 256)),), {"seed": 2**70}),
        ("magnify 1e9", "/fractalize", (f("ok3.png", (256, 256)),), {"magnify": 1e9}),
        ("zoom into a 20000x8 strip", "/zoom", (f("strip2.png", (20000, 8)),), {}),
    ]


def run(studio: Studio, folder: Path) -> list[dict]:
    client = Client(studio.url, verbose=False)
    rows = []
    for label, api, args, kwargs in cases(folder):
        before = studio.rss()
        t = time.perf_counter()
        job = client.submit(*args, api_name=api, **kwargs)
        try:
            out = job.result(timeout=ANSWER_TIMEOUT_S)
            first = out[0] if isinstance(out, list | tuple) else out
            answer = f"result {Path(first).name if isinstance(first, str) else type(first).__name__}"
        except TimeoutError:
            answer = f"no answer within {ANSWER_TIMEOUT_S} s"
        except Exception as exc:  # noqa: BLE001 - the message is what we report
            answer = "message: " + (str(exc).strip().splitlines() or [type(exc).__name__])[0][:110]
        seconds = time.perf_counter() - t
        peak = max((r for s, r in studio.samples if s >= 0), default=0)
        rows.append(
            {
                "input": label,
                "answer": answer,
                "seconds": round(seconds, 2),
                "rss_before_gb": round(before / 1e9, 2),
                "peak_so_far_gb": round(peak / 1e9, 2),
                "alive": studio.alive,
            }
        )
        print(f"  {label:30s} {seconds:6.1f} s  peak {peak / 1e9:5.2f} GB  {answer}", flush=True)
        if not studio.alive:
            print("  the server died", flush=True)
            break
    return rows


def measure(repo: Path, cap: int | None, title: str) -> dict:
    print(f"\n{title}  ({load_note()})", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="hostile-"))
    studio = Studio(repo, address_cap=cap)
    try:
        rows = run(studio, folder)
    finally:
        studio.stop()
    tracebacks = studio.log.count("Traceback (most recent call last)")
    print(
        f"  peak RSS {studio.peak_rss / 1e9:.2f} GB (target < {TARGET_RSS / 1e9:.0f} GB); "
        f"tracebacks in the server log: {tracebacks}; server alive at the end: {rows[-1]['alive']}",
        flush=True,
    )
    return {"title": title, "rows": rows, "peak_rss_gb": studio.peak_rss / 1e9, "tracebacks": tracebacks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also run this revision first, under an 8 GB cap")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    results = []
    if args.baseline:
        results.append(measure(extract(args.baseline), BASELINE_CAP, f"baseline {args.baseline} (8 GB cap)"))
    results.append(measure(REPO, None, "this tree (no cap)"))
    ok = results[-1]["peak_rss_gb"] * 1e9 < TARGET_RSS and results[-1]["rows"][-1]["alive"]
    print(f"\n{'PASS' if ok else 'FAIL'}: peak RSS {results[-1]['peak_rss_gb']:.2f} GB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
