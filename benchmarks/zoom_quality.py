"""Issue 8's targets: sharp self-copies, colour-true frames, no dead ends, fidelity, speed.

Run from the repository root (needs ``pip install scikit-image`` for the held-out photos)::

    python benchmarks/zoom_quality.py            # all five held-out photos, 16 targets each
    python benchmarks/zoom_quality.py --quick    # 2 photos, 4 targets: a smoke run

Every number is printed for the soft fit (``copies=None``, strength 0: the look before
this issue) and the sharp one side by side, measured in the same run:

* **copies**: a view of one cell at depth 1-3 (the centre of a random cell path, zoom =
  grid**depth) against the 1x attractor: mean per-channel |NCC|, best of the 8
  orientations (target: median >= 0.9).
* **colour**: CIELAB a*b* distance of a frame's mean colour from the photo's, frames at
  zooms 1e2, 1e4, 1e6, 1e9, 1e12 around random targets, tone-mapped as animations are
  (target: median <= 6, p90 <= 15). Mean colours can agree while the detail is off-hue,
  so **foreign colours** is also printed: the share of a frame's pixels whose a*b* the
  photo never holds (``colour_metrics.PhotoGamut``, 10 a*b* units of slack; no target).
* **dead ends**: the share of those frames that are flat: luma std under 4/255, or mean
  |gradient| under 0.15 of the 1x view's (target: <= 1% for the zoom look), also per
  photo (``--targets 8`` halves the run for a quick check).
* **fidelity**: 1x PSNR at grid 32 (target: sharp within 1.5 dB of soft).
* **speed**: fit + render(1) of the 512x512 photo, and a 512x512 view at 1e12.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from colour_metrics import PhotoGamut, mean_ab  # noqa: E402
from core_common import median_time, setup  # noqa: E402
from heldout import heldout_photos  # noqa: E402

import collage_core as cc  # noqa: E402
from collage_core.symmetry import apply_symmetries  # noqa: E402
from collage_core.viewport import ViewRenderer  # noqa: E402

ZOOMS = (1e2, 1e4, 1e6, 1e9, 1e12)
LOOKS = {
    "soft (before)": dict(copies=None, strength=0.0),
    "sharp, strength 0": dict(copies=1, strength=0.0),
    "sharp (default)": dict(),
    "zoom look (deep-zoom)": dict(preset="deep-zoom"),
}


def fit(photo, look: dict):
    if "preset" in look:
        from collage_core.presets import load_preset

        return cc.fractalize(photo, config=load_preset(look["preset"]).config().override(plant_loop=False))
    return cc.fractalize(photo, grid=32, **look)


def ncc_best(view: np.ndarray, whole: np.ndarray) -> float:
    """Mean per-channel |NCC| of ``view`` against ``whole`` ``(C, h, w)``, best of the 8 orientations."""
    copies = apply_symmetries(torch.from_numpy(whole), "d4").numpy()  # (C, 8, h, w)
    best = 0.0
    for n in range(copies.shape[1]):
        scores = []
        for c in range(view.shape[0]):
            a = view[c] - view[c].mean()
            b = copies[c, n] - copies[c, n].mean()
            denom = np.sqrt((a * a).sum() * (b * b).sum())
            scores.append(abs((a * b).sum()) / denom if denom > 0 else 0.0)
        best = max(best, float(np.mean(scores)))
    return best


def cell_path_view(renderer, grid: int, rng, size: int = 256) -> tuple[np.ndarray, int]:
    depth = int(rng.integers(1, 4))
    x = y = 0.0
    for level in range(1, depth + 1):
        x += int(rng.integers(grid)) / grid**level
        y += int(rng.integers(grid)) / grid**level
    half = 0.5 / grid**depth
    view = renderer.render((x + half, y + half), float(grid) ** depth, (size, size), precise=True)
    return view.cpu().numpy(), depth


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def detail(y: np.ndarray) -> float:
    return float(np.abs(np.diff(y, axis=0)).mean() + np.abs(np.diff(y, axis=1)).mean())


def frames(code, rng, targets: int, size: int = 256):
    """Tone-mapped frames (``(H, W, 3)`` in [0, 1]) at every zoom around random targets."""
    for _ in range(targets):
        center = (float(rng.uniform(0.05, 0.95)), float(rng.uniform(0.05, 0.95)))
        for z in ZOOMS:
            img = code.render_view(center=center, zoom=z, size=(size, size), autocontrast=True)
            yield np.asarray(img.convert("RGB"), dtype=np.float64) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 photos, 4 targets")
    parser.add_argument("--targets", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5, help="timing runs (median)")
    args = parser.parse_args()
    setup()
    photos = heldout_photos(512)
    targets = 4 if args.quick else args.targets
    if args.quick:
        photos = dict(list(photos.items())[:2])
    rows = {look: {"ncc": [], "ab": [], "foreign": [], "flat": [], "psnr": [], "by_photo": {}} for look in LOOKS}
    for name, photo in photos.items():
        photo_ab = np.array(mean_ab(np.asarray(photo)))
        gamut = PhotoGamut(np.asarray(photo))
        for look, settings in LOOKS.items():
            code = fit(photo, settings)
            rng = np.random.default_rng(0)
            renderer = ViewRenderer(code)
            whole = renderer.render((0.5, 0.5), 1.0, (256, 256), precise=True).cpu().numpy()
            rows[look]["ncc"] += [ncc_best(cell_path_view(renderer, code.grid, rng)[0], whole) for _ in range(targets)]
            top = np.asarray(code.render_view(size=(256, 256), autocontrast=True).convert("RGB"), float) / 255
            top_detail = detail(luma(top))
            first = len(rows[look]["flat"])
            for frame in frames(code, rng, targets):
                rgb = (frame * 255).round().astype(np.uint8)
                rows[look]["ab"].append(float(np.linalg.norm(np.array(mean_ab(rgb)) - photo_ab)))
                rows[look]["foreign"].append(gamut.foreign_share(rgb))
                y = luma(frame)
                rows[look]["flat"].append(y.std() < 4 / 255 or detail(y) < 0.15 * top_detail)
            rows[look]["by_photo"][name] = float(np.mean(rows[look]["flat"][first:]))
            out = np.asarray(code.render(1), dtype=np.float64)
            mse = ((out - np.asarray(photo, dtype=np.float64)) ** 2).mean()
            rows[look]["psnr"].append(10 * np.log10(255**2 / mse))
        print(f"  {name}: done", flush=True)

    print(f"\n{len(photos)} held-out photos, {targets} targets each, grid 32 d4 (zoom look: deep-zoom preset)\n")
    print(
        "| look | cell-view NCC median (>= 0.9) | a*b* distance median / p90 (<= 6 / 15) "
        "| foreign colours median / p90 | flat frames (<= 1%) | 1x PSNR median |"
    )
    print("|---|---|---|---|---|---|")
    soft_psnr = rows["soft (before)"]["psnr"]
    for look, r in rows.items():
        ab, foreign = np.array(r["ab"]), 100 * np.array(r["foreign"])
        gap = np.median(np.array(r["psnr"]) - np.array(soft_psnr))
        print(
            f"| {look} | {np.median(r['ncc']):.3f} | {np.median(ab):.1f} / {np.percentile(ab, 90):.1f} | "
            f"{np.median(foreign):.1f}% / {np.percentile(foreign, 90):.1f}% | "
            f"{100 * np.mean(r['flat']):.1f}% | {np.median(r['psnr']):.2f} dB ({gap:+.2f} vs soft) |"
        )

    # Where the flat frames are: a look's dead ends usually sit in one kind of photo.
    print(
        "\nflat frames per photo: "
        + "; ".join(
            f"{look}: " + ", ".join(f"{n} {100 * v:.0f}%" for n, v in r["by_photo"].items()) for look, r in rows.items()
        )
    )

    photo = next(iter(photos.values()))
    soft_t = median_time(lambda: cc.fractalize(photo, copies=None, strength=0.0).render(1), args.runs)
    sharp_t = median_time(lambda: cc.fractalize(photo).render(1), args.runs)
    code = cc.fractalize(photo)
    renderer = ViewRenderer(code)
    view_t = median_time(lambda: renderer.render((0.37, 0.61), 1e12, (512, 512), precise=True), args.runs)
    print(f"\nfit + render(1), 512x512: soft {soft_t * 1e3:.0f} ms, sharp {sharp_t * 1e3:.0f} ms ")
    print(f"  ratio sharp / soft {sharp_t / soft_t:.2f} (target <= 2)")
    print(f"512x512 view at 1e12 (sharp default code): {view_t:.3f} s (target <= 0.5 s)")


if __name__ == "__main__":
    main()
