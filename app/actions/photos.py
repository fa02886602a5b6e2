"""Uploads as the studio accepts them: normalised photos, safe file names, digests, the start image."""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

import collage_core as cc

from .. import limits

START_IMAGES = ("noise", "gray")  # what an iteration can start from besides a photo


@dataclass(frozen=True)
class Photo:
    """A usable upload: normalised to L/LA/RGB/RGBA and within the studio's pixel limit.

    Attributes:
        notes: what was changed on the way in ("downscaled from ...", "first frame of ..."),
            shown to the user as notices.
    """

    image: Image.Image
    name: str = "photo"
    notes: tuple[str, ...] = ()


def load_photo(
    source, max_pixels: int = limits.MAX_INPUT_PIXELS, what: str = "photo", max_side: int | None = limits.MAX_INPUT_SIDE
) -> Photo:
    """Open any Pillow-readable upload; downscale (never refuse) photos above ``max_pixels`` or ``max_side``.

    Args:
        source: a path, bytes, PIL image or array.
        what: how the message names this input ("photo", "style image", ...).
    Raises:
        ValueError: not an image, truncated, tiny, or beyond the engine's hard limit.
    """
    if source is None or (isinstance(source, str) and not source.strip()):
        raise ValueError(f"No {what}: upload one, paste one, or click an example.")
    notes = list(_inspect(source))
    try:
        img = cc.open_image(source)
    except ValueError as exc:
        raise ValueError(f"Cannot use this {what}: {exc}") from None
    w, h = img.size
    max_side = max_side or max(w, h)
    if w * h > max_pixels or max(w, h) > max_side:
        scale = min(math.sqrt(max_pixels / (w * h)), max_side / max(w, h))
        size = (max(cc.image_io.MIN_SIDE, int(w * scale)), max(cc.image_io.MIN_SIDE, int(h * scale)))
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        notes.append(
            f"Downscaled from {w}×{h} ({w * h / 1e6:.1f} MP) to {size[0]}×{size[1]}: "
            f"the studio works on at most {max_pixels / 1e6:.0f} MP and {max_side} px a side."
        )
    name = Path(source).stem if isinstance(source, str | Path) else "photo"
    return Photo(image=img, name=safe_stem(name), notes=tuple(notes))


def _inspect(source) -> list[str]:
    """Notes on conversions ``open_image`` will make (animation, CMYK, 16-bit); never raises."""
    try:
        if isinstance(source, Image.Image):
            mode, frames, fmt = source.mode, getattr(source, "n_frames", 1), source.format or "image"
        elif isinstance(source, bytes | str | Path):
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as probe:
                mode, frames, fmt = probe.mode, getattr(probe, "n_frames", 1), probe.format or "image"
        else:
            return []
    except Exception:  # noqa: BLE001 - open_image reports unreadable input properly
        return []
    notes = []
    if frames > 1:
        notes.append(f"Animated {fmt} with {frames} frames: using the first frame.")
    if mode == "CMYK":
        notes.append("CMYK image converted to RGB.")
    elif mode.startswith("I;16") or mode in ("I", "F"):
        notes.append(f"High bit-depth image ({mode}) reduced to 8 bits per channel.")
    return notes


def safe_stem(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40].strip("-")
    return keep or "photo"


def start_image(start, photo=None):
    """What iterations start from: ``"noise"``, ``"gray"`` or an image (the one branch every caller shares).

    Args:
        start: ``"noise"``, ``"gray"``, ``"photo"`` (then ``photo`` is used), or an image/path itself.
        photo: the start photo the page uploaded for ``start == "photo"``.
    Raises:
        ValueError: ``"photo"`` without a photo, or a start photo that cannot be read.
    """
    if start == "photo":
        if photo is None:
            raise ValueError("Start is 'photo': upload a start photo, or choose noise or gray.")
        start = photo
    if isinstance(start, str) and start in START_IMAGES:
        return start
    if start is None:
        return "noise"
    return start if isinstance(start, Image.Image) else load_photo(start, what="start image").image


def digest(path_or_image) -> str:
    """A short content digest (recognises an image the studio produced when it comes back)."""
    is_image = isinstance(path_or_image, Image.Image)
    data = path_or_image.tobytes() if is_image else Path(path_or_image).read_bytes()
    return hashlib.sha1(data).hexdigest()[:16]


def mark_point(source, center: tuple[float, float], side: int = 320) -> Image.Image:
    """A display copy of ``source`` with ``center`` (normalised x, y) marked by a ring and cross hairs."""
    from PIL import ImageDraw

    img = load_photo(source).image.convert("RGB")
    img.thumbnail((side, side))
    w, h = img.size
    x, y = center[0] * w, center[1] * h
    draw = ImageDraw.Draw(img)
    r = max(6, min(w, h) // 20)
    for colour, width in (((0, 0, 0), 4), ((255, 255, 255), 2)):  # dark halo, light line: any background
        draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=width)
        draw.line((x - 2.2 * r, y, x - r, y), fill=colour, width=width)
        draw.line((x + r, y, x + 2.2 * r, y), fill=colour, width=width)
        draw.line((x, y - 2.2 * r, x, y - r), fill=colour, width=width)
        draw.line((x, y + r, x, y + 2.2 * r), fill=colour, width=width)
    return img
