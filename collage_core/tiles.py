"""Exact map tiles of an attractor: a finite pyramid around a movable root (DESIGN.md section 3).

A browser addresses a map with float64 coordinates, which cannot tell apart two points
``1e-15`` of the image apart. The map is therefore a pyramid of ``LEVELS + 1`` levels
around a *root*: a square of the image centred at ``root.center`` that spans
``1 / root.zoom`` of the image width (and, with square display pixels, ``aspect / zoom``
of its height, ``aspect = W / H``). Level ``j`` of the pyramid has ``2**j x 2**j``
tiles of ``TILE`` pixels. When a person dives deep into one pyramid, :func:`reroot`
moves the root there: a new pyramid, whose zoom is the old one times a power of two,
whose centre is a dyadic rational, and whose tiles are again shallow numbers for the
browser. Every coordinate here is an exact :class:`~fractions.Fraction`, so adjacent
tiles are exactly adjacent windows of the same virtual image ``A(S)`` at any depth and
no seam can appear between them.

Coordinates: normalised image ``(x, y)`` as in :mod:`collage_core.viewport`. Viewer
coordinates ``(u, v)`` are fractions of the root square (0 at its left/top edge, 1 at
its right/bottom edge); ``rel`` is the viewer's zoom relative to the root (1 = the root
square fills the viewer's width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch

from .palette import Palette, full_range, paint
from .tone import apply_map, attractor_anchor, tone_map
from .viewport import MAX_ZOOM, ViewRenderer, check_size, plan_view

TILE = 256
LEVELS = 20  # a pyramid spans 2**20: deep enough that re-rooting is rare, shallow for floats
# After a re-root the viewer sits 2**2..2**3 deep in the new pyramid, centred: the root
# then stays close to what is on screen, which is what tone_levels' reference needs
# (the page re-roots every 2**3 of zoom, or after panning two screens).
REROOT_DEPTH = 2
SNAP_BITS = 16  # root centres are multiples of 1 / (zoom * 2**16): short dyadic fractions
# Tiles may be finer than the deepest view (the viewer picks the level above its pixels).
MAX_TILE_ZOOM = MAX_ZOOM * 2**8


def _fraction(value, what: str) -> Fraction:
    try:
        f = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    return f


@dataclass(frozen=True)
class Root:
    """The square a tile pyramid covers: centre ``(cx, cy)`` and ``zoom`` (exact)."""

    cx: Fraction
    cy: Fraction
    zoom: Fraction

    @property
    def key(self) -> str:
        """A canonical text form (cache keys, URLs' server-side ids)."""
        return f"{self.cx.numerator}/{self.cx.denominator},{self.cy.numerator}/{self.cy.denominator},{self.zoom}"

    def corner(self, aspect: Fraction) -> tuple[Fraction, Fraction]:
        """Normalised ``(x, y)`` of the square's top-left corner."""
        return self.cx - 1 / (2 * self.zoom), self.cy - aspect / (2 * self.zoom)

    def to_image(self, u, v, aspect: Fraction) -> tuple[Fraction, Fraction]:
        """Viewer ``(u, v)`` (fractions of the root square) to normalised image ``(x, y)``."""
        x0, y0 = self.corner(aspect)
        return x0 + _fraction(u, "u") / self.zoom, y0 + _fraction(v, "v") * aspect / self.zoom

    def to_viewer(self, x: Fraction, y: Fraction, aspect: Fraction) -> tuple[Fraction, Fraction]:
        """Normalised image ``(x, y)`` to viewer ``(u, v)`` of this root."""
        x0, y0 = self.corner(aspect)
        return (x - x0) * self.zoom, (y - y0) * self.zoom / aspect


def home_zoom(aspect: Fraction) -> Fraction:
    """The zoom of the top root: its square holds the whole image (letterboxed in black)."""
    return min(Fraction(1), aspect)


def home_root(aspect: Fraction) -> Root:
    """The top of the map: the whole image, centred."""
    return Root(Fraction(1, 2), Fraction(1, 2), home_zoom(aspect))


def tile_view(root: Root, aspect: Fraction, level: int, x: int, y: int) -> tuple[tuple[Fraction, Fraction], Fraction]:
    """``(centre, zoom)`` of tile ``(x, y)`` of pyramid level ``level`` (exact).

    Raises:
        ValueError: a level or tile index outside the pyramid.
    """
    if not (isinstance(level, int) and 0 <= level <= LEVELS):
        raise ValueError(f"tile level must be 0..{LEVELS}, got {level!r}")
    n = 2**level
    if not (isinstance(x, int) and isinstance(y, int) and 0 <= x < n and 0 <= y < n):
        raise ValueError(f"tile ({x}, {y}) is outside level {level} ({n}x{n} tiles)")
    x0, y0 = root.corner(aspect)
    zoom = root.zoom * n
    return (x0 + Fraction(2 * x + 1, 2) / zoom, y0 + Fraction(2 * y + 1, 2) * aspect / zoom), zoom


def render_exact(
    renderer: ViewRenderer, center: tuple[Fraction, Fraction], zoom: Fraction, size: tuple[int, int]
) -> torch.Tensor:
    """A view at an exact centre and zoom: ``(C, h, w)`` float64 (see :meth:`ViewRenderer.render`).

    :meth:`ViewRenderer.render` takes float centres, whose ulp (1.1e-16 near 0.5) is a
    tenth of a 256-pixel view at 1e15x; tiles and keyframes need the exact position.
    ``zoom`` may be below 1 (a view wider than the image, black around it).
    """
    cx, cy = _fraction(center[0], "center x"), _fraction(center[1], "center y")
    zoom = _fraction(zoom, "zoom")
    if not (Fraction(1, 64) <= zoom <= MAX_TILE_ZOOM):
        raise ValueError(f"zoom must be in [1/64, {MAX_TILE_ZOOM:.0e}], got {float(zoom):.3g}")
    if not (-1 <= cx <= 2 and -1 <= cy <= 2):
        raise ValueError(f"center ({float(cx):.3g}, {float(cy):.3g}) is far outside the image")
    size = check_size(size, 1, 2048)
    plan = plan_view(
        renderer.layout,
        renderer.symmetries,
        (cx, cy),
        zoom,
        size,
        renderer.aspect_fraction,
        renderer.dense_max,
        renderer.used,
    )
    return renderer.render_plan(plan, precise=True)


# --------------------------------------------------------------------------------- tone
def tone_levels(
    reference: torch.Tensor, renderer: ViewRenderer | None = None, zoom: float = 1.0, palette: Palette | None = None
) -> torch.Tensor:
    """The colour map ``(n, n + 1)`` a map tone-maps with, from a reference view ``(C, h, w)``.

    The one place the map's look is chosen: every tile and poster goes through this and
    :func:`tone`. It is the colour-true look of :mod:`~collage_core.tone`, anchored to
    ``renderer``'s attractor at ``zoom`` (so deep tiles keep the photo's colours); with a
    ``palette``, levels that span its whole ramp.
    """
    anchor = None if renderer is None else attractor_anchor(renderer).at(float(zoom), renderer.grid)
    return tone_map(reference, "colour", full_range(anchor) if palette is not None else anchor)


def tone(view: torch.Tensor, colour_map: torch.Tensor, palette: Palette | None = None) -> torch.Tensor:
    """A raw view ``(C, h, w)`` mapped by a :func:`tone_levels` map to [0, 1] (float32), then
    painted with ``palette`` (pixel by pixel: tiles toned alike still agree at their seams)."""
    n = colour_map.shape[0]
    # A deep view is a flat tint plus detail far below float32's step at the tint: take
    # the tint out in float64 and map the rest in float32, the tint moved into the map's
    # offset (M (x - t) + (M t + b) == M x + b). Half the time of a float64 map on a
    # 1024^2 poster block, where it cost more than the render; equal to 1e-7.
    m = colour_map.to("cpu", torch.float64)
    tint = view[:n].mean(dim=(-2, -1), dtype=torch.float64).cpu()  # (n,)
    shifted = torch.cat([m[:, :n], (m[:, :n] @ tint + m[:, n])[:, None]], dim=1)
    detail = view.to(torch.float32, copy=True)
    detail[:n] = (view[:n] - tint.to(view.device, view.dtype)[:, None, None]).float()
    return paint(apply_map(detail, shifted, "colour"), palette)


def render_tile(renderer: ViewRenderer, root: Root, level: int, x: int, y: int) -> torch.Tensor:
    """Tile ``(x, y)`` of level ``level`` under ``root``: ``(C, TILE, TILE)`` float64, raw values."""
    center, zoom = tile_view(root, renderer.aspect_fraction, level, x, y)
    return render_exact(renderer, center, zoom, (TILE, TILE))


def tone_depth(root: Root, aspect: Fraction, level: int) -> int:
    """The absolute depth of pyramid level ``level`` of ``root``: ``log2`` of its tile zoom
    over the top's, the same number for the same zoom under any root (roots' zooms are
    the top's times powers of two). A map keeps one set of levels per depth."""
    ratio = root.zoom * 2**level / home_zoom(aspect)
    n, d = ratio.numerator, ratio.denominator
    k = n.bit_length() - d.bit_length()  # floor(log2(n / d)) is k or k - 1, exactly
    return k if n << max(0, -k) >= d << max(0, k) else k - 1


def reference_view(root: Root, aspect: Fraction, level: int) -> tuple[tuple[Fraction, Fraction], Fraction]:
    """``(centre, zoom)`` of the view whose levels tone-map pyramid level ``level``.

    Four tiles wide around the root's centre (about the screen's width of that level
    when the page made the root, centred where the person was looking), never wider
    than the whole image. A map picks it the first time it needs a depth
    (:func:`tone_depth`) and keeps it for every root after, so re-rooting never changes
    how a depth looks.
    """
    zoom = max(root.zoom * 2**level / 4, home_zoom(aspect))
    if zoom == home_zoom(aspect):
        return (Fraction(1, 2), Fraction(1, 2)), zoom
    return (root.cx, root.cy), zoom


@dataclass(frozen=True)
class Reroot:
    """A new root and where the viewer is in it.

    Attributes:
        root: the new root.
        u, v, rel: the same view in the new root's viewer coordinates.
        box: the new root square in the *old* viewer coordinates ``(u0, v0, width)``: the
            viewer lays the new pyramid over the old one there, then swaps seamlessly.
    """

    root: Root
    u: float
    v: float
    rel: float
    box: tuple[float, float, float]


def view_of(root: Root, aspect: Fraction, u, v, rel) -> tuple[tuple[Fraction, Fraction], Fraction]:
    """Normalised ``(centre, zoom)`` of a viewer position (``rel`` relative to the root)."""
    rel = _fraction(rel, "rel")
    if not rel > 0:
        raise ValueError(f"rel must be positive, got {float(rel)}")
    return root.to_image(u, v, aspect), root.zoom * rel


def root_for(center: tuple[Fraction, Fraction], zoom: Fraction, aspect: Fraction) -> Root:
    """The root for a view at ``(center, zoom)``: ``2**REROOT_DEPTH`` above it, snapped to dyadic numbers."""
    top = home_zoom(aspect)
    k = max(0, math.floor(math.log2(float(zoom / top))) - REROOT_DEPTH)
    if k == 0:
        return home_root(aspect)
    z = top * 2**k
    grid = z * 2**SNAP_BITS
    # Snap so fractions stay short; the viewer is told the exact offset of its view.
    cx = Fraction(round(center[0] * grid)) / grid
    cy = Fraction(round(center[1] * grid)) / grid
    return Root(cx, cy, z)


def reroot(root: Root, aspect: Fraction, u, v, rel) -> Reroot:
    """Move the pyramid under a viewer at ``(u, v, rel)`` of ``root`` (see :class:`Reroot`)."""
    (x, y), zoom = view_of(root, aspect, u, v, rel)
    zoom = min(zoom, Fraction(MAX_ZOOM))
    new = root_for((x, y), zoom, aspect)
    nu, nv = new.to_viewer(x, y, aspect)
    x0, y0 = new.corner(aspect)
    bu, bv = root.to_viewer(x0, y0, aspect)
    return Reroot(
        new, float(nu), float(nv), float(zoom / new.zoom), (float(bu), float(bv), float(root.zoom / new.zoom))
    )
