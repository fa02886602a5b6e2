"""The README's zoom figure: a dive into the astronaut from 1x to 1e12x, raw and auto-contrasted.

Fits ``assets/photos/astronaut.jpg`` (grid 32, d4), then renders 256x256 views at
zooms 1 .. 1e12 around the auto loop point (the cell that copies the whole image
best), as ``export_zoom`` does: the target keeps its place on screen. Top row: the raw
attractor, whose detail fades like ``s**levels``; bottom row: per-channel auto-contrast.

Run: ``python benchmarks/zoom_figure.py`` (a few seconds); writes
``docs/zoom/astronaut-dive.png``.
"""

from __future__ import annotations

import math

from core_common import PHOTOS, ROOT, setup
from PIL import Image, ImageDraw

ZOOMS = (1, 10, 1e2, 1e3, 1e6, 1e9, 1e12)
SIDE = 256
LABEL = 18


def main() -> None:
    setup()
    import collage_core as cc
    from collage_core.autocontrast import autocontrast
    from collage_core.image_io import to_image
    from collage_core.viewport import ViewRenderer
    from collage_core.zoom import auto_target

    code = cc.fractalize(PHOTOS / "astronaut.jpg", grid=32, symmetries="d4")
    tx, ty = auto_target(code)
    renderer = ViewRenderer(code)
    sheet = Image.new("RGB", (SIDE * len(ZOOMS), 2 * (SIDE + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, zoom in enumerate(ZOOMS):
        center = (tx + (0.5 - tx) / zoom, ty + (0.5 - ty) / zoom)
        raw = renderer.render(center, zoom, (SIDE, SIDE), precise=True)
        x = k * SIDE
        sheet.paste(to_image(raw.float().clamp(0, 1)), (x, LABEL))
        sheet.paste(to_image(autocontrast(raw).float()), (x, 2 * LABEL + SIDE))
        text = "1x" if zoom == 1 else f"1e{round(math.log10(zoom))}x"
        draw.text((x + 4, 3), f"{text} raw", fill="black")
        draw.text((x + 4, SIDE + LABEL + 3), f"{text} auto-contrast", fill="black")
    out = ROOT / "docs" / "zoom" / "astronaut-dive.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    # A 256-colour palette keeps the figure near 400 kB (1 MB as RGB) at no visible cost.
    sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
    print(f"loop point {tx:.4f}, {ty:.4f} (cell {code.grid} x {code.grid}); wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
