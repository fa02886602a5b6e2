"""Digits sampled from the shipped Collage VAE, and their contact sheet."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from .. import inputs, limits


@dataclass(frozen=True)
class Digits:
    """A sample: the tiles and their contact sheet, and one digit magnified beside bicubic."""

    tiles: list[Image.Image] = field(repr=False)
    sheet: Image.Image = field(repr=False)  # the tiles on one contact sheet, at their own pixel size
    closeup: Image.Image = field(repr=False)  # digit ``digit`` rendered at ``closeup`` x
    bicubic: Image.Image = field(repr=False)  # the same digit at 28x28, upscaled bicubically as far
    summary: str = ""
    notes: tuple[str, ...] = ()


def sample_digits(
    count: int = 16,
    magnify: float = 4,
    temperature: float = 1.0,
    seed: int = 0,
    model=None,
    closeup: float = 40,
    digit: float = 1,
) -> Digits:
    """Sample the Collage VAE: ``count`` digits at ``magnify``, and digit ``digit`` (1-based) at
    ``closeup`` x beside its bicubic upscaling.

    A seed gives the same latents at every magnification, so the close-up is the sheet's digit
    ``digit`` (rendered alone: ``HierarchicalVAE.sample(only=)``). The bicubic
    panel upscales the close-up average-pooled to 28x28, so both panels show the same sample
    (pooled, a render is the 1x digit to within 0.002 on average).
    """
    import torch
    import torch.nn.functional as F

    count = inputs.whole(count, "Count", 1, limits.MAX_DIGITS)
    magnify = inputs.whole(magnify, "Magnification", 1, limits.MAX_DIGIT_MAGNIFY)
    closeup = inputs.whole(closeup, "Close-up magnification", 1, limits.MAX_CLOSEUP_MAGNIFY)
    digit = inputs.whole(digit, "Close-up digit", 1, limits.MAX_DIGITS)
    if digit > count:
        raise ValueError(f"Close-up digit #{digit} is not among the {count} samples: pick one from 1 to {count}.")
    temperature = inputs.number(temperature, "Temperature", 0.0, 2.0)
    if temperature == 0:
        raise ValueError("Temperature must be in (0, 2], got 0.")
    seed = inputs.seed(seed)
    notes = []
    if count * (28 * magnify) ** 2 > limits.MAX_OUTPUT_PIXELS:
        magnify = max(1, int(math.sqrt(limits.MAX_OUTPUT_PIXELS / count) // 28))
        notes.append(f"Gallery magnification reduced to ×{magnify} to stay within the output limit.")
    side = 28 * magnify
    model = model if model is not None else load_vae()
    with torch.no_grad():
        big = model.sample(n=count, magnify=magnify, temperature=temperature, seed=seed)
        # A seed draws the same latents at every magnification: the close-up is the sheet's digit.
        near = (
            big[digit - 1 : digit]
            if magnify == closeup
            else model.sample(n=count, magnify=closeup, temperature=temperature, seed=seed, only=digit - 1)
        )
    one = F.avg_pool2d(near.float(), closeup)
    bicubic = F.interpolate(one, scale_factor=closeup, mode="bicubic", align_corners=False).clamp(0, 1)
    tiles = [gray_image(t) for t in big]
    near_side = 28 * closeup
    summary = (
        f"{count} samples at ×{magnify} ({side}×{side} px each), temperature {temperature:g}, seed {seed}. "
        f"Digit #{digit} at ×{closeup}: a {near_side}×{near_side} Collage render beside bicubic upscaling "
        "of its 28×28 version."
    )
    sheet = contact_sheet(tiles)
    return Digits(tiles, sheet, gray_image(near[0]), gray_image(bicubic[0]), summary, tuple(notes))


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


def gray_image(t, ink: str = "light") -> Image.Image:
    """A mode-L image from a ``(1, H, W)`` tensor of values in [0, 1]; ``ink="dark"``: inverted
    (dark digits on white, as drawn; the studio and MNIST show light on black)."""
    arr = (t.detach().float().clamp(0, 1)[0].cpu().numpy() * 255 + 0.5).astype(np.uint8)
    image = Image.fromarray(arr, "L")
    return ImageOps.invert(image) if ink == "dark" else image


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
