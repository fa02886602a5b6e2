"""The README's opening picture: ``docs/core/fractalize.png``.

Four panels, 512x512 each: the photo | its attractor at 1x | an 8x magnified crop of
the attractor (exact decode, ``render(8)``) | the same region of the photo upscaled 8x
by bicubic interpolation. The crop region is outlined on the first two panels.

Run: ``python benchmarks/core_figure.py`` (a few seconds).
"""

from __future__ import annotations

from core_common import PHOTOS, ROOT, setup
from PIL import Image, ImageDraw

import collage_core as cc

OUT = ROOT / "docs" / "core" / "fractalize.png"
GRID, MAGNIFY = 32, 8
CROP = (216, 88, 280, 152)  # (left, top, right, bottom) in the 512x512 photo: the eyes
GAP, LABEL = 8, 28


def main() -> None:
    setup()
    photo = cc.open_image(PHOTOS / "astronaut.jpg")
    code = cc.fractalize(photo, grid=GRID, symmetries="d4")
    attractor = code.render(1)
    left, top, right, bottom = CROP
    zoom = code.render(MAGNIFY).crop(tuple(v * MAGNIFY for v in CROP))
    bicubic = photo.crop(CROP).resize(zoom.size, Image.Resampling.BICUBIC)

    panels = [
        (photo.copy(), "photo (512x512)"),
        (attractor.copy(), f"attractor 1x (grid {GRID}, d4)"),
        (zoom, f"attractor {MAGNIFY}x, exact (crop)"),
        (bicubic, f"photo {MAGNIFY}x, bicubic (same crop)"),
    ]
    for img, _ in panels[:2]:
        ImageDraw.Draw(img).rectangle((left - 1, top - 1, right, bottom), outline=(255, 220, 0), width=2)
    side = panels[0][0].width
    sheet = Image.new("RGB", (4 * side + 3 * GAP, side + LABEL), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (img, label) in enumerate(panels):
        x = i * (side + GAP)
        sheet.paste(img.convert("RGB"), (x, LABEL))
        draw.text((x + 4, 6), label, fill="black", font_size=18)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(OUT, optimize=True)
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
