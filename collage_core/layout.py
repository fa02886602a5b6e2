"""Cell layouts: how the Collage operator partitions the image into cells (DESIGN.md sections 1, 8).

The step, the fit, the decoders, the viewport and the code file all ask the layout, so
the partition is written once. Every layout shrinks the whole image (and each style
image) into a *domain frame* of side ``d`` per cell; cell ``k`` draws
``sum_n a[c, k, n] * T_n(domain) + b[c, k]`` over its frame, and the frames are placed
on the output:

* :class:`GridLayout`: ``grid x grid`` square cells, each frame exactly its cell
  (``d = S / grid``, hard seams; the paper's operator).
* :class:`BlendedLayout`: each cell's frame is the square twice its width centred on
  it, weighted by a separable window ``w_k`` with ``sum_k w_k = 1`` at every pixel
  (renormalised at the image border). Overlapping frames blend, so no seam is left at
  any level; the map stays a contraction with ratio ``max_k sum_n |a_kn|``. With
  ``frame="mirror"`` the whole image is shrunk to the *cell* (``d = S / grid``, as in
  the hard grid) and continued past the cell's edges by its mirror image, so every
  cell is one whole, sharp copy and only the band at the seams cross-fades; with
  ``frame="wide"`` it is shrunk into the whole frame (``d = 2 S / grid``).

A *piece* is the part of one cell's frame inside an axis-aligned window of a level:
the viewport computes windows piece by piece without the rest of the level.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import torch
import torch.nn.functional as F
from einops import rearrange

from .resample import area_resize
from .symmetry import apply_symmetries

Rect = tuple[int, int, int, int]  # (row0, row1, col0, col1), half-open, Python ints
WINDOWS = ("cosine", "tent")
FRAMES = ("mirror", "wide")


@dataclass(frozen=True)
class Piece:
    """The pixels ``rect`` of a level that cell ``cell`` draws; ``local`` is the same
    pixels in the cell's domain frame (side :meth:`Layout.child_side`)."""

    cell: int
    rect: Rect
    local: Rect
    # Dims of the piece's ``(C, h, w)`` term to reverse (``-2`` rows, ``-1`` columns):
    # mirror frames show ``local`` of the child reflected past the cell's edge.
    flip: tuple[int, ...] = ()


def _check_size(size: tuple[int, int], unit: int, what: str) -> None:
    H, W = size
    if H % unit or W % unit:
        raise ValueError(f"image {H}x{W} is not divisible by {unit} ({what})")


def _domain_stack(z, symmetries, aux, d: tuple[int, int]) -> torch.Tensor:
    """The whole image (and style images) area-pooled to the frame size, every symmetric copy.

    ``z`` ``(B, C, H, W)``, ``aux`` ``(B, C, A, h, w)`` or ``None`` -> ``(B, C, N, *d)``.
    """
    domains = apply_symmetries(area_resize(z, d), symmetries)  # (B, C, n, dh, dw)
    if aux is not None and aux.shape[2] > 0:
        extra = apply_symmetries(area_resize(aux, d), symmetries)  # (B, C, A, n, dh, dw)
        domains = torch.cat([domains, rearrange(extra, "b c a n h w -> b c (a n) h w")], dim=2)
    return domains


def _check_coefficients(a, b, B, C, K, N) -> None:
    if a.shape != (B, C, K, N) or b.shape != (B, C, K):
        raise ValueError(f"coefficients a{tuple(a.shape)}, b{tuple(b.shape)} do not fit B={B}, C={C}, K={K}, N={N}")


class _Stepper:
    """The one collage step every layout shares: its domains, checked, then its assembly."""

    def step(self, z, a, b, symmetries="d4", aux=None, size=None) -> torch.Tensor:
        """One collage step: ``z`` ``(B, C, H_z, W_z)``, ``a`` ``(B, C, K, N)``, ``b`` ``(B, C, K)`` -> ``(B, C, H, W)``."""
        domains = self.domains(z, symmetries, aux, size)
        B, C, N = domains.shape[:3]
        _check_coefficients(a, b, B, C, self.cells, N)
        return self.assemble(a, b, domains)


# ---------------------------------------------------------------------------- hard grid
@dataclass(frozen=True)
class GridLayout(_Stepper):
    """``grid x grid`` non-overlapping square cells (the paper's operator)."""

    grid: int
    kind = "grid"

    @property
    def cells(self) -> int:
        return self.grid * self.grid

    @property
    def unit(self) -> int:
        """Sides this layout steps exactly are multiples of this."""
        return self.grid

    @property
    def factor(self) -> int:
        """How much smaller the level one step reads is: ``side / child_side(side)``."""
        return self.grid

    def climbs(self, side: int) -> bool:
        """Whether ``A(side)`` is one step of ``A(child_side(side))``."""
        return side % self.grid == 0

    def child_side(self, side: int) -> int:
        return side // self.grid

    def domains(self, z, symmetries, aux=None, size=None) -> torch.Tensor:
        """Domain stack for a step producing ``size``: ``(B, C, N, H / grid, W / grid)``."""
        H, W = size or z.shape[-2:]
        _check_size((H, W), self.grid, f"the grid {self.grid}")
        return _domain_stack(z, symmetries, aux, (H // self.grid, W // self.grid))

    def assemble(self, a, b, domains) -> torch.Tensor:
        """Cells ``sum_n a_kn D_n + b_k`` placed on the grid; ``domains`` ``(B, C, N, h, w)``."""
        g = self.grid
        # The offset rides along as a constant domain. Batching the matmul over (gy, h) and
        # multiplying (gx, n) by (n, w) writes rows straight into image layout, so the
        # result is (B, C, H, W) as a view, with no copy the size of the output.
        weights = torch.cat([a, b[..., None]], dim=-1)  # (B, C, K, N+1)
        stack = torch.cat([domains, torch.ones_like(domains[:, :, :1])], dim=2)  # (B, C, N+1, h, w)
        rows = torch.matmul(
            rearrange(weights, "b c (gy gx) n -> b c gy 1 gx n", gy=g),
            rearrange(stack, "b c n h w -> b c 1 h n w"),
        )  # (B, C, gy, h, gx, w)
        return rearrange(rows, "b c gy h gx w -> b c (gy h) (gx w)")

    def cells_block(self, a, consts, copies, rect: Rect, side: int) -> torch.Tensor:
        """Window ``rect`` of a level from the frames of all its cells at once.

        ``a`` ``(C, K, N)``, ``consts`` ``(C, K)``, ``copies`` ``(C, N, c, c)`` -> ``(C, h, w)``.
        """
        cs, g = side // self.grid, self.grid
        i0, i1 = rect[0] // cs, (rect[1] - 1) // cs + 1
        j0, j1 = rect[2] // cs, (rect[3] - 1) // cs + 1
        ks = (torch.arange(i0, i1)[:, None] * g + torch.arange(j0, j1)[None, :]).flatten().to(a.device)
        cells = torch.einsum("ckn,cnhw->ckhw", a[:, ks], copies) + consts[:, ks, None, None]
        block = rearrange(cells, "c (i j) h w -> c (i h) (j w)", i=i1 - i0)
        return block[:, rect[0] - i0 * cs : rect[1] - i0 * cs, rect[2] - j0 * cs : rect[3] - j0 * cs]

    def cells_in(self, rect: Rect, side: int) -> int:
        cs = side // self.grid
        return ((rect[1] - 1) // cs - rect[0] // cs + 1) * ((rect[3] - 1) // cs - rect[2] // cs + 1)

    def pieces(self, rect: Rect, side: int) -> list[Piece]:
        """The cells under ``rect`` of level ``side``, each with its part of the window."""
        cs, out = side // self.grid, []
        for i in range(rect[0] // cs, (rect[1] - 1) // cs + 1):
            for j in range(rect[2] // cs, (rect[3] - 1) // cs + 1):
                g0, g1 = max(rect[0], i * cs), min(rect[1], (i + 1) * cs)
                h0, h1 = max(rect[2], j * cs), min(rect[3], (j + 1) * cs)
                local = (g0 - i * cs, g1 - i * cs, h0 - j * cs, h1 - j * cs)
                out.append(Piece(i * self.grid + j, (g0, g1, h0, h1), local))
        return out

    def piece_weight(self, piece: Piece, side: int):
        """``(rows, cols)`` float64 window weights of a piece, or ``None`` (weight 1)."""
        return None

    def loop_center(self, cell: int) -> tuple[float, float]:
        """Normalised ``(x, y)`` fixed point of cell ``cell``'s map: zooming into it by
        :attr:`factor` maps the view of the whole image onto the cell (DESIGN.md section 5)."""
        i, j = divmod(cell, self.grid)
        return (j / (self.grid - 1), i / (self.grid - 1))

    def to_meta(self) -> dict:
        return {"kind": self.kind, "grid": self.grid}


# ----------------------------------------------------------------------------- blended
def _profile(t: torch.Tensor, window: str, band: float) -> torch.Tensor:
    # 1 on the cell's plateau |t| <= 1/2 - band, a ramp across the band around each
    # boundary, 0 beyond; the ramp r(u) satisfies r(u) + r(1 - u) = 1, so phi(t) +
    # phi(t - 1) = 1 on [0, 1]: a partition of unity. band = 1/2 is the full tent/cosine.
    u = ((t.abs() - (0.5 - band)) / (2 * band)).clamp(0, 1)
    return torch.cos(u * (math.pi / 2)) ** 2 if window == "cosine" else 1 - u


@dataclass(frozen=True)
class BlendedLayout(_Stepper):
    """Cells blended by a partition of unity (DESIGN.md section 8).

    Cell ``(i, j)`` of width ``c = S / grid`` draws over the square
    ``[(i - 1/2) c, (i + 3/2) c)`` (its *frame*, side ``2c``) and is weighted there by
    ``w_i(y) w_j(x)``, with ``w_i(y) = phi((y + 1/2 - (i + 1/2) c) / c)`` sampled at
    pixel centres. ``phi`` is a raised cosine (``cos^2``, smooth) or a tent; both make
    the weights sum to exactly 1 at every pixel. The image border has no outer
    neighbour, so there the border cell's weight is 1. What the frame shows:

    * ``frame="mirror"``: the whole image shrunk to the cell (side ``c``, exactly where
      the hard grid puts it), continued by its mirror image past each edge. Away from
      the band a cell is one whole sharp copy at every depth; in the band two copies'
      edges cross-fade, and a mirror continues each copy's edge, so nothing jumps.
      A step reads the level of side ``S / grid``.
    * ``frame="wide"``: the whole image shrunk into the frame; a cell shows the middle
      half of the image at twice the size. A step reads the level of side ``2 S / grid``.

    A step at side ``S`` needs ``S`` divisible by ``2 * grid`` (the half-cell offset is
    whole pixels).
    """

    grid: int
    window: str = "cosine"
    # Half-width of the blend band around each cell boundary, in cells (0 < band <= 1/2):
    # the floor used by large cells (see band_at). Narrow bands let deep views read fewer frames (a
    # window away from a band needs one cell, not four: 0.3 s at 1e12 for 1/8, 13 s for 1/2).
    band: float = 0.125
    # ...but at least this many pixels of the level (up to half a cell): small cells, as
    # seen at 1x and in every view, blend fully, large ones over a ramp >= 2 * ramp px.
    ramp: int = 32
    frame: str = "wide"  # "mirror" (cell-size copies) or "wide" (the version-2 files' frames)
    kind = "blend"

    def __post_init__(self) -> None:
        if not isinstance(self.grid, int) or self.grid < 4 or self.grid % 2:
            raise ValueError(f"blended cells need an even grid of at least 4, got {self.grid!r}; use blend=False")
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}, got {self.window!r}")
        if not (isinstance(self.band, int | float) and 1 / 64 <= self.band <= 0.5):
            raise ValueError(f"band must be a number in [1/64, 1/2], got {self.band!r}")
        if not (isinstance(self.ramp, int) and not isinstance(self.ramp, bool) and 0 <= self.ramp <= 4096):
            raise ValueError(f"ramp must be an integer number of pixels in [0, 4096], got {self.ramp!r}")
        if self.frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {self.frame!r}")

    @property
    def mirror(self) -> bool:
        return self.frame == "mirror"

    @property
    def cells(self) -> int:
        return self.grid * self.grid

    @property
    def unit(self) -> int:
        """Sides this layout steps exactly are multiples of this (whole half cells)."""
        return 2 * self.grid

    @property
    def factor(self) -> int:
        return self.grid if self.mirror else self.grid // 2

    def climbs(self, side: int) -> bool:
        # At 2 * grid the level read is 4 x 4 pixels of A(2 * grid) itself: the base.
        return side % (2 * self.grid) == 0 and side > 2 * self.grid

    def child_side(self, side: int) -> int:
        return (1 if self.mirror else 2) * side // self.grid

    def domains(self, z, symmetries, aux=None, size=None) -> torch.Tensor:
        """Domain stack for a step producing ``size``: ``(B, C, N, h, w)``, the child's side
        (``H / grid`` mirror, ``2H / grid`` wide); :meth:`frame_domains` fills the frames."""
        H, W = size or z.shape[-2:]
        _check_size((H, W), 2 * self.grid, f"blended cells of grid {self.grid} need whole half cells")
        u = 1 if self.mirror else 2
        return _domain_stack(z, symmetries, aux, (u * H // self.grid, u * W // self.grid))

    def frame_domains(self, domains: torch.Tensor) -> torch.Tensor:
        """What every frame shows, ``(..., d, d)`` -> ``(..., 2c, 2c)``: the domains
        themselves (wide), or the cell-size copy mirrored half a cell past each edge."""
        if not self.mirror:
            return domains
        idx = _mirror_index(domains.shape[-1], domains.device)
        return domains[..., idx, :][..., idx]

    def assemble(self, a, b, domains) -> torch.Tensor:
        """Frames ``sum_n a_kn D_n + b_k``, weighted and overlap-added; ``domains`` from :meth:`domains`."""
        domains = self.frame_domains(domains)  # (B, C, N, 2c, 2c)
        d = domains.shape[-1]
        frames = torch.einsum("bckn,bcnhw->bckhw", a, domains) + b[..., None, None]  # (B, C, K, d, d)
        return self.overlap_add(frames * self.frame_weights(d // 2 * self.grid, frames.dtype, frames.device))

    def overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """Place weighted frames ``(B, C, K, d, d)`` on the ``(B, C, S, S)`` image (``S = d * grid / 2``)."""
        B, C, K, d, _ = frames.shape
        c, g = d // 2, self.grid
        # Padded by half a cell, the image is a (g+1)^2 grid of c-tiles, and quadrant
        # (qy, qx) of frame (i, j) is exactly tile (i + qy, j + qx): four shifted adds.
        quads = rearrange(frames, "b c (i j) (qy h) (qx w) -> qy qx b c i j h w", i=g, qy=2, qx=2)
        if frames.requires_grad and torch.is_grad_enabled():
            # Padded copies summed, quadrants taken by unbind: autograd then stacks their
            # gradients once. Indexing and in-place adds (below) cost 2x in training: each
            # quadrant's backward zero-fills a gradient the size of all four.
            q = [row.unbind(0) for row in quads.unbind(0)]
            shifted = [F.pad(q[qy][qx], (0, 0, 0, 0, qx, 1 - qx, qy, 1 - qy)) for qy in (0, 1) for qx in (0, 1)]
            tiles = shifted[0] + shifted[1] + shifted[2] + shifted[3]
        else:  # inference: in place, no padded copies
            tiles = frames.new_zeros(B, C, g + 1, g + 1, c, c)
            for qy in range(2):
                for qx in range(2):
                    tiles[:, :, qy : qy + g, qx : qx + g] += quads[qy, qx]
        image = rearrange(tiles, "b c i j h w -> b c (i h) (j w)")
        return image[..., c // 2 : c // 2 + g * c, c // 2 : c // 2 + g * c]

    def frame_weights(self, side: int, dtype=torch.float32, device=None) -> torch.Tensor:
        """``w_k`` over each frame: ``(K, d, d)``, zero outside the image (cached for small sides)."""
        fn = _frame_weights if side <= 1024 else _frame_weights.__wrapped__  # 4 * side^2 floats
        return fn(self, side, dtype, torch.device(device or "cpu"))

    def axis_weights(self, side: int) -> torch.Tensor:
        """``w_i`` along one axis of every cell's frame: ``(grid, d)`` float64."""
        return _axis_weights(self.grid, self.window, float(self.band_at(side // self.grid)), side)

    def band_at(self, c: int) -> Fraction:
        """The band (in cells) of a level whose cells are ``c`` pixels wide: exact."""
        floor = Fraction(self.band).limit_denominator(1 << 20)
        if self.mirror:
            # Cells up to 2 * ramp px blend over half their width (1x to 4x renders of a
            # grid-32 photo: the operator, hence pooling, does not change there); beyond,
            # the band falls as (2 ramp / c)^2 / 2, so a whole cell seen in a view is one
            # copy but for a thin seam (1/32 of a 256 px cell with ramp 32).
            return max(floor, min(Fraction(1, 2), Fraction(2 * self.ramp**2, max(c, 1) ** 2)))
        return max(floor, min(Fraction(1, 2), Fraction(self.ramp, max(c, 1))))

    def cells_block(self, a, consts, copies, rect: Rect, side: int) -> torch.Tensor:
        """Window ``rect`` of a level from the frames of every cell touching it (see GridLayout)."""
        c, g = side // self.grid, self.grid
        (i0, i1), (j0, j1) = self._cell_range(rect[0], rect[1], c), self._cell_range(rect[2], rect[3], c)
        ks = (torch.arange(i0, i1)[:, None] * g + torch.arange(j0, j1)[None, :]).flatten().to(a.device)
        frames = torch.einsum("ckn,cnhw->ckhw", a[:, ks], self.frame_domains(copies)) + consts[:, ks, None, None]
        w = self.axis_weights(side).to(frames)
        frames = frames * rearrange(w[i0:i1, None, :, None] * w[None, j0:j1, None, :], "i j h w -> (i j) h w")
        # Overlap-add the block of frames as a small blended image of (i1-i0) x (j1-j0) cells.
        d = frames.shape[-1]
        cols = rearrange(frames, "c k h w -> c (h w) k")
        hb, wb = (i1 - i0 + 1) * c, (j1 - j0 + 1) * c
        block = F.fold(cols, (hb, wb), kernel_size=d, stride=c)  # origin at ((i0 - 1/2) c, (j0 - 1/2) c)
        y0, x0 = i0 * c - c // 2, j0 * c - c // 2
        return block[:, 0, rect[0] - y0 : rect[1] - y0, rect[2] - x0 : rect[3] - x0]

    def cells_in(self, rect: Rect, side: int) -> int:
        c = side // self.grid
        (i0, i1), (j0, j1) = self._cell_range(rect[0], rect[1], c), self._cell_range(rect[2], rect[3], c)
        return (i1 - i0) * (j1 - j0)

    def _axis_spans(self, lo: int, hi: int, c: int):
        # Cells i whose window is nonzero somewhere in [lo, hi), with that part; f0 is
        # where the cell's frame [(i - 1/2) c, (i + 3/2) c) starts.
        reach = self._reach(c)
        for i in range(*self._cell_range(lo, hi, c)):
            f0 = i * c - c // 2
            s0, s1 = max(lo, f0, i * c - reach), min(hi, f0 + 2 * c, (i + 1) * c + reach)
            if s1 > s0:
                yield i, s0, s1, f0

    def _reach(self, c: int) -> int:
        # Pixels past a boundary where the cell's weight is still nonzero: pixel centres
        # with offset < band * c (exact for Python ints of any size).
        return max(0, math.ceil(self.band_at(c) * c - Fraction(1, 2)))

    def _cell_range(self, lo: int, hi: int, c: int) -> tuple[int, int]:
        return max(0, (lo - c // 2) // c), min(self.grid, (hi + c // 2 - 1) // c + 1)

    def pieces(self, rect: Rect, side: int) -> list[Piece]:
        """The frames under ``rect``; mirror frames split at the copy's edges, ``local`` in the child."""
        c, out = side // self.grid, []
        rows = [
            (i, *seg)
            for i, g0, g1, f0 in self._axis_spans(rect[0], rect[1], c)
            for seg in self._segments(g0, g1, f0, c)
        ]
        cols = [
            (j, *seg)
            for j, h0, h1, f0 in self._axis_spans(rect[2], rect[3], c)
            for seg in self._segments(h0, h1, f0, c)
        ]
        for i, g0, g1, u0, u1, fy in rows:
            for j, h0, h1, v0, v1, fx in cols:
                flip = (-2,) * fy + (-1,) * fx
                out.append(Piece(i * self.grid + j, (g0, g1, h0, h1), (u0, u1, v0, v1), flip))
        return out

    def _segments(self, s0: int, s1: int, f0: int, c: int):
        # Level span [s0, s1) of a frame starting at f0 -> (s0, s1, child0, child1, reversed).
        if not self.mirror:
            yield s0, s1, s0 - f0, s1 - f0, False
            return
        yield from mirror_segments(s0, s1, f0, c)

    def piece_weight(self, piece: Piece, side: int):
        i, j = divmod(piece.cell, self.grid)
        c = side // self.grid
        band = float(self.band_at(c))
        y0, x0 = i * c - c // 2, j * c - c // 2  # the frame's origin on the level
        rows = _weights_at(self.grid, self.window, band, c, i, piece.rect[0] - y0, piece.rect[1] - y0)
        cols = _weights_at(self.grid, self.window, band, c, j, piece.rect[2] - x0, piece.rect[3] - x0)
        return rows, cols

    def loop_center(self, cell: int) -> tuple[float, float]:
        """Fixed point of ``p -> ((i - 1/2) + 2 p) / grid``, the map onto cell ``(i, j)``'s frame.

        Border frames reach outside the image, and so would their fixed points: the
        nearest interior cell's is used instead. Mirror frames put the copy on the cell,
        as the hard grid does.
        """
        if self.mirror:
            i, j = divmod(cell, self.grid)
            return (j / (self.grid - 1), i / (self.grid - 1))
        i, j = (min(max(v, 1), self.grid - 2) for v in divmod(cell, self.grid))
        return ((j - 0.5) / (self.grid - 2), (i - 0.5) / (self.grid - 2))

    def to_meta(self) -> dict:
        meta = {"kind": self.kind, "grid": self.grid, "window": self.window, "band": self.band, "ramp": self.ramp}
        return meta | ({"frame": self.frame} if self.mirror else {})  # files without it are wide


def mirror_segments(s0: int, s1: int, f0: int, c: int):
    """A mirror frame's level span ``[s0, s1)`` (frame of side ``2c`` starting at ``f0``, its
    copy at ``[f0 + c/2, f0 + 3c/2)``) cut at the copy's edges: ``(s0, s1, child0, child1, reversed)``."""
    h = c // 2
    lo, hi = f0 + h, f0 + h + c  # where the copy itself lies
    if s0 < lo:  # the mirror before the copy: level f0 + h - 1 - q shows child q
        e = min(s1, lo)
        yield s0, e, lo - e, lo - s0, True
    if max(s0, lo) < min(s1, hi):
        a, e = max(s0, lo), min(s1, hi)
        yield a, e, a - lo, e - lo, False
    if s1 > hi:  # the mirror after it: level hi + q shows child c - 1 - q
        a = max(s0, hi)
        yield a, s1, 2 * hi - s1 - lo, 2 * hi - a - lo, True


@functools.lru_cache(maxsize=64)
def _mirror_index(c: int, device) -> torch.Tensor:
    # Frame position u in [0, 2c) -> child pixel: p = u - c/2 reflected at the copy's
    # edges (half-sample symmetric: the edge pixel repeats, as area pooling does).
    p = torch.arange(2 * c) - c // 2
    return torch.where(p < 0, -1 - p, torch.where(p >= c, 2 * c - 1 - p, p)).to(device)


def _weights_at(grid: int, window: str, band: float, c: int, i: int, u0: int, u1: int) -> torch.Tensor:
    """``w_i`` at frame positions ``u0..u1`` (float64); exact for any ``c`` (Python ints)."""
    u = torch.arange(u1 - u0, dtype=torch.float64) + (u0 - c)  # pixel offset from the frame's centre
    w = _profile((u + 0.5) / c, window, band)
    # Border cells have no outer neighbour: their weight is 1 on the outer half cell,
    # and 0 on the half of the frame that lies outside the image.
    if i == 0:
        w = torch.where(u < -(c // 2), 0.0, torch.where(u < 0, 1.0, w))
    if i == grid - 1:
        w = torch.where(u >= c // 2, 0.0, torch.where(u >= 0, 1.0, w))
    return w


@functools.lru_cache(maxsize=8)
def _frame_weights(layout: BlendedLayout, side: int, dtype, device) -> torch.Tensor:
    rows = layout.axis_weights(side).to(device=device, dtype=dtype)  # (g, d)
    return rearrange(rows[:, None, :, None] * rows[None, :, None, :], "i j h w -> (i j) h w")


@functools.lru_cache(maxsize=32)
def _axis_weights(grid: int, window: str, band: float, side: int) -> torch.Tensor:
    c = side // grid
    return torch.stack([_weights_at(grid, window, band, c, i, 0, 2 * c) for i in range(grid)])


Layout = GridLayout | BlendedLayout


def as_layout(layout: int | Layout) -> Layout:
    """A layout, or the hard grid of that many cells a side for a bare integer."""
    if isinstance(layout, _Stepper):  # GridLayout, BlendedLayout, QuadtreeLayout
        return layout
    if isinstance(layout, int) and not isinstance(layout, bool):
        return GridLayout(layout)
    raise ValueError(f"expected a grid size or a cell layout, got {layout!r}")


def layout_from_meta(meta: dict) -> Layout:
    """Inverse of ``layout.to_meta()``; malformed input raises ``ValueError``."""
    if not isinstance(meta, dict):
        raise ValueError(f"layout must be a JSON object, got {meta!r}")
    kind, grid = meta.get("kind"), meta.get("grid")
    if not isinstance(grid, int):
        raise ValueError(f"layout grid must be an integer, got {grid!r}")
    if kind == "grid":
        return GridLayout(grid)
    if kind == "blend":
        band, ramp = meta.get("band", 0.5), meta.get("ramp", 0)
        if not isinstance(band, int | float) or isinstance(band, bool):
            raise ValueError(f"layout band must be a number, got {band!r}")
        return BlendedLayout(grid, meta.get("window", "cosine"), float(band), ramp, meta.get("frame", "wide"))
    if kind == "quadtree":
        from .quadtree import QuadtreeLayout  # it builds on this module

        return QuadtreeLayout.from_meta(meta)
    raise ValueError(f"unknown cell layout {kind!r}")
