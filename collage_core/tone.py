"""Tone looks for deep views (DESIGN.md sections 4 and 9): colour-true, vivid, or off.

A deep view is a nearly flat tint with detail of tiny contrast. Every look maps the
colour channels of a frame by one affine colour map ``out = M @ x + b`` (a ``(n, n + 1)``
tensor for ``n`` colour channels), so that maps of neighbouring frames can be averaged
in time (:func:`~collage_core.autocontrast.smooth_stream`); alpha is never touched.

* ``"vivid"``: each channel stretched between its own robust percentiles (``M``
  diagonal). Lively, but the channels' different gains turn deep frames magenta, teal
  or yellow: their mean colour moves a median 18 CIELAB a*b* units from the photo's.
* ``"colour"`` (``True``): levels on Rec. 709 luma. The luma of the detail and its
  chroma are scaled by one gain shared by the channels, so the hue of the detail is
  kept (as a flame renderer scales a pixel's colour by its density, flam3 ``rect.c``);
  the chroma gain is capped so that a frame is no more colourful than the attractor.
  A deep frame's flat tint is the colour of a single point and carries no picture: the
  more a frame is amplified, the more its mean chroma moves from its own to the
  attractor's (the *anchor*), so a dive keeps the photo's colours. A pixel pushed out of
  the unit cube is pulled toward the grey of its luma (hue and luma kept) rather than
  clamped channel by channel, which would shift its hue.
* ``"off"``: none; values are clamped to [0, 1].
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, replace

import torch

LOOKS = ("colour", "vivid", "off")
# Spellings accepted from people and files; True/False are the historic autocontrast flag.
_ALIASES = {"colour": "colour", "color": "colour", "true": "colour", "vivid": "vivid", "off": "off", "none": "off"}
LOW, HIGH = 0.005, 0.995  # percentiles: ignore the 0.5% extremes on either side
# A range below this many units of the frame's float resolution is flat: do not amplify
# rounding noise.
MIN_RANGE_ULPS = 64
MAX_SAMPLES = 1 << 15  # levels from a strided sample of at most this many pixels
REC709 = (0.2126, 0.7152, 0.0722)
MIN_LEVELS = 0.125  # narrowest luma range an anchored frame is stretched to


def check_look(value) -> str:
    """The look named by ``value``: ``True``/``"colour"``/``"color"`` -> ``"colour"``,
    ``"vivid"``, ``False``/``None``/``"off"`` -> ``"off"``; anything else is a ``ValueError``."""
    if value is True:
        return "colour"
    if value is False or value is None:
        return "off"
    if isinstance(value, str) and value.strip().lower() in _ALIASES:
        return _ALIASES[value.strip().lower()]
    raise ValueError(f"autocontrast must be True, False or one of {list(LOOKS)}, got {value!r}")


def colour_channels(channels: int) -> int:
    """How many leading channels are colour (LA and RGBA end with alpha)."""
    return {2: 1, 4: 3}.get(channels, channels)


def luma_weights(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(n,)`` weights of the luma of ``n`` colour channels (Rec. 709 for RGB), summing to 1."""
    w = torch.tensor(REC709) if n == 3 else torch.full((n,), 1.0 / n)
    return w.to(dtype)


@dataclass(frozen=True)
class Anchor:
    """The colours a deep frame is shown in: the attractor's at 1x.

    Attributes:
        chroma: ``(n,)`` mean colour minus its luma (zero luma).
        spread: RMS of the attractor's chroma about that mean: how colourful the detail
            of a deep frame gets at most.
        pull: how far a frame's mean chroma moves from its own to ``chroma``: 0 keeps a
            shallow view's colours true to the picture; 1 (a view inside one cell shows
            copies of the photo) gives it the photo's. See :meth:`at`.
        levels: the attractor's robust black and white luma (inside [0, 1]): an anchored
            frame's luma is stretched to them rather than to 0 and 1, at every zoom, so a
            dive keeps the photo's tonal range from 1x to any depth (a dark red photo stays
            dark red instead of washing out to white and black; a star field stays a dark
            sky, and its deep frames keep the 1x view's contrast rather than a murky
            fraction of it).
    """

    chroma: torch.Tensor
    spread: float
    pull: float = 1.0
    levels: tuple[float, float] = (0.0, 1.0)

    def at(self, zoom: float, grid: int) -> Anchor:
        """This anchor for a view at ``zoom`` of a grid-``grid`` code: ``pull`` grows with
        ``log(zoom)`` and reaches 1 one cell deep (``zoom = grid``), where the flat tint
        of the view is the colour of a single point; deeper it stays 1, so the frames
        of a loop (at least 1.5 cells deep) are mapped alike."""
        pull = min(max(math.log(max(zoom, 1.0)) / math.log(max(grid, 2)), 0.0), 1.0)
        return replace(self, pull=pull)

    @staticmethod
    def of(image: torch.Tensor) -> Anchor:
        """The anchor of a ``(C, H, W)`` picture (its colour channels)."""
        x = _sample(image)
        w = luma_weights(x.shape[0])
        chroma = x - w @ x
        mean = chroma.mean(1)
        lo, hi = torch.quantile(w @ x, torch.tensor([LOW, HIGH], dtype=torch.float64)).clamp(0.0, 1.0).tolist()
        # A nearly flat attractor still gets a visible range: its deep frames are stretched
        # to at least MIN_LEVELS, about its mid-grey.
        widen = max(0.0, MIN_LEVELS - (hi - lo)) / 2
        lo, hi = max(0.0, lo - widen), min(1.0, hi + widen)
        lo, hi = min(lo, 1.0 - MIN_LEVELS), max(hi, MIN_LEVELS)
        return Anchor(chroma=mean, spread=_rms(chroma - mean[:, None]), levels=(lo, hi))


def _rms(chroma: torch.Tensor) -> float:
    """RMS length of ``(n, N)`` chroma vectors."""
    return float(chroma.pow(2).sum(0).mean().sqrt())


def _sample(x: torch.Tensor) -> torch.Tensor:
    """``(n, N)`` float64 strided sample of the colour channels of ``x`` ``(C, H, W)``."""
    n = colour_channels(x.shape[0])
    flat = x[:n].reshape(n, -1)
    return flat[:, :: max(1, flat.shape[1] // MAX_SAMPLES)].to("cpu", torch.float64)


def _floor(dtype: torch.dtype, scale: float) -> float:
    """The smallest range of a ``dtype`` frame of values about ``scale`` worth stretching."""
    return MIN_RANGE_ULPS * torch.finfo(dtype).eps * max(abs(scale), 1e-3)


def levels(x: torch.Tensor, low: float = LOW, high: float = HIGH) -> torch.Tensor:
    """Robust black and white points of each channel.

    Args:
        x: ``(C, H, W)`` frame.
    Returns:
        ``(2, C)``: row 0 the ``low`` percentile, row 1 the ``high`` one.
    """
    C = x.shape[0]
    flat = x.reshape(C, -1)
    sample = flat[:, :: max(1, flat.shape[1] // MAX_SAMPLES)]
    q = torch.tensor([low, high], device=x.device, dtype=sample.dtype)
    return torch.quantile(sample, q, dim=1)  # (2, C)


def span(lv: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``hi - lo`` per channel of levels ``(2, C)``, floored where a ``dtype`` frame is flat."""
    return (lv[1] - lv[0]).clamp_min(_floor(dtype, float(lv.abs().max())))


def apply_levels(x: torch.Tensor, lv: torch.Tensor) -> torch.Tensor:
    """Stretch colour channels of ``x`` ``(C, H, W)`` so ``lv`` ``(2, C)`` maps to 0 and 1; clamp."""
    n = colour_channels(x.shape[0])
    lo = lv[0, :n, None, None]
    s = span(lv, x.dtype)[:n, None, None]
    out = x.clone()
    out[:n] = (x[:n] - lo.to(x.dtype)) / s.to(x.dtype)
    return out.clamp_(0.0, 1.0)


def vivid_map(x: torch.Tensor) -> torch.Tensor:
    """Per-channel stretch of ``x`` ``(C, H, W)`` as an affine colour map ``(n, n + 1)``, float64."""
    n = colour_channels(x.shape[0])
    lv = levels(x[:n]).to("cpu", torch.float64)
    s = span(lv, x.dtype)
    return torch.cat([torch.diag(1 / s), (-lv[0] / s)[:, None]], dim=1)


def colour_map(x: torch.Tensor, anchor: Anchor | None = None) -> torch.Tensor:
    """Colour-true levels of ``x`` ``(C, H, W)`` as an affine colour map ``(n, n + 1)``, float64.

    Luma ``Y = w @ x`` goes from its robust percentiles ``lo, hi`` to 0 and 1 (with an
    anchor: to ``anchor.levels``), gain ``g``; chroma ``x - Y`` is scaled by ``g_c = min(g, limit /
    frame's RMS chroma)``, ``limit`` the anchor's (without an anchor, the frame's own:
    ``g_c = min(g, 1)``). So without pull every pixel keeps its hue; with
    ``anchor.pull = 1`` the frame's mean chroma is replaced by ``anchor.chroma`` and its
    detail is no more colourful than the attractor's.
    """
    xs = _sample(x)
    n = xs.shape[0]
    w = luma_weights(n)
    Y = w @ xs
    lo, hi = torch.quantile(Y, torch.tensor([LOW, HIGH], dtype=torch.float64)).tolist()
    if hi - lo < _floor(x.dtype, max(abs(lo), abs(hi))):  # flat: do not amplify rounding noise
        return torch.cat([torch.eye(n, dtype=torch.float64), torch.zeros(n, 1, dtype=torch.float64)], dim=1)
    pull = anchor.pull if anchor is not None else 0.0
    # Luma lo, hi go to the attractor's levels at every zoom (not only deep ones): the 1x
    # view and the deep frames of a dive then share one tonal range, and a deep frame's
    # detail is as strong, relative to the range, as the 1x view's.
    black, white = (0.0, 1.0) if anchor is None else anchor.levels
    g = (white - black) / (hi - lo)
    mean = xs.mean(1)
    chroma = xs - w @ xs
    own = chroma.mean(1)
    # Chroma gets the luma's gain, but no more than makes the frame as colourful as the
    # anchor (without one: as the frame already is), so a faint tint is not blown up. A
    # pulled frame's own mean chroma is replaced, so then only its detail counts, and is
    # compared with the anchor's detail.
    spread = _rms(chroma - pull * own[:, None])
    if anchor is None:
        limit = spread
    else:
        anchor_chroma = anchor.chroma.to(torch.float64)
        anchor_chroma = anchor_chroma - w @ anchor_chroma
        limit = math.sqrt(anchor.spread**2 + (1 - pull) * float(anchor_chroma @ anchor_chroma))
    gain_c = min(g, limit / spread) if spread > 0 else g
    # pull 0: chroma(out) = gain_c * chroma(x), every pixel keeps its hue exactly.
    target = gain_c * own if not pull else (1 - pull) * gain_c * own + pull * anchor_chroma
    P = torch.outer(torch.ones(n, dtype=torch.float64), w)  # projector onto luma: P @ P = P
    M = g * P + gain_c * (torch.eye(n, dtype=torch.float64) - P)
    b = -M @ mean + black + g * (float(w @ mean) - lo) + target
    return torch.cat([M, b[:, None]], dim=1)


def tone_map(x: torch.Tensor, look: str, anchor: Anchor | None = None) -> torch.Tensor:
    """The affine colour map ``(n, n + 1)`` of ``look`` (``"colour"`` or ``"vivid"``) for ``x``."""
    return colour_map(x, anchor) if look == "colour" else vivid_map(x)


def apply_map(x: torch.Tensor, m: torch.Tensor, look: str) -> torch.Tensor:
    """``x`` ``(C, H, W)`` with its colour channels mapped by ``m`` ``(n, n + 1)``, then fitted
    into [0, 1] the way ``look`` does (alpha is only clamped); float32 unless ``x`` is wider."""
    n = m.shape[0]
    dtype = torch.promote_types(x.dtype, torch.float32)
    out = x.to(dtype).clone()
    m = m.to(x.device, dtype)
    out[:n] = torch.einsum("ij,jhw->ihw", m[:, :n], out[:n]) + m[:, n, None, None]
    if look == "colour" and n > 1:
        out[:n] = into_gamut(out[:n])
    return out.clamp_(0.0, 1.0)


def into_gamut(x: torch.Tensor) -> torch.Tensor:
    """Pixels of ``x`` ``(n, H, W)`` pulled toward the grey of their (clamped) luma until they
    fit in [0, 1]: hue and luma are kept where plain clamping would shift the hue."""
    w = luma_weights(x.shape[0], x.dtype).to(x.device)
    Y = torch.einsum("c,chw->hw", w, x)[None]
    grey = Y.clamp(0.0, 1.0)
    c = x - Y
    tiny = torch.finfo(x.dtype).tiny
    room_up = torch.where(c > 0, (1 - grey) / c.clamp_min(tiny), torch.inf)
    room_down = torch.where(c < 0, grey / (-c).clamp_min(tiny), torch.inf)
    k = torch.minimum(room_up, room_down).amin(0, keepdim=True).clamp(max=1.0)
    return (grey + k * c).clamp_(0.0, 1.0)  # the clamp only removes rounding


def attractor_anchor(renderer) -> Anchor:
    """The :class:`Anchor` of a :class:`~collage_core.viewport.ViewRenderer`'s attractor (a 1x view),
    computed once per renderer."""
    anchor = _ANCHORS.get(renderer)
    if anchor is None:
        anchor = _ANCHORS[renderer] = Anchor.of(renderer.render((0.5, 0.5), 1.0, (128, 128)).cpu())
    return anchor


_ANCHORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tone_view(view: torch.Tensor, look, renderer=None, zoom: float = 1.0) -> torch.Tensor:
    """One view ``(C, H, W)`` at ``zoom`` in ``look`` (any colour setting, palettes included:
    :func:`~collage_core.palette.parse_colour`); a colour-true view is anchored to
    ``renderer``'s attractor."""
    from .palette import full_range, paint, parse_colour  # palette builds on this module

    look, palette = parse_colour(look)
    if palette is not None:
        anchor = None if renderer is None else full_range(attractor_anchor(renderer).at(zoom, renderer.grid))
        return paint(apply_map(view, tone_map(view, look, anchor), look), palette)
    if look == "off":
        return view.clamp(0.0, 1.0)
    if look == "vivid":  # exactly as autocontrast(): Explore tiles and posters match it
        return apply_levels(view, levels(view))
    anchor = None
    if look == "colour" and renderer is not None:
        anchor = attractor_anchor(renderer).at(zoom, renderer.grid)
    return apply_map(view, tone_map(view, look, anchor), look)
