"""Posters: one view of an attractor at up to 16384^2, rendered in blocks, streamed to a PNG.

A poster is the view ``(center, zoom)`` at ``size``, exactly as :func:`render_view`
would draw it if it could hold it in memory: each block of ``BLOCK`` pixels is itself a
view whose pixels are the same area averages of the same virtual image ``A(S)`` (the
block's zoom is chosen so its pixels have the poster's size, and every coordinate is an
exact fraction), so blocks meet without seams. A band of blocks is rendered while the
one before it is written through :class:`~collage_core.png_stream.PngWriter` in a
thread: memory stays about ``2 x BLOCK x width x 3`` bytes plus one block's float64
render, whatever the height.

Tone: one set of levels for the whole poster, from a reference render of the same view
at most ``REFERENCE_SIDE`` pixels wide (so a poster no larger than that has exactly the
levels :func:`render_view` would pick).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from .fit import Cancelled
from .palette import painted_channels, parse_colour
from .tiles import render_exact, tone, tone_levels
from .viewport import MAX_ZOOM, ViewRenderer, check_size

MAX_POSTER_SIDE = 16384
MIN_POSTER_SIDE = 16
BLOCK = 1024  # 1024^2 float64 RGB is 25 MB; fewer, larger blocks share more of each level's windows
REFERENCE_SIDE = 1024


def _exact(value, what: str) -> Fraction:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        return Fraction(value) if not isinstance(value, str) else Fraction(value.strip())
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None


def check_view_exact(center, zoom) -> tuple[tuple[Fraction, Fraction], Fraction]:
    """``(center, zoom)`` as exact fractions (floats, ints, decimal strings, Fractions), validated."""
    try:
        x, y = center
    except (TypeError, ValueError):
        raise ValueError(f"center must be a pair (x, y), got {center!r}") from None
    cx, cy = _exact(x, "center x"), _exact(y, "center y")
    z = _exact(zoom, "zoom")
    if not (0 <= cx <= 1 and 0 <= cy <= 1):
        raise ValueError(f"center must lie in the image, (x, y) in [0, 1], got ({float(cx):.4g}, {float(cy):.4g})")
    if not (1 <= z <= MAX_ZOOM):
        raise ValueError(f"zoom must be in [1, {MAX_ZOOM:.0e}], got {float(z):.4g}")
    return (cx, cy), z


def block_views(center, zoom, size: tuple[int, int], aspect: Fraction, block: int = BLOCK):
    """The blocks of a poster, row-major: ``(top, left, (cx, cy), zoom, (w, h))`` each (exact).

    Pixel ``(i, j)`` of the poster covers ``[x0 + j/(zoom w), ...)`` with square pixels,
    so a block of ``bw`` columns is the view of zoom ``zoom * w / bw`` centred on its middle.
    """
    (cx, cy), zoom = center, zoom
    w, h = size
    px = 1 / (zoom * w)  # width of a pixel, in image widths
    py = aspect * px  # its height, in image heights (square on the display)
    x0, y0 = cx - w * px / 2, cy - h * py / 2
    for top in range(0, h, block):
        bh = min(block, h - top)
        for left in range(0, w, block):
            bw = min(block, w - left)
            bc = (x0 + (left + Fraction(bw, 2)) * px, y0 + (top + Fraction(bh, 2)) * py)
            yield top, left, bc, zoom * w / bw, (bw, bh)


def render_poster(
    code,
    path: str | os.PathLike,
    size: tuple[int, int] = (4096, 4096),
    center=(0.5, 0.5),
    zoom=1.0,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    *,
    autocontrast: bool | str = True,
    levels: torch.Tensor | None = None,
    block: int = BLOCK,
    device: str | torch.device | None = None,
) -> Path:
    """Render one view of ``code`` as a PNG poster of up to 16384 x 16384 pixels.

    Args:
        code: a :class:`~collage_core.code.FractalCode`.
        path: the ``.png`` to write (written to a temporary name, renamed when done).
        size: ``(w, h)`` pixels, each side 16..16384.
        center: normalised ``(x, y)``; floats, or exact decimal strings / Fractions for deep views.
        zoom: ``1 <= zoom <= 1e15``; the poster spans ``1 / zoom`` of the image width.
        progress: ``progress(done, total)`` after each block.
        cancel: set it to stop at the next block; raises :class:`Cancelled`, leaves no file.
        autocontrast: stretch with one set of levels for the whole poster (deep views are
            otherwise flat); ``levels`` ``(2, C)`` gives them explicitly (the Explore
            view's own levels, for a poster that looks like the screen). A palette name
            (``"ice"``, ``"ice:0.7"``: :mod:`~collage_core.palette`) paints those levels.
        block: block side in pixels.
    Returns:
        the path written.
    """
    from .png_stream import PngWriter

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"a poster is a PNG: {path.name} must end in .png")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist")
    w, h = check_size(size, MIN_POSTER_SIDE, MAX_POSTER_SIDE)
    center, zoom = check_view_exact(center, zoom)
    if not (64 <= block <= 2048):
        raise ValueError(f"block must be 64..2048 pixels, got {block}")
    renderer = ViewRenderer(code, device)
    aspect = renderer.aspect_fraction
    look, palette = parse_colour(autocontrast, "autocontrast")
    if look == "vivid":
        raise ValueError("a poster is colour-true, a palette or off; 'vivid' is for zoom animations")
    lv = levels
    if lv is None and look != "off":
        scale = min(Fraction(1), Fraction(REFERENCE_SIDE, max(w, h)))
        ref_size = (max(1, round(w * scale)), max(1, round(h * scale)))
        lv = tone_levels(render_exact(renderer, center, zoom, ref_size), renderer, zoom, palette)
    blocks = list(block_views(center, zoom, (w, h), aspect, block))
    channels = painted_channels(code.channels, palette if lv is not None else None)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial.png")
    writer = PngWriter(tmp, w, h, channels)
    # A finished band is filtered and compressed in a thread (zlib lets go of the GIL)
    # while the next band renders: a second band in memory, the PNG's time hidden.
    compressor = ThreadPoolExecutor(1, thread_name_prefix="poster-png")
    pending = None
    try:
        band, band_top = None, -1
        for done, (top, left, bc, bz, (bw, bh)) in enumerate(blocks, start=1):
            if cancel is not None and cancel.is_set():
                raise Cancelled("poster cancelled")
            if top != band_top:
                if band is not None:
                    if pending is not None:
                        pending.result()
                    pending = compressor.submit(writer.write_rows, band)
                band, band_top = np.empty((bh, w, channels), dtype=np.uint8), top
            raw = render_exact(renderer, bc, bz, (bw, bh))
            values = tone(raw, lv, palette) if lv is not None else raw.clamp(0, 1)
            # The same rounding as image_io.to_image, so a poster equals render_view's image.
            q = (values.float() * 255 + 0.5).clamp_(0, 255).to(torch.uint8)
            band[:, left : left + bw] = q.permute(1, 2, 0).cpu().numpy()
            if progress is not None:
                progress(done, len(blocks))
        if pending is not None:
            pending.result()
        writer.write_rows(band)
        writer.close()
        os.replace(tmp, path)
    except BaseException:
        compressor.shutdown(wait=True)  # the writer is not touched while a band is compressed
        writer.abort()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        compressor.shutdown(wait=True)
    return path
