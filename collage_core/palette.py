"""Palettes (gradient maps): colour a render by its luminance, as flame renderers do.

A collage keeps its photo's colours, so a brown photo makes a brown snowflake. A palette
recolours a *tone-mapped* picture: its Rec. 709 luma ``Y`` (in [0, 1], after the
colour-true levels of :mod:`collage_core.tone`) is looked up in a ramp of colour stops,
piecewise linear in sRGB, and blended with the picture's own colours by ``mix`` (flam3's
palette/vibrancy blend: 1 is the ramp alone, 0 the true colours)::

    out = mix * ramp(Y) + (1 - mix) * x

It acts pixel by pixel *after* the levels, so everything that keeps the levels calm
(anchored levels at every zoom, temporal smoothing of animations, one set of levels per
Explore depth) keeps the painted picture calm too, and tiles still agree at their seams.

A colour setting is written as a tone look (``"true"``/``"colour"``, ``"vivid"``,
``"off"``) or a palette name with an optional mix: ``"ice"``, ``"ice:0.7"``. A palette
shows the colour-true levels through its ramp. A grey picture (``L``, ``LA``) painted
with a palette becomes colour (``RGB``, ``RGBA``); alpha is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from einops import rearrange

from .tone import check_look, colour_channels, luma_weights

# Stops are (position, (r, g, b)) in sRGB [0, 1], positions increasing from 0 to 1. Every
# built-in ramp rises in luma, so the picture's light and shade survive the recolouring.
PALETTES: dict[str, tuple[tuple[float, tuple[float, float, float]], ...]] = {
    # Deep navy shadows, cyan mid-tones, white highlights: frost and ice.
    "ice": (
        (0.0, (0.0, 0.01, 0.05)),
        (0.4, (0.03, 0.13, 0.34)),
        (0.7, (0.14, 0.52, 0.80)),
        (0.88, (0.62, 0.91, 0.99)),
        (1.0, (1.0, 1.0, 1.0)),
    ),
    # Black body: soot, deep red, orange, yellow, white heat.
    "ember": (
        (0.0, (0.02, 0.0, 0.0)),
        (0.3, (0.42, 0.03, 0.01)),
        (0.6, (0.92, 0.36, 0.04)),
        (0.85, (1.0, 0.80, 0.30)),
        (1.0, (1.0, 0.98, 0.88)),
    ),
    # Monochrome: ink on warm paper.
    "ink": ((0.0, (0.03, 0.03, 0.04)), (1.0, (0.97, 0.95, 0.90))),
    # Dark bronze to pale gold.
    "gold": (
        (0.0, (0.04, 0.02, 0.0)),
        (0.35, (0.36, 0.20, 0.04)),
        (0.7, (0.86, 0.64, 0.20)),
        (1.0, (1.0, 0.97, 0.82)),
    ),
    # Night violet, magenta, electric cyan, pale green: a synthwave sign.
    "neon": (
        (0.0, (0.02, 0.0, 0.06)),
        (0.3, (0.36, 0.02, 0.46)),
        (0.55, (0.82, 0.12, 0.62)),
        (0.8, (0.18, 0.80, 0.98)),
        (1.0, (0.82, 1.0, 0.80)),
    ),
}
TONE_CHOICES = ("true", "vivid", "off")
# Every colour setting a person can pick: the studio's dropdowns and the CLI's help list these.
COLOUR_CHOICES = TONE_CHOICES + tuple(PALETTES)


@dataclass(frozen=True)
class Palette:
    """A ramp of colour stops and how much of it replaces the true colours.

    Attributes:
        name: the ramp's name in :data:`PALETTES`.
        mix: 1 paints with the ramp alone; 0 keeps the (tone-mapped) true colours.
    """

    name: str
    mix: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in PALETTES:
            raise ValueError(f"unknown palette {self.name!r}; choose one of {list(PALETTES)}")
        if not (isinstance(self.mix, (int, float)) and math.isfinite(self.mix) and 0.0 <= self.mix <= 1.0):
            raise ValueError(f"palette mix must be a number in [0, 1], got {self.mix!r}")

    @property
    def spec(self) -> str:
        """The setting's text form: ``"ice"`` or ``"ice:0.7"``."""
        return self.name if self.mix == 1.0 else f"{self.name}:{self.mix:g}"

    def stops(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(K,)`` positions and ``(K, 3)`` sRGB colours of the ramp, float64."""
        pos, rgb = zip(*PALETTES[self.name], strict=True)
        return torch.tensor(pos, dtype=torch.float64), torch.tensor(rgb, dtype=torch.float64)


def parse_colour(value, what: str = "colour") -> tuple[str, Palette | None]:
    """A colour setting as ``(look, palette)``.

    ``True``/``"true"``/``"colour"`` -> ``("colour", None)``, ``"vivid"``, ``False``/``"off"``
    as :func:`~collage_core.tone.check_look`; ``"ice"`` or ``"ice:0.7"`` -> ``("colour",
    Palette("ice", 0.7))``: a palette paints the colour-true levels.

    Raises:
        ValueError: naming the setting (``what``) and every choice, for anything else.
    """
    if isinstance(value, Palette):
        return "colour", value
    try:
        return check_look(value), None
    except ValueError:
        pass
    if isinstance(value, str):
        name, _, mix = value.strip().lower().partition(":")
        if name in PALETTES:
            try:
                amount = float(mix) if mix else 1.0
            except ValueError:
                raise ValueError(f"palette mix in {value!r} must be a number in [0, 1]") from None
            return "colour", Palette(name, amount)
    raise ValueError(
        f"{what} must be one of {list(COLOUR_CHOICES)} (or True/False for true/off; a palette may add a "
        f"mix in 0..1, e.g. 'ice:0.7'), got {value!r}"
    )


def check_colour(value, what: str = "colour") -> str:
    """The normal text of a colour setting: ``"colour"``, ``"vivid"``, ``"off"`` or a palette's
    :attr:`Palette.spec`; a ``ValueError`` listing the choices otherwise."""
    look, palette = parse_colour(value, what)
    return palette.spec if palette is not None else look


def studio_colour(value) -> str:
    """A colour setting as the studio's dropdowns and the CLI spell it (``"colour"`` is ``"true"``)."""
    text = check_colour(value)
    return "true" if text == "colour" else text


def full_range(anchor):
    """``anchor`` (a :class:`~collage_core.tone.Anchor` or ``None``) with its luma levels
    at 0 and 1: a palette's ramp is then used from end to end at every zoom (the
    photo's own levels would leave a dim photo's highlights off the ramp)."""
    return None if anchor is None else replace(anchor, levels=(0.0, 1.0))


def painted_channels(channels: int, palette: Palette | None) -> int:
    """How many channels a ``channels``-channel picture has once painted: a palette makes
    L colour (3) and LA colour with alpha (4)."""
    return channels if palette is None else {1: 3, 2: 4}.get(channels, channels)


def ramp(y: torch.Tensor, palette: Palette) -> torch.Tensor:
    """The ramp's colours at luma ``y`` ``(H, W)`` (clamped into [0, 1]): ``(3, H, W)``."""
    pos, rgb = palette.stops()
    pos, rgb = pos.to(y.device, y.dtype), rgb.to(y.device, y.dtype)
    t = y.clamp(0.0, 1.0)
    # Segment k runs from stop k to stop k + 1; a value on a stop lands in the segment
    # it starts (the last stop ends the last segment).
    k = (torch.bucketize(t, pos, right=True) - 1).clamp(0, len(pos) - 2)
    lo, hi = pos[k], pos[k + 1]
    f = ((t - lo) / (hi - lo)).clamp(0.0, 1.0)[..., None]
    out = rgb[k] * (1 - f) + rgb[k + 1] * f  # (H, W, 3)
    return rearrange(out, "h w c -> c h w")


def paint(x: torch.Tensor, palette: Palette | None) -> torch.Tensor:
    """A tone-mapped picture recoloured by ``palette`` (``None``: returned unchanged).

    Args:
        x: ``(C, H, W)`` in [0, 1], C in 1..4 (L, LA, RGB, RGBA).
    Returns:
        ``(3, H, W)`` or ``(4, H, W)`` (alpha kept) in [0, 1], ``x``'s float dtype (at
        least float32).
    """
    if palette is None:
        return x
    C = x.shape[0]
    if C not in (1, 2, 3, 4):
        raise ValueError(f"a palette paints L, LA, RGB or RGBA pictures, got {C} channels")
    x = x.to(torch.promote_types(x.dtype, torch.float32))
    n = colour_channels(C)
    colour = x[:n].expand(3, -1, -1) if n == 1 else x[:n]
    y = torch.einsum("c,chw->hw", luma_weights(n, x.dtype).to(x.device), x[:n])
    out = palette.mix * ramp(y, palette) + (1 - palette.mix) * colour
    if n < C:
        out = torch.cat([out, x[n:]], dim=0)
    return out.clamp_(0.0, 1.0)
