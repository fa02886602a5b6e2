"""Colour casts of deep views: how far a frame's mean CIELAB a*b* lies from the photo's.

``mean_ab`` and ``ab_distance`` are the measure of issue 8's colour target (median at
most 6, p90 at most 15). Run as a script, it fractalizes five photos that are not in
``assets/`` (scikit-image's Hubble deep field, retina, motorcycle, microscope slide and
the astronaut portrait; centre-cropped square, area-resized to 512), renders 16 random
views of each at zooms 1e2, 1e4, 1e6, 1e9 and 1e12 (256x256) and prints the median and
p90 distance of the vivid (per-channel) and colour-true looks side by side.

Run: ``python benchmarks/colour_metrics.py [--out DIR]`` (about a minute on 2 cores);
``--out`` also writes a few vivid | colour-true example pairs as PNGs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ZOOMS = (1e2, 1e4, 1e6, 1e9, 1e12)
VIEWS = 16
SIDE = 256
PHOTO_SIDE = 512
D65 = np.array([0.95047, 1.0, 1.08883])  # reference white of sRGB
SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 sRGB -> ``(..., 3)`` CIELAB (D65), float64."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    t = (linear @ SRGB_TO_XYZ.T) / D65
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    L = 116 * f[..., 1] - 16
    return np.stack([L, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def mean_ab(rgb: np.ndarray) -> tuple[float, float]:
    """Mean CIELAB ``(a*, b*)`` of an ``(H, W, 3)`` uint8 sRGB picture."""
    lab = srgb_to_lab(np.asarray(rgb)[..., :3])
    return float(lab[..., 1].mean()), float(lab[..., 2].mean())


def ab_distance(frame: np.ndarray, photo: np.ndarray) -> float:
    """Distance between the mean a*b* of two ``(H, W, 3)`` uint8 pictures."""
    (a0, b0), (a1, b1) = mean_ab(frame), mean_ab(photo)
    return float(np.hypot(a0 - a1, b0 - b1))


AB_BIN = 2.0  # a*b* units per histogram bin
AB_RANGE = 128.0  # a* and b* of sRGB colours lie within +-128


class PhotoGamut:
    """The a*b* colours a photo holds, to ask which pixels of a frame it never had.

    ``mean_ab`` compares mean colours only: a frame half teal and half orange can average
    to a brown photo's mean. Here every pixel counts. A photo's gamut is the set of
    ``AB_BIN``-sized a*b* bins holding at least ``min_share`` of its pixels, grown by
    ``radius`` a*b* units (a just-noticeable colour difference is about 2.3).
    """

    def __init__(self, photo: np.ndarray, radius: float = 10.0, min_share: float = 1e-4):
        ab = srgb_to_lab(np.asarray(photo)[..., :3])[..., 1:].reshape(-1, 2)
        n = int(2 * AB_RANGE / AB_BIN)
        counts = np.zeros((n, n))
        np.add.at(counts, tuple(self._bins(ab).T), 1)
        held = counts >= max(1.0, min_share * len(ab))
        reach = int(np.ceil(radius / AB_BIN))
        grown = np.zeros_like(held)
        padded = np.pad(held, reach)
        for dy in range(-reach, reach + 1):
            for dx in range(-reach, reach + 1):
                if dy * dy + dx * dx <= reach * reach:
                    grown |= padded[reach + dy : reach + dy + n, reach + dx : reach + dx + n]
        self.inside = grown

    @staticmethod
    def _bins(ab: np.ndarray) -> np.ndarray:
        n = int(2 * AB_RANGE / AB_BIN)
        return np.clip(((ab + AB_RANGE) / AB_BIN).astype(int), 0, n - 1)

    def foreign_share(self, frame: np.ndarray) -> float:
        """Share of an ``(H, W, 3)`` uint8 frame's pixels whose a*b* the photo never holds."""
        ab = srgb_to_lab(np.asarray(frame)[..., :3])[..., 1:].reshape(-1, 2)
        bins = self._bins(ab)
        return float(1.0 - self.inside[bins[:, 0], bins[:, 1]].mean())


def held_out_photos() -> dict[str, np.ndarray]:
    """The five held-out photos (:mod:`heldout`) as uint8 ``(512, 512, 3)`` arrays."""
    from heldout import heldout_photos

    return {name: np.asarray(img) for name, img in heldout_photos(PHOTO_SIDE).items()}


def to_uint8(x) -> np.ndarray:
    return (x.float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for example PNGs (vivid | colour-true)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from core_common import setup

    setup()  # passive OpenMP waiting and 2 threads, as the other benchmarks
    import torch
    from PIL import Image

    import collage_core as cc
    from collage_core.tone import tone_view
    from collage_core.viewport import ViewRenderer

    looks = ("vivid", "colour")
    dist: dict[str, list[float]] = {look: [] for look in looks}
    print(f"{'photo':<11} {'vivid med':>9} {'p90':>6}   {'colour med':>10} {'p90':>6}")
    for name, photo in held_out_photos().items():
        code = cc.fractalize(photo, grid=32, symmetries="d4")
        renderer = ViewRenderer(code)
        gen = torch.Generator().manual_seed(args.seed)
        mine: dict[str, list[float]] = {look: [] for look in looks}
        for k in range(VIEWS):
            center = tuple(torch.rand(2, generator=gen, dtype=torch.float64).tolist())
            for zoom in ZOOMS:
                raw = renderer.render(center, zoom, (SIDE, SIDE), precise=True)
                frames = {look: to_uint8(tone_view(raw, look, renderer, zoom)) for look in looks}
                for look in looks:
                    mine[look].append(ab_distance(frames[look], photo))
                if args.out is not None and k < 2 and zoom in (1e4, 1e12):
                    args.out.mkdir(parents=True, exist_ok=True)
                    pair = np.concatenate([frames["vivid"], frames["colour"]], axis=1)
                    Image.fromarray(pair).save(args.out / f"{name}-{k}-1e{round(np.log10(zoom))}.png")
        row = [f"{np.median(mine[look]):9.1f} {np.percentile(mine[look], 90):6.1f}" for look in looks]
        print(f"{name:<11} {row[0]}   {row[1]:>17}", flush=True)
        for look in looks:
            dist[look] += mine[look]
    row = [f"{np.median(dist[look]):9.1f} {np.percentile(dist[look], 90):6.1f}" for look in looks]
    print(f"{'all':<11} {row[0]}   {row[1]:>17}   (target: colour median <= 6, p90 <= 15)")


if __name__ == "__main__":
    main()
