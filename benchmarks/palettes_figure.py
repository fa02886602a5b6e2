"""Writes docs/zoom/palettes.jpg: the snowflake preset before and after palettes, and each palette on one dive.

    python benchmarks/palettes_figure.py [--out docs/zoom/palettes.jpg]

Top: the snowflake preset's render of every example photo in the photo's own colours
(``colour="true"``: a brown photo makes a brown snowflake), then as the preset ships
(``colour="ice"``). Below: one dive into the cat (default fit) at zooms 1, 1e3, 1e6, in
``true`` and in every palette: the same anchored, smoothed levels painted through each ramp.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import collage_core as cc
from collage_core.image_io import open_image
from collage_core.palette import PALETTES
from collage_core.presets import load_preset
from collage_core.resources import example_photo, example_photos

SIDE = 144
ZOOMS = (1.0, 1e3, 1e6)
CENTER = (0.36, 0.42)  # between the cat's eyes
PAD = 20


def _tile(img: Image.Image) -> np.ndarray:
    """``img`` centre-cropped to a square and shrunk to SIDE."""
    img = img.convert("RGB")
    s = min(img.size)
    left, top = (img.width - s) // 2, (img.height - s) // 2
    return np.asarray(img.crop((left, top, left + s, top + s)).resize((SIDE, SIDE), Image.Resampling.LANCZOS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/zoom/palettes.jpg")
    args = parser.parse_args()
    snow = load_preset("snowflake")
    rows, labels = [], []
    codes = []
    for path in example_photos():
        img = open_image(path)
        img.thumbnail((320, 320))
        codes.append(cc.fractalize(img, config=snow.config()))
    for colour in ("true", snow.render["colour"]):
        rows.append(np.concatenate([_tile(code.render(1, colour=colour)) for code in codes], axis=1))
        labels.append(f"snowflake preset, colour={colour!r}" + (" (before)" if colour == "true" else " (as shipped)"))
    cat = cc.fractalize(open_image(example_photo("chelsea.jpg")))
    for start in range(0, 1 + len(PALETTES), 2):  # two colours side by side per row
        pair = (["true", *PALETTES])[start : start + 2]
        views = [
            np.asarray(cat.render_view(CENTER if z > 1 else (0.5, 0.5), z, (SIDE, SIDE), autocontrast=c).convert("RGB"))
            for c in pair
            for z in ZOOMS
        ]
        rows.append(np.concatenate(views, axis=1))
        labels.append("      |      ".join(f"{c}: zoom 1, 1e3, 1e6" for c in pair))
    width = max(row.shape[1] for row in rows)
    sheet = Image.new("RGB", (width, len(rows) * (SIDE + PAD)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = i * (SIDE + PAD)
        draw.text((4, y + 4), label, fill="black")
        sheet.paste(Image.fromarray(np.ascontiguousarray(row)), (0, y + PAD))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88, optimize=True)  # a JPEG: a sixth of the PNG's bytes for these textures
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
