"""Deep-zoom views of an attractor without decoding the magnified image (DESIGN.md section 3).

A view is a window of rows and columns of ``A(S)``, the attractor rendered at a virtual
side ``S = m * grid**L``. ``A(S)`` restricted to cell ``k`` is one collage step of
``A(S / grid)``, so a window inside cell ``k`` needs, from the level below, only the
windows ``T_n^-1(piece)``, one per self-symmetry ``n`` (auxiliary "style" domains are
fixed images, sampled directly). The renderer plans those windows level by level,
merges the ones that overlap, stops at the first level small enough to decode whole
(``dense_max``), and then climbs back up computing only the planned windows. The cost
grows with ``log(zoom)``; memory does not depend on the zoom. Indices are Python
integers, so depth is limited only by the zoom bound. The partition is the code's cell
layout (:mod:`~collage_core.layout`): blended cells read the level of side ``2 S / grid``,
and a window's pieces then come from the 1 to 4 cells whose blend windows cover it.

Geometry. The attractor lives on the unit square; normalised image coordinates
``(x, y)`` (x right, y down) are the same on the source image and on the square, and
displays stretch the square to the source aspect ``W:H``. A view of ``size = (w, h)``
pixels at ``zoom`` spans ``1 / zoom`` of the image width and keeps square display
pixels, so it spans ``(W / H) * (h / w) / zoom`` of the image height. Parts of a view
outside the image are black (zero). The view of size ``(w, h)`` at ``zoom`` equals the
``(w, h)`` crop of ``code.render(w * zoom / W)`` around the same centre.

Sampling. Every pixel of ``A(S)`` is the exact area average of the attractor over that
pixel; ``S`` is the smallest renderable side with pixels no larger than the output's,
and the window is area-resampled to the output grid (a factor of at most
``1 + 1 / m_min``: 33/32 up to grid 32). Integer zooms that land on a renderable side
are exact crops.

Precision. Detail ``l`` levels deep has contrast ``~s**l``; every window is held as a
float64 per-channel offset plus a float32 detail image (see :class:`ViewRenderer`), so
auto-contrast can stretch it at any depth.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction

import torch

from .decode import decode_exact, is_exact_side, nearest_exact_side
from .device import pick_device
from .layout import BlendedLayout, Layout, as_layout
from .operator import domain_count
from .quadtree import QuadtreeLayout
from .quadtree_view import plan_sides, power_side, quadtree_top
from .resample import area_resize as area_resample
from .resample import area_weights as _area_window
from .resample import banded_product
from .symmetry import symmetry_elements
from .view_geometry import (  # noqa: F401 - re-exported: the view's geometry and limits lived here
    MAX_VIEW_SIDE,
    MAX_ZOOM,
    MERGE_SLACK,
    Rect,
    _area,
    _ceil,
    _contains,
    _flips,
    check_size,
    check_view,
    merge_windows,
    source_rect,
)

# Levels whose side is at most this are decoded whole: 1024^2 RGB is 12 MB, and the
# first sparse level above it then reads at most 8 x window pixels.
DENSE_MAX = 1024
# A window spanning more cells than this is computed as one batched step over its cells.
BATCHED_PIECES = 16
# The first level above the dense one reads precomputed domain copies up to this size.
DOMAIN_BYTES = 256 * 2**20
DENSE_CACHE_FLOATS = 16 * 2**20  # 64 MB of float32 levels kept between frames


# ------------------------------------------------------------------------------ planning
@dataclass
class ViewPlan:
    """Which windows of which levels a view needs.

    Attributes:
        side: the virtual side ``S`` of level 0.
        levels: ``levels[l]`` is the list of windows of ``A(S / grid**l)`` computed
            sparsely; the level after the last is decoded whole.
        dense_side: side of the level decoded whole.
        window: the level-0 window (clipped to the image) the output is resampled from.
        rows, cols: ``(start, step)`` of output pixels in level-0 pixels (exact fractions).
    """

    side: int
    levels: list[list[Rect]]
    dense_side: int
    window: Rect
    rows: tuple[Fraction, Fraction]
    cols: tuple[Fraction, Fraction]
    out_size: tuple[int, int]  # (h, w)
    # Quadtree layouts: the side of each sparse level in ``levels`` (top down); leaves of
    # different depths read different levels, so the sides are not one chain.
    sides: list[int] | None = None

    @property
    def pixels(self) -> int:
        """Pixels computed: every sparse window plus the dense level."""
        return sum(_area(r) for level in self.levels for r in level) + self.dense_side**2

    @property
    def window_counts(self) -> list[int]:
        return [len(level) for level in self.levels]


def _min_mantissa(grid: int | Layout, dense_max: int) -> int:
    # S = m * f**L (f the layout's climbing factor) with m in [m_min, m_min * f]:
    # consecutive sides differ by at most 1 + unit/m_min (1.03 for the grid 32, 1.0625
    # for blended cells, whose m must be a multiple of 4), and m stays below dense_max.
    layout = as_layout(grid)
    if isinstance(layout, BlendedLayout):
        return max(4, min(64, dense_max // layout.factor // 4 * 4))
    return max(2, min(32, dense_max // layout.grid))


def choose_side(desired: Fraction, grid: int | Layout, dense_max: int = DENSE_MAX) -> int:
    """The smallest side ``m * f**L >= desired`` with ``m`` in ``[m_min, m_min * f]`` (``f`` the climbing factor).

    Every level of such a side above ``m`` is one step of the level below: blended
    layouts need ``m`` to be a multiple of 4, so that each level is whole half cells.
    """
    layout = as_layout(grid)
    m_min, f = _min_mantissa(layout, dense_max), layout.factor
    unit = 4 if isinstance(layout, BlendedLayout) else 1
    scale = 1
    while m_min * scale * f <= desired:
        scale *= f
    if scale == 1:
        return max(1, _ceil(desired))
    return max(1, -(-_ceil(desired / scale) // unit) * unit) * scale


def plan_view(
    grid: int | Layout,
    symmetries: str,
    center: tuple[float, float],
    zoom: float,
    size: tuple[int, int],
    aspect: float = 1.0,
    dense_max: int = DENSE_MAX,
    used: list[tuple[int, ...]] | None = None,
) -> ViewPlan:
    """Plan a view: pure integer geometry, no pixels (also what the cost tests count).

    Args:
        grid: the hard grid's size, or a cell layout.
        used: per cell, the self domains it uses (sharp copies use one); ``None``: all.
        center: normalised ``(x, y)`` of the view centre.
        zoom: the view spans ``1 / zoom`` of the image width.
        size: output ``(w, h)`` in pixels.
        aspect: source ``W / H``.
    """
    layout = as_layout(grid)
    w_out, h_out = size
    Z = Fraction(zoom)
    asp = Fraction(aspect)
    span_x = 1 / Z
    span_y = asp * Fraction(h_out, w_out) / Z
    # Square pixels of A(S) no larger than the output's on either axis.
    desired = max(w_out / span_x, h_out / span_y)
    quadtree = isinstance(layout, QuadtreeLayout)
    S = power_side(desired) if quadtree else choose_side(desired, layout, dense_max)
    cx, cy = Fraction(center[0]), Fraction(center[1])
    x0, y0 = (cx - span_x / 2) * S, (cy - span_y / 2) * S
    x1, y1 = x0 + span_x * S, y0 + span_y * S
    c0, c1 = max(0, math.floor(x0)), min(S, _ceil(x1))
    r0, r1 = max(0, math.floor(y0)), min(S, _ceil(y1))
    window = (r0, max(r0, r1), c0, max(c0, c1))
    geometry = dict(
        window=window, rows=(y0, span_y * S / h_out), cols=(x0, span_x * S / w_out), out_size=(h_out, w_out)
    )
    if quadtree:
        sides, levels, dense = plan_sides(layout, symmetries, S, window, dense_max, used)
        return ViewPlan(side=S, levels=levels, dense_side=dense, sides=sides, **geometry)
    levels: list[list[Rect]] = []
    side, windows = S, [window] if _area(window) > 0 else []
    elements = symmetry_elements(symmetries)
    while side > dense_max and windows and layout.climbs(side):
        levels.append(windows)
        cs = layout.child_side(side)
        if cs <= dense_max:
            side = cs
            break
        # Every piece of every window needs, per symmetry, the matching child window.
        requests = [
            source_rect(p.local, cs, *elements[n])
            for r in windows
            for p in layout.pieces(r, side)
            for n in (range(len(elements)) if used is None else used[p.cell])
        ]
        # Cells with no copy (flat: their value is their offset) request nothing; keep one
        # pixel of the child so every level still climbs from a window.
        side, windows = cs, merge_windows(requests) or [(0, 1, 0, 1)]
    if side > dense_max:
        raise AssertionError(f"side {side} neither climbs nor fits the dense level {dense_max}")
    return ViewPlan(side=S, levels=levels, dense_side=side, **geometry)


# ----------------------------------------------------------------------------- rendering
@dataclass
class RenderStats:
    """What the last render computed (for benchmarks and cost tests)."""

    side: int = 0
    window_counts: list[int] = field(default_factory=list)
    pixels: int = 0
    dense_side: int = 0


class ViewRenderer:
    """Renders views of one code, keeping its tensors on the device and a small cache.

    Deep windows are nearly constant: their detail, ``l`` levels down, has contrast
    ``~s**l`` (``s`` about 0.3 to 0.5), far below float32 resolution at 0.5 once
    ``l >~ 10``. Every computed window is therefore held as a per-channel float64
    *offset* plus a float32 *detail* image: the constant parts (the offsets ``b`` and the
    mean of every domain) add up in float64 scalars, and the float32 pixels only carry
    what varies, to full relative precision at any depth.

    Args:
        code: a :class:`~collage_core.code.FractalCode`.
        device: ``None``/``"auto"`` (CUDA, then MPS, then CPU) or an explicit device.
        dense_max: levels up to this side are decoded whole (tests lower it to force
            the window recursion on tiny codes).
    """

    # Whole symmetric copies of a dense child are made when the windows read at least
    # this fraction of it (0: always, the old rule; the tests check both paths agree).
    copies_min_read = 1.0

    def __init__(self, code, device=None, dense_max: int = DENSE_MAX):
        self.grid = code.grid
        self.layout = code.layout
        self.symmetries = code.symmetries
        self.aspect = code.source_size[0] / code.source_size[1]
        self.aspect_fraction = Fraction(code.source_size[0], code.source_size[1])
        self.device = pick_device(device)
        # Offsets are a few numbers per window: on MPS (no float64) they live on the CPU.
        self.wide = torch.float64
        self.wide_device = torch.device("cpu") if self.device.type == "mps" else self.device
        self.a = code.a.to(self.device, torch.float32)  # (C, K, N)
        self.b = code.b.to(self.device, torch.float32)  # (C, K)
        self.aux = None if code.aux is None else code.aux.to(self.device, torch.float32)  # (C, A, h, w)
        self.a_wide = code.a.to(self.wide_device, self.wide)
        self.b_wide = code.b.to(self.wide_device, self.wide)
        self.elements = symmetry_elements(code.symmetries)
        self.flips = _flips(code.symmetries)
        self.n_self, _ = domain_count(code.symmetries, 0 if code.aux is None else code.aux.shape[1])
        # The domains each cell uses (one with sharp copies): only those are read.
        nonzero = (code.a != 0).any(0)  # (K, N)
        self.used = [tuple(torch.nonzero(row[: self.n_self]).flatten().tolist()) for row in nonzero]
        self.used_any = [tuple(torch.nonzero(row).flatten().tolist()) for row in nonzero]
        # Sum of each cell's self weights: a constant image c maps to b + c * gain.
        self.gain_wide = self.a_wide[..., : self.n_self].sum(-1)  # (C, K)
        self.dense_max = dense_max
        self.m_min = _min_mantissa(self.layout, dense_max)
        self.stats = RenderStats()
        self._dense_cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._details: OrderedDict[int, tuple] = OrderedDict()  # side -> (dense, offset, detail)

    # ------------------------------------------------------------------ public
    def render(
        self, center: tuple[float, float], zoom: float, size: tuple[int, int], precise: bool = False
    ) -> torch.Tensor:
        """The view as ``(C, h, w)`` values (about [0, 1]) on the device.

        Args:
            center: normalised ``(x, y)`` (x right, y down) of the view centre.
            zoom: ``>= 1``; the view spans ``1 / zoom`` of the image width.
            size: ``(w, h)`` output pixels.
            precise: return float64 (on the CPU when the device is MPS) so that detail far
                below float32 resolution survives, for auto-contrast to stretch; otherwise
                float32 (where such detail is far below one grey level anyway).
        """
        center, zoom, size = check_view(center, zoom, size)
        plan = plan_view(
            self.layout, self.symmetries, center, zoom, size, self.aspect_fraction, self.dense_max, self.used
        )
        return self.render_plan(plan, precise)

    def render_plan(self, plan: ViewPlan, precise: bool = False) -> torch.Tensor:
        """Render a :class:`ViewPlan` (see :meth:`render`)."""
        C = self.a.shape[0]
        h_out, w_out = plan.out_size
        self.stats = RenderStats(plan.side, plan.window_counts, plan.pixels, plan.dense_side)
        r0, r1, c0, c1 = plan.window
        out_dtype, out_device = (self.wide, self.wide_device) if precise else (torch.float32, self.device)
        if r1 <= r0 or c1 <= c0:
            return torch.zeros(C, h_out, w_out, device=out_device, dtype=out_dtype)
        if plan.sides is not None:
            offset, top = quadtree_top(self, plan)
        elif plan.levels:
            offset, detail = self._dense_detail(self._dense(plan.dense_side))
            child = {(0, plan.dense_side, 0, plan.dense_side): (offset, detail)}
            for level in range(len(plan.levels) - 1, -1, -1):
                child = self._climb(plan.levels[level], child, plan, level)
            offset, top = child[plan.window]
        else:
            top = self._dense(plan.dense_side)[:, r0:r1, c0:c1]
            offset = torch.zeros(C, device=self.wide_device, dtype=self.wide)
        (y0, dy), (x0, dx) = plan.rows, plan.cols
        if dy == dx == 1 and y0 == r0 and x0 == c0 and (r1 - r0, c1 - c0) == (h_out, w_out):
            detail = top  # pixel-aligned at the output's scale: an exact crop
        else:
            rows = _area_window(plan.side, y0, dy, h_out, r0, r1).to(self.device, top.dtype)
            cols = _area_window(plan.side, x0, dx, w_out, c0, c1).to(self.device, top.dtype)
            detail = banded_product(cols, banded_product(rows, top).transpose(-1, -2)).transpose(-1, -2)
            # Output pixels partly off the image are partly black: scale the offset alike.
            coverage = rows.sum(1)[:, None] * cols.sum(1)[None, :]
            if not bool((coverage > 1 - 1e-6).all()):
                wide_offset = offset.to(out_device, out_dtype)[:, None, None] * coverage.to(out_device, out_dtype)
                return detail.to(out_device, out_dtype) + wide_offset
        return detail.to(out_device, out_dtype) + offset.to(out_device, out_dtype)[:, None, None]

    # ---------------------------------------------------------------- internals
    def _dense(self, side: int) -> torch.Tensor:
        """``A(side)`` whole: ``(C, side, side)``, cached; the same levels :func:`decode_exact` climbs."""
        if side in self._dense_cache:
            self._dense_cache.move_to_end(side)
            return self._dense_cache[side]
        a, b = self.a[None], self.b[None]
        aux = None if self.aux is None else self.aux[None]
        if self.layout.climbs(side):
            child = self._dense(self.layout.child_side(side))[None]
            z = self.layout.step(child, a, b, self.symmetries, aux, size=(side, side))[0]
        elif is_exact_side(side, self.layout):
            z = decode_exact(a, b, self.layout, self.symmetries, side, aux)[0]
        else:
            # A base with no exact decoding: area-resampled from the next exact side,
            # which stays cached while an animation sweeps through bases.
            z = area_resample(self._dense(nearest_exact_side(side, self.layout)), (side, side))
        self._dense_cache[side] = z
        while sum(t.numel() for t in self._dense_cache.values()) > DENSE_CACHE_FLOATS and len(self._dense_cache) > 1:
            self._dense_cache.popitem(last=False)
        return z

    def _dense_detail(self, dense: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``dense`` as a float64 offset ``(C,)`` and float32 detail, kept for the last few
        levels: the tiles of a map share a handful of dense levels, and splitting a
        1024^2 level costs more than a small tile's whole climb."""
        side = dense.shape[-1]
        entry = self._details.get(side)
        if entry is not None and entry[0] is dense:
            self._details.move_to_end(side)
            return entry[1], entry[2]
        offset = dense.to(self.wide_device, self.wide).mean(dim=(-2, -1))  # (C,)
        detail = dense - offset.to(self.device, torch.float32)[:, None, None]
        self._details[side] = (dense, offset, detail)
        while len(self._details) > 4:
            self._details.popitem(last=False)
        return offset, detail

    def _climb(self, windows: list[Rect], child: dict, plan: ViewPlan, level: int) -> dict:
        """Windows of level ``level`` as ``{rect: (offset, detail)}`` from the child level's."""
        side = plan.side
        for _ in range(level):
            side = self.layout.child_side(side)
        cs = self.layout.child_side(side)
        copies = None
        if len(child) == 1 and next(iter(child)) == (0, cs, 0, cs):
            C, N = self.a.shape[0], self.a.shape[-1]
            # The copies cost N whole child images; pieces flipped one by one cost N of
            # their own size. A window smaller than the child (a 256^2 tile over a
            # 1024^2 dense level) is 10x cheaper without them; many cells need the batch.
            wide = sum(_area(r) for r in windows) >= self.copies_min_read * cs * cs
            wide = wide or any(self.layout.cells_in(r, side) > BATCHED_PIECES for r in windows)
            if wide and C * N * cs * cs * self.a.element_size() <= DOMAIN_BYTES:
                # Every symmetric (and style) copy of the whole child, once: the pieces
                # then read plain crops of it, with no flip per piece.
                offset, detail = child[(0, cs, 0, cs)]
                aux = None if self.aux is None else self.aux[None]
                copies = (offset, self.layout.domains(detail[None], self.symmetries, aux, size=(side, side))[0])
        out = {}
        for r in windows:
            if copies is not None and self.layout.cells_in(r, side) > BATCHED_PIECES:
                out[r] = self._batched_window(r, copies, side)
            else:
                out[r] = self._window(r, child, copies, side, cs)
        return out

    def _cell_constants(self, child_offset: torch.Tensor) -> torch.Tensor:
        """``b_k + offset * sum_self a_k``: what every cell adds up to from the child's constant, ``(C, K)``."""
        return self.b_wide + child_offset[:, None] * self.gain_wide

    def _batched_window(self, r: Rect, copies, side: int):
        # Small cells: one step over the window's block of cells (the layout's own), then crop.
        child_offset, domains = copies
        consts = self._cell_constants(child_offset)
        offset = consts.mean(1)
        steps = (consts - offset[:, None]).to(self.device, torch.float32)
        return offset, self.layout.cells_block(self.a, steps, domains, r, side)

    def _window(self, r: Rect, child: dict, copies, side: int, cs: int):
        """Window ``r`` piece by piece: each piece sums its cell's domain terms (crops of
        ``copies``, or of the child windows flipped into place), weighted by the window."""
        C = self.a.shape[0]
        out = torch.zeros(C, r[1] - r[0], r[3] - r[2], device=self.device)
        keys = list(child)
        n_aux = 0 if self.aux is None else self.aux.shape[1]
        offset = None
        for piece in self.layout.pieces(r, side):
            k, (g0, g1, h0, h1), local = piece.cell, piece.rect, piece.local
            term = torch.zeros(C, g1 - g0, h1 - h0, device=self.device)
            if copies is not None:
                child_offset, domains = copies
                const = self.b_wide[:, k] + child_offset * self.gain_wide[:, k]
                crop = domains[:, :, local[0] : local[1], local[2] : local[3]]
                for n in self.used_any[k]:
                    term.addcmul_(self.a[:, k, n, None, None], crop[:, n])
            else:
                const = self._child_terms(term, k, local, child, keys, cs, n_aux)
            offset = const if offset is None else offset
            term.add_((const - offset).to(self.device, torch.float32)[:, None, None])
            if piece.flip:  # a mirror frame past its copy's edge shows the copy reversed
                term = term.flip(piece.flip)
            view = out[:, g0 - r[0] : g1 - r[0], h0 - r[2] : h1 - r[2]]
            weight = self.layout.piece_weight(piece, side)
            if weight is None:
                view.add_(term)
            else:
                rows, cols = (w.to(self.device, torch.float32) for w in weight)
                view.add_(term * rows[:, None] * cols[None, :])
        return offset, out

    def _child_terms(self, view, k: int, local: Rect, child: dict, keys: list, cs: int, n_aux: int):
        """Add cell ``k``'s domain terms over ``local`` to ``view`` from sparse child windows; returns the constant."""
        const = self.b_wide[:, k].clone()
        # Terms whose transform ends in a transpose accumulate transposed, so every
        # term is one flip (or none) plus a contiguous multiply-add.
        acc_t = None
        used = set(self.used_any[k])
        for n, ((rot, flip), (transposed, dims)) in enumerate(zip(self.elements, self.flips, strict=True)):
            src = source_rect(local, cs, rot, flip)
            crops, weights = [], []
            if n in used:
                win = next(key for key in keys if _contains(key, src))
                win_offset, win_detail = child[win]
                const += self.a_wide[:, k, n] * win_offset
                crops.append(win_detail[:, src[0] - win[0] : src[1] - win[0], src[2] - win[2] : src[3] - win[2]])
                weights.append(self.a[:, k, n, None, None])
            for t in range(n_aux):
                if self.n_self * (1 + t) + n not in used:
                    continue
                # A style image does not fade with depth: its mean joins the constant.
                img = self._aux_crop(t, cs, src)
                mean = img.to(self.wide_device, self.wide).mean(dim=(-2, -1))
                const += self.a_wide[:, k, self.n_self * (1 + t) + n] * mean
                crops.append(img - mean.to(self.device, torch.float32)[:, None, None])
                weights.append(self.a[:, k, self.n_self * (1 + t) + n, None, None])
            for crop, weight in zip(crops, weights, strict=True):
                term = crop.flip(dims) if dims else crop
                if not transposed:
                    view.addcmul_(weight, term)
                elif acc_t is None:
                    acc_t = term * weight
                else:
                    acc_t.addcmul_(weight, term)
        if acc_t is not None:
            view.add_(acc_t.transpose(-1, -2))
        return const

    def _aux_crop(self, t: int, cs: int, src: Rect) -> torch.Tensor:
        """Window ``src`` of auxiliary image ``t`` area-resized to ``cs x cs``: ``(C, h, w)``."""
        img = self.aux[:, t]  # (C, ha, wa)
        ha, wa = img.shape[-2:]
        rows = _area_window(ha, Fraction(src[0] * ha, cs), Fraction(ha, cs), src[1] - src[0], 0, ha)
        cols = _area_window(wa, Fraction(src[2] * wa, cs), Fraction(wa, cs), src[3] - src[2], 0, wa)
        # _area_window divides by the step (input pixels per output pixel) for averaging.
        return rows.to(img) @ img @ cols.to(img).T


def render_view(
    code,
    center: tuple[float, float] = (0.5, 0.5),
    zoom: float = 1.0,
    size: tuple[int, int] = (512, 512),
    autocontrast: bool | str = False,
    device: str | torch.device | None = None,
    **kw,
):
    """A view of ``code``'s attractor as a PIL image (see :meth:`FractalCode.render_view`)."""
    from .image_io import to_image
    from .palette import check_colour
    from .tone import tone_view

    look = check_colour(autocontrast, "autocontrast")
    renderer = ViewRenderer(code, device, **kw)
    view = renderer.render(center, zoom, size, precise=look != "off")
    return to_image(tone_view(view, look, renderer, zoom).cpu())
