"""Digits sampled from the shipped Collage VAE, and their contact sheet."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .. import inputs, limits


@dataclass(frozen=True)
class Digits:
    tiles: list[Image.Image] = field(repr=False)
    sheet: Image.Image = field(repr=False)  # the tiles on one contact sheet, at their own pixel size
    collage40: Image.Image = field(repr=False)
    bicubic40: Image.Image = field(repr=False)
    summary: str = ""
    notes: tuple[str, ...] = ()


def sample_digits(
    count: int = 16,
    magnify: float = 4,
    temperature: float = 1.0,
    seed: int = 0,
    model=None,
) -> Digits:
    """Sample the Collage VAE: ``count`` digits at ``magnify``, and digit 1 at 40× beside bicubic.

    The bicubic panel upscales the 40× render average-pooled to 28×28, so both panels show
    the same sample (pooled, it is the 1× digit to within 0.002 on average).
    """
    import torch
    import torch.nn.functional as F

    count = inputs.whole(count, "Count", 1, limits.MAX_DIGITS)
    magnify = inputs.whole(magnify, "Magnification", 1, limits.MAX_DIGIT_MAGNIFY)
    temperature = inputs.number(temperature, "Temperature", 0.0, 2.0)
    if temperature == 0:
        raise ValueError("Temperature must be in (0, 2], got 0.")
    seed = inputs.seed(seed)
    notes = []
    side = 28 * magnify
    if count * side * side > limits.MAX_OUTPUT_PIXELS:
        magnify = max(1, int(math.sqrt(limits.MAX_OUTPUT_PIXELS / count) // 28))
        notes.append(f"Gallery magnification reduced to ×{magnify} to stay within the output limit.")
    model = model if model is not None else load_vae()
    with torch.no_grad():
        if hasattr(model, "decoder") and hasattr(model, "likelihood"):
            # Draw the latents once and render them twice: digit #1 at 40x is gallery digit #1.
            generator = torch.Generator().manual_seed(int(seed))
            h = model.decoder.sample(count, float(temperature), generator)
            big = model.likelihood.render(h, magnify)
            one40 = big[:1] if magnify == 40 else model.likelihood.render(h[:1], 40)
        else:
            big = model.sample(n=count, magnify=magnify, temperature=temperature, seed=seed)
            one40 = model.sample(n=count, magnify=40, temperature=temperature, seed=seed)[:1]
    one = F.avg_pool2d(one40.float(), 40)
    bicubic = F.interpolate(one, scale_factor=40, mode="bicubic", align_corners=False).clamp(0, 1)
    tiles = [gray_image(t) for t in big]
    summary = (
        f"{count} samples at ×{magnify} ({28 * magnify}×{28 * magnify} px each), temperature {temperature:g}, "
        f"seed {seed}. Digit #1: 1120×1120 Collage render vs bicubic upscaling of its 28×28 version."
    )
    sheet = contact_sheet(tiles)
    return Digits(tiles, sheet, gray_image(one40[0]), gray_image(bicubic[0]), summary, tuple(notes))


def contact_sheet(tiles: list[Image.Image], cols: int | None = None, gap: int = 0) -> Image.Image:
    """Equal-size tiles in rows of ``cols`` (default: as square as possible), ``gap`` px apart, row-major.

    The sheet keeps the tiles' own pixels: shown at its size, a higher magnification is a
    visibly larger, sharper sheet (a gallery of thumbnails would scale every tile alike).
    """
    if not tiles:
        raise ValueError("A contact sheet needs at least one tile.")
    w, h = tiles[0].size
    cols = cols or math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    sheet = Image.new(tiles[0].mode, (cols * w + (cols - 1) * gap, rows * h + (rows - 1) * gap), 0)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet.paste(tile, (c * (w + gap), r * (h + gap)))
    return sheet


def gray_image(t) -> Image.Image:
    """A mode-L image from a ``(1, H, W)`` tensor of values in [0, 1]."""
    arr = (t.detach().float().clamp(0, 1)[0].cpu().numpy() * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(arr, "L")


_VAE_CACHE: dict = {}
_VAE_LOCK = threading.Lock()


def load_vae():
    """The shipped Collage VAE, loaded once (its weights are read-only: one copy serves every session).

    Raises:
        ValueError: the VAE package or its weights are missing.
    """
    with _VAE_LOCK:
        if "model" not in _VAE_CACHE:
            from collage_core import vae

            try:
                model = vae.load_pretrained()
            except (FileNotFoundError, OSError) as exc:
                raise ValueError(f"The Collage VAE weights are missing: {exc}") from None
            model.eval()
            _VAE_CACHE["model"] = model
        return _VAE_CACHE["model"]
