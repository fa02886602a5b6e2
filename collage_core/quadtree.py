"""Adaptive cells: a quadtree partition (DESIGN.md section 8, last item; issue 9 part 3).

The image is cut into ``grid x grid`` root cells, and any cell may be split into four
quarters, recursively. A leaf of depth ``d`` is a square of side ``S / (grid * 2**d)``
and, like a grid cell, draws the whole image shrunk to its own side::

    leaf_k <- sum_n a[c, k, n] * T_n(pool(z, side_k)) + b[c, k]

Calm regions keep big leaves (whole copies of the picture stay visible); detail gets
small ones. Cells do not overlap, so pooling commutes with the step exactly: the
attractor at side ``S`` is one step of the attractor at side ``S / grid`` (the level
the biggest leaves read; smaller leaves read it pooled further), and decoding stays
exact (:func:`~collage_core.decode.quadtree_attractor`).

Leaves are numbered in preorder: root cells row-major, each split cell followed by
its quarters in the order top-left, top-right, bottom-left, bottom-right. The layout
is stored as the preorder split bits (1 = split), base64 in the code file's header.

``grid`` must be a power of two, so every level a view or a decode visits is a power of
two times the smallest one, and each is an exact pooling of the one above.

With ``blend=True`` the leaves are cross-faded by a partition of unity over mirror
frames (:mod:`~collage_core.quadtree_blend`): no seams at 1x or at depth. The weights vary
inside a pixel, so pooling then commutes with the step only approximately, and renders
are defined by the same multiscale recursion (every level one step of the level below).
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

import torch

from . import quadtree_blend
from .layout import WINDOWS, Piece, Rect, _check_coefficients, _check_size, _domain_stack, _Stepper

MAX_DEPTH = 8
MAX_CELLS = 65536
MAX_UNIT = 1024  # grid << depth: the side of the smallest leaves' base level that fits and loads


@dataclass(frozen=True)
class QuadtreeLayout(_Stepper):
    """Quadtree cells under a ``grid x grid`` root grid.

    Attributes:
        grid: root cells a side, a power of two.
        depths: every leaf's depth, in preorder (the tree is determined by them).
        blend: cross-fade the leaves (mirror frames, :mod:`~collage_core.quadtree_blend`);
            ``window``, ``band`` and ``ramp`` as :class:`~collage_core.layout.BlendedLayout`'s.
    """

    grid: int
    depths: tuple[int, ...]
    blend: bool = False
    window: str = "cosine"
    band: float = 0.03125
    ramp: int = 32
    kind = "quadtree"

    def __post_init__(self) -> None:
        g = self.grid
        if not isinstance(g, int) or isinstance(g, bool) or not 2 <= g <= 64 or g & (g - 1):
            raise ValueError(f"adaptive cells need a power-of-two root grid (2, 4, 8, 16, 32 or 64), got {g!r}")
        if not isinstance(self.depths, tuple) or not all(isinstance(d, int) for d in self.depths):
            raise ValueError("quadtree depths must be a tuple of integers")
        if not g * g <= len(self.depths) <= MAX_CELLS:
            raise ValueError(f"a quadtree of root grid {g} has {g * g}..{MAX_CELLS} cells, got {len(self.depths)}")
        if min(self.depths) < 0 or max(self.depths) > MAX_DEPTH:
            raise ValueError(f"quadtree depths must lie in [0, {MAX_DEPTH}]")
        _leaves(self)  # raises if the depths do not tile the square
        if self.blend not in (True, False):
            raise ValueError(f"quadtree blend must be True or False, got {self.blend!r}")
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}, got {self.window!r}")
        if not (isinstance(self.band, int | float) and not isinstance(self.band, bool) and 1 / 64 <= self.band <= 0.5):
            raise ValueError(f"band must be a number in [1/64, 1/2], got {self.band!r}")
        if not (isinstance(self.ramp, int) and not isinstance(self.ramp, bool) and 0 <= self.ramp <= 4096):
            raise ValueError(f"ramp must be an integer number of pixels in [0, 4096], got {self.ramp!r}")

    def __hash__(self) -> int:
        # Every cached lookup (leaves, bands, weights) hashes the layout: hash the depths once.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.grid, self.depths, self.blend, self.window, self.band, self.ramp))
            object.__setattr__(self, "_hash", cached)
        return cached

    # ------------------------------------------------------------------ shape
    @property
    def cells(self) -> int:
        return len(self.depths)

    @property
    def depth(self) -> int:
        """The deepest leaf's depth."""
        return max(self.depths)

    @property
    def unit(self) -> int:
        """Sides a step can produce are multiples of this (every leaf whole pixels; blended:
        an even number of them, so a mirror frame's half cell is whole pixels)."""
        return (2 if self.blend else 1) * (self.grid << self.depth)

    @property
    def factor(self) -> int:
        """How much smaller the biggest level one step reads is."""
        return self.grid

    def climbs(self, side: int) -> bool:
        """Whether ``A(side)`` is one step of ``A(child_side(side))`` alone. Blended leaves
        read their own levels (:meth:`step_levels`): never."""
        return side % self.unit == 0 and not self.blend

    def steps_at(self, side: int) -> bool:
        """Whether ``A(side)`` is one step of the levels :meth:`reads` (every leaf whole)."""
        return side % self.unit == 0

    def reads(self, side: int) -> list[int]:
        """The level side each depth's leaves read in a step at ``side``: ``side / (grid * 2**d)``."""
        return [side // (self.grid << d) for d in range(self.depth + 1)]

    def child_side(self, side: int) -> int:
        return side // self.grid

    def leaf(self, k: int) -> tuple[int, int, int]:
        """``(depth, row, col)`` of leaf ``k``; row and col count cells of that depth."""
        return _leaves(self)[0][k]

    # ------------------------------------------------------------------- step
    def domains(self, z, symmetries, aux=None, size=None) -> torch.Tensor:
        """Domain stack at the root cells' side: ``(B, C, N, H / grid, W / grid)``; deeper
        leaves read it pooled by ``2**depth`` (pooling commutes with the symmetries)."""
        H, W = size or z.shape[-2:]
        _check_size((H, W), self.unit, f"quadtree cells of grid {self.grid} and depth {self.depth}")
        return _domain_stack(z, symmetries, aux, (H // self.grid, W // self.grid))

    def assemble(self, a, b, domains) -> torch.Tensor:
        """Leaves ``sum_n a_kn pool(D_n, 2**d_k) + b_k`` placed on the image (blended: in
        their frames, weighted and overlap-added); ``domains`` ``(B, C, N, c, c)``."""
        if self.blend:
            stacks = [domains]
            for _ in range(self.depth):
                B, C, N, h = *stacks[-1].shape[:3], stacks[-1].shape[-1] // 2
                stacks.append(stacks[-1].reshape(B, C, N, h, 2, h, 2).mean(dim=(4, 6)))
            return quadtree_blend.assemble(self, a, b, stacks)
        B, C, N, c, _ = domains.shape
        weights = torch.cat([a, b[..., None]], dim=-1)  # (B, C, K, N+1)
        stack = torch.cat([domains, torch.ones_like(domains[:, :, :1])], dim=2)
        out = stack.new_zeros(B, C, c * self.grid, c * self.grid)
        for d in range(self.depth + 1):
            if d:
                h = stack.shape[-1] // 2
                stack = stack.reshape(B, C, N + 1, h, 2, h, 2).mean(dim=(4, 6))
            ks, rows, cols = _by_depth(self)[d]
            if not len(ks):
                continue
            h, n = stack.shape[-1], self.grid << d
            cells = torch.einsum("bckn,bcnhw->bckhw", weights[:, :, ks.to(a.device)], stack)
            # The image seen as an (n x n) grid of h-pixel cells: a view, written in place.
            grid_view = out.view(B, C, n, h, n, h).permute(0, 1, 2, 4, 3, 5)
            grid_view[:, :, rows.to(a.device), cols.to(a.device)] = cells
        return out

    def step_levels(self, levels: list, a, b, symmetries="d4", aux=None) -> torch.Tensor:
        """One step from the levels the leaves read, ``levels[d]`` ``(B, C, s_d, s_d)`` at
        ``s_d = S / (grid * 2**d)`` (``None`` where no leaf has depth ``d``) -> ``(B, C, S, S)``.

        :meth:`step` is this with ``levels[d] = pool(z, 2**d)``; the exact decoder and the
        viewport give every depth the attractor's own level instead. Hard leaves: the same
        (pooling commutes); blended: the multiscale recursion of
        :func:`~collage_core.decode.quadtree_attractor`."""
        stacks = [None if z is None else _domain_stack(z, symmetries, aux, tuple(z.shape[-2:])) for z in levels]
        first = next(s for s in stacks if s is not None)
        B, C, N = first.shape[:3]
        _check_coefficients(a, b, B, C, self.cells, N)
        if self.blend:
            return quadtree_blend.assemble(self, a, b, stacks)
        return self.assemble(a, b, stacks[0])

    # ---------------------------------------------------------------- windows
    def pieces(self, rect: Rect, side: int) -> list[Piece]:
        """The leaves under ``rect`` of level ``side``, each with its part of the window;
        ``local`` is in the leaf's own frame (side ``side / (grid * 2**depth)``). Blended:
        every leaf whose weight reaches into ``rect``, cut at its copy's mirrored edges."""
        if self.blend:
            return quadtree_blend.pieces(self, rect, side)
        out: list[Piece] = []
        c0 = side // self.grid
        index = _leaves(self)[1]
        for i in range(rect[0] // c0, (rect[1] - 1) // c0 + 1):
            for j in range(rect[2] // c0, (rect[3] - 1) // c0 + 1):
                self._descend(0, i, j, c0, rect, index, out)
        return out

    def _descend(self, d, i, j, c, rect, index, out) -> None:
        y0, x0 = i * c, j * c
        g0, g1, h0, h1 = max(rect[0], y0), min(rect[1], y0 + c), max(rect[2], x0), min(rect[3], x0 + c)
        if g1 <= g0 or h1 <= h0:
            return
        k = index.get((d, i, j))
        if k is not None:
            out.append(Piece(k, (g0, g1, h0, h1), (g0 - y0, g1 - y0, h0 - x0, h1 - x0)))
            return
        for di in range(2):
            for dj in range(2):
                self._descend(d + 1, 2 * i + di, 2 * j + dj, c // 2, rect, index, out)

    def cells_in(self, rect: Rect, side: int) -> int:
        return len(self.pieces(rect, side))

    def piece_weight(self, piece: Piece, side: int):
        """``None`` (hard leaves, or a blended leaf's plateau: raw weight 1), or the raw
        ramps ``(rows, cols)`` of a blended piece: the weights are their product divided
        by :meth:`weight_sum` over the window."""
        return quadtree_blend.piece_weight(self, piece, side) if self.blend else None

    def weight_sum(self, rect: Rect, side: int) -> torch.Tensor:
        """``sum_k rho_k`` over ``rect`` of level ``side``, float64 ``(h, w)``, from the pieces
        (so any window, at any depth, without the whole level)."""
        out = torch.zeros(rect[1] - rect[0], rect[3] - rect[2], dtype=torch.float64)
        for p in self.pieces(rect, side):
            weight = self.piece_weight(p, side)
            spot = out[p.rect[0] - rect[0] : p.rect[1] - rect[0], p.rect[2] - rect[2] : p.rect[3] - rect[2]]
            spot += 1 if weight is None else weight[0][:, None] * weight[1][None, :]
        return out

    def loop_center(self, cell: int) -> tuple[float, float]:
        """Fixed point of the map onto leaf ``cell`` (zoom ``grid * 2**depth`` into it loops)."""
        d, i, j = self.leaf(cell)
        n = self.grid << d
        return (j / (n - 1), i / (n - 1)) if n > 1 else (0.5, 0.5)

    # ------------------------------------------------------------------- file
    def to_meta(self) -> dict:
        meta = {"kind": self.kind, "grid": self.grid, "splits": encode_splits(self)}
        if self.blend:  # files without "frame" (before blended quadtrees) are hard
            meta |= {"frame": "mirror", "window": self.window, "band": self.band, "ramp": self.ramp}
        return meta

    @classmethod
    def from_meta(cls, meta: dict) -> QuadtreeLayout:
        """Inverse of :meth:`to_meta`; malformed input raises ``ValueError``."""
        hard = cls.from_splits(meta.get("grid"), meta.get("splits"))
        frame = meta.get("frame")
        if frame is None:
            return hard
        if frame != "mirror":
            raise ValueError(f"blended quadtree cells have mirror frames, got frame {frame!r}")
        band = meta.get("band", 0.03125)
        if not isinstance(band, int | float) or isinstance(band, bool):
            raise ValueError(f"layout band must be a number, got {band!r}")
        return cls(hard.grid, hard.depths, True, meta.get("window", "cosine"), float(band), meta.get("ramp", 32))

    @classmethod
    def from_splits(cls, grid: int, splits: str) -> QuadtreeLayout:
        """Inverse of :func:`encode_splits`; malformed input raises ``ValueError``."""
        if not isinstance(splits, str) or len(splits) > 4 * MAX_CELLS:
            raise ValueError("quadtree splits must be a base64 string")
        try:
            raw = base64.b64decode(splits.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise ValueError("quadtree splits are not valid base64") from None
        bits = [(byte >> (7 - s)) & 1 for byte in raw for s in range(8)]
        if not isinstance(grid, int) or not 2 <= grid <= 64:
            raise ValueError(f"quadtree root grid must be an integer in [2, 64], got {grid!r}")
        depths: list[int] = []
        pos = 0

        def walk(d: int) -> None:
            nonlocal pos
            if pos >= len(bits) or d > MAX_DEPTH or len(depths) > MAX_CELLS:
                raise ValueError("quadtree splits are truncated or too deep")
            bit, pos = bits[pos], pos + 1
            if not bit:
                depths.append(d)
                return
            for _ in range(4):
                walk(d + 1)

        for _ in range(grid * grid):
            walk(0)
        if any(bits[pos:]) or len(bits) - pos >= 8:
            raise ValueError("quadtree splits have trailing data")
        return cls(grid, tuple(depths))


def encode_splits(layout: QuadtreeLayout) -> str:
    """The preorder split bits (1 = split, 0 = leaf), packed MSB first, as base64."""
    bits: list[int] = []
    depths = iter(layout.depths)
    pending = [next(depths, None)]

    def walk(d: int) -> None:
        if pending[0] == d:
            bits.append(0)
            pending[0] = next(depths, None)
            return
        bits.append(1)
        for _ in range(4):
            walk(d + 1)

    for _ in range(layout.grid**2):
        walk(0)
    packed = bytes(int("".join(map(str, bits[i : i + 8])).ljust(8, "0"), 2) for i in range(0, len(bits), 8))
    return base64.b64encode(packed).decode("ascii")


def leaves_in_preorder(grid: int, split: set[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The leaves ``(depth, row, col)`` of the tree whose split nodes are ``split``, in preorder."""
    out: list[tuple[int, int, int]] = []

    def walk(d: int, i: int, j: int) -> None:
        if (d, i, j) not in split:
            out.append((d, i, j))
            return
        for di in range(2):
            for dj in range(2):
                walk(d + 1, 2 * i + di, 2 * j + dj)

    for i in range(grid):
        for j in range(grid):
            walk(0, i, j)
    return out


@functools.lru_cache(maxsize=32)
def _leaves(layout: QuadtreeLayout) -> tuple[list[tuple[int, int, int]], dict[tuple[int, int, int], int]]:
    """Leaf positions in preorder and their index; raises if the depths do not tile."""
    depths = layout.depths
    out: list[tuple[int, int, int]] = []
    pos = 0

    def walk(d: int, i: int, j: int) -> None:
        nonlocal pos
        if pos >= len(depths) or depths[pos] < d:
            raise ValueError("quadtree depths do not tile the root grid")
        if depths[pos] == d:
            out.append((d, i, j))
            pos += 1
            return
        for di in range(2):
            for dj in range(2):
                walk(d + 1, 2 * i + di, 2 * j + dj)

    for i in range(layout.grid):
        for j in range(layout.grid):
            walk(0, i, j)
    if pos != len(depths):
        raise ValueError("quadtree depths do not tile the root grid")
    return out, {leaf: k for k, leaf in enumerate(out)}


@functools.lru_cache(maxsize=32)
def _by_depth(layout: QuadtreeLayout) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per depth: the leaf indices and their rows and columns (long tensors)."""
    leaves = _leaves(layout)[0]
    out = []
    for d in range(layout.depth + 1):
        picked = [(k, i, j) for k, (dd, i, j) in enumerate(leaves) if dd == d]
        ks, rows, cols = zip(*picked, strict=True) if picked else ((), (), ())
        out.append(tuple(torch.tensor(v, dtype=torch.long) for v in (ks, rows, cols)))
    return out
