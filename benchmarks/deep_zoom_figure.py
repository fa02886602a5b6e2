"""Writes docs/zoom/deep_zoom_look.jpg: the Zoom tab's default loop before and after 30 Nov.

    python benchmarks/deep_zoom_figure.py [--out docs/zoom/deep_zoom_look.jpg] [--frames 6]

For three example photos, two rows each: the `deep-zoom` look as it was (hard grid 16,
strength 0.6, a planted loop cell) and as it ships (the preset file: blended grid 32,
strength 0.3, one copy weight shared by the channels, a cross-faded loop). Each row is
``--frames`` frames spread evenly over one loop of the preset's zoom settings, exported
exactly as ``collage zoom --preset deep-zoom`` exports them (the first frame of a loop is
already 1.5 cells deep).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageSequence

import collage_core as cc
from collage_core.image_io import open_image
from collage_core.presets import load_preset
from collage_core.resources import example_photo

SIDE = 160
PAD = 20
PHOTOS = ("chelsea.jpg", "astronaut.jpg", "coffee.jpg")
BEFORE = dict(grid=16, strength=0.6, s_max=0.95, blend=False, copies=1, plant_loop=True)


def loop_frames(code: cc.FractalCode, zoom: float, count: int) -> list[np.ndarray]:
    """``count`` frames spread over one loop, as the CLI exports it (lossless APNG)."""
    settings = cc.ZoomSettings(zoom=zoom, seconds=2.0, fps=12, loop=True, easing="linear")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "loop.png"
        cc.export_zoom(code, out, settings, size=(SIDE, SIDE))
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(out))]
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in picks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/zoom/deep_zoom_look.jpg")
    parser.add_argument("--frames", type=int, default=6)
    args = parser.parse_args()
    look = load_preset("deep-zoom")
    rows, labels = [], []
    for name in PHOTOS:
        img = open_image(example_photo(name))
        img.thumbnail((320, 320))
        for label, config, zoom in (
            ("before: hard grid 16, strength 0.6, planted loop cell", cc.FractalizeConfig(**BEFORE), 4096.0),
            ("now: blended grid 32, strength 0.3, shared weights, cross-faded loop", look.config(), look.zoom["zoom"]),
        ):
            code = cc.fractalize(img, config=config)
            rows.append(np.concatenate(loop_frames(code, zoom, args.frames), axis=1))
            labels.append(f"{name}, {label}")
    width = rows[0].shape[1]
    sheet = Image.new("RGB", (width, len(rows) * (SIDE + PAD)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = i * (SIDE + PAD)
        draw.text((4, y + 4), label, fill="black")
        sheet.paste(Image.fromarray(row), (0, y + PAD))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
