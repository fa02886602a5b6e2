"""Writes docs/zoom/looks.png: one dive, soft vs sharp copies, per-channel (vivid) vs colour-true.

    python benchmarks/looks_figure.py [--photo PATH] [--out docs/zoom/looks.png]

Rows: soft copies + vivid (the look before), soft + colour-true, sharp + vivid, sharp +
colour-true (the default). Columns: the same dive target at zooms 1, 1e2, 1e4, 1e6, 1e9.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import collage_core as cc
from collage_core.resources import example_photo

ZOOMS = (1.0, 1e2, 1e4, 1e6, 1e9)
SIDE = 192


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=str(example_photo("astronaut.jpg")))
    parser.add_argument("--out", default="docs/zoom/looks.png")
    parser.add_argument("--center", default="0.41,0.27", help="dive target x,y")
    args = parser.parse_args()
    center = tuple(float(v) for v in args.center.split(","))
    photo = Image.open(args.photo).convert("RGB")
    codes = {"soft": cc.fractalize(photo, copies=None, strength=0.0), "sharp": cc.fractalize(photo)}
    rows = []
    labels = []
    for copies in ("soft", "sharp"):
        for look in ("vivid", "colour"):
            frames = [
                np.asarray(
                    codes[copies]
                    .render_view(center if z > 1 else (0.5, 0.5), z, (SIDE, SIDE), autocontrast=look)
                    .convert("RGB")
                )
                for z in ZOOMS
            ]
            rows.append(np.concatenate(frames, axis=1))
            labels.append(f"{copies} copies, {'per-channel (vivid)' if look == 'vivid' else 'colour-true'}")
    pad = 22
    sheet = Image.new("RGB", (SIDE * len(ZOOMS), pad + len(rows) * (SIDE + pad)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, z in enumerate(ZOOMS):
        draw.text((j * SIDE + 4, 4), f"zoom {z:.0e}" if z > 1 else "zoom 1", fill="black")
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = pad + i * (SIDE + pad)
        draw.text((4, y + 5), label, fill="black")
        sheet.paste(Image.fromarray(row), (0, y + pad))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
