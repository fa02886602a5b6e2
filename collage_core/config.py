"""Typed configuration of a fractalization; presets override a few fields."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .copies import parse_copies
from .layout import FRAMES, WINDOWS, BlendedLayout, GridLayout, Layout
from .symmetry import SYMMETRIES

MIN_GRID, MAX_GRID = 2, 128


@dataclass(frozen=True)
class FractalizeConfig:
    grid: int = 32  # cells a side: 32 keeps a photo recognisable at 1x and fits in ~10 ms
    symmetries: str = "d4"  # all 8 rotations and flips: the richest self-copies
    # Floor on each cell's self-similarity, 0..s_max: every cell keeps a visible copy of
    # the image, so magnified renders and zooms never end in a flat cell (no dead ends).
    strength: float = 0.2
    s_max: float = 0.9  # contraction bound: near 1 keeps contrast at depth, but converges slower
    refine_steps: int = 0  # L-BFGS evaluations of the attractor error after the closed form
    work_side: int | None = None  # fitting resolution; None picks an exact side near the image
    plant_loop: bool = False  # make the auto loop cell a pure copy, for exactly seamless zoom loops
    # Blended cells (mirror frames) remove the grid at 1x and at every depth and keep one
    # sharp whole copy per cell (held-out photos, grid 32: 1x blockiness 0.98x the photo's
    # against 5.3x, +1.3 dB PSNR, one-cell views at depth match the attractor at NCC 0.94).
    # None blends wherever it can (even grids >= 4 without a planted loop), True
    # insists, False gives the hard grid.
    blend: bool | None = None
    window: str = "cosine"  # blend window: "cosine" (smooth) or "tent"
    band: float = 0.03125  # blend band half-width in cells for large cells (deep views), [1/64, 1/2]
    # ...and at least this many pixels: cells up to 64 px (1x to 4x renders) blend over half
    # their width, so the operator, and pool(render(4)) == render(1), do not change there.
    ramp: int = 32
    # What a blended cell shows: "mirror", the whole image at the cell's size continued by
    # its mirror image into the band (sharp whole copies at depth); "wide", the image
    # shrunk into a frame twice the cell (a cell shows its middle half, soft at depth).
    frame: str = "mirror"
    # Domains per cell: 1 keeps every cell a sharp, colour-true (with shared_weights) copy
    # of the whole image at any depth (about 1 dB below the soft mix at 1x); None mixes all
    # 8 copies in every cell (soft: most faithful at 1x, mush at depth).
    copies: int | None = 1
    # One weight per copy for every channel (offsets stay per channel): each copy is the
    # photo in its own colours, only lighter or darker, at every depth. Per-channel weights
    # (False; what the blended fit solves) recolour a copy (a cell whose red weight is 0.34
    # and blue 0.9 tints it), and a dive through such cells drifts into that tint, one
    # level at a time. Costs 0-0.24 dB at 1x on the example photos (soft fits: 0.35-0.6).
    shared_weights: bool = True
    # Adaptive (quadtree) cells: start from the grid (a power of two) and split the leaves
    # whose collage error drops most, down to min_cell px at the work side, up to
    # max_cells leaves (None: 4 * grid**2). Blended like the uniform grid (mirror frames,
    # window/band/ramp above) unless blend=False.
    adaptive: bool = False
    max_cells: int | None = None
    min_cell: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.grid, int) or not MIN_GRID <= self.grid <= MAX_GRID:
            raise ValueError(f"grid must be an integer in [{MIN_GRID}, {MAX_GRID}], got {self.grid!r}")
        if self.symmetries not in SYMMETRIES:
            raise ValueError(f"symmetries must be one of {sorted(SYMMETRIES)}, got {self.symmetries!r}")
        if not 0.0 < self.s_max < 1.0:
            raise ValueError(f"s_max must lie in (0, 1), got {self.s_max}")
        if not 0.0 <= self.strength <= self.s_max:
            raise ValueError(f"strength must lie in [0, {self.s_max}], got {self.strength}")
        if self.blend not in (None, True, False):
            raise ValueError(f"blend must be True, False or None (automatic), got {self.blend!r}")
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}, got {self.window!r}")
        if not (isinstance(self.band, int | float) and 1 / 64 <= self.band <= 0.5):
            raise ValueError(f"band must be a number in [1/64, 1/2], got {self.band!r}")
        if self.frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {self.frame!r}")
        if self.blend and self.plant_loop:
            raise ValueError("a planted loop cell needs hard cells: use blend=False with plant_loop")
        if self.blend and not self.adaptive:
            self._blended()  # raises for grids that cannot blend
        object.__setattr__(self, "copies", parse_copies(self.copies))
        if self.shared_weights not in (True, False):
            raise ValueError(f"shared_weights must be True or False, got {self.shared_weights!r}")
        if self.adaptive not in (True, False):
            raise ValueError(f"adaptive must be True or False, got {self.adaptive!r}")
        if self.adaptive:
            self._check_adaptive()
        elif self.max_cells is not None:
            raise ValueError("max_cells only applies to adaptive cells: add adaptive=True (CLI: --adaptive)")
        if not isinstance(self.refine_steps, int) or not 0 <= self.refine_steps <= 5000:
            raise ValueError(f"refine_steps must be an integer in [0, 5000], got {self.refine_steps!r}")

    def _check_adaptive(self) -> None:
        from .quadtree_fit import check_max_cells

        if self.grid & (self.grid - 1):
            raise ValueError(f"adaptive cells need a power-of-two grid (2, 4, 8, 16, 32, 64), got {self.grid}")
        if self.plant_loop:
            raise ValueError("a planted loop cell needs the uniform grid: adaptive cells cannot plant one")
        if self.blend is not False and self.frame != "mirror":
            raise ValueError(f"blended adaptive cells use mirror frames, got frame={self.frame!r}; or use blend=False")
        check_max_cells(self.cells_budget, self.grid)
        if not isinstance(self.min_cell, int) or not 1 <= self.min_cell <= 256:
            raise ValueError(f"min_cell must be an integer number of pixels in [1, 256], got {self.min_cell!r}")

    @property
    def cells_budget(self) -> int:
        """The most leaves an adaptive fit may use."""
        return 4 * self.grid**2 if self.max_cells is None else self.max_cells

    def layout(self) -> Layout:
        """The cell layout these settings fit."""
        if self.blend is False or (self.blend is None and (self.grid % 2 or self.grid < 4 or self.plant_loop)):
            return GridLayout(self.grid)
        return self._blended()

    def quadtree_blend(self) -> dict | None:
        """Adaptive cells' blend settings (``None``: hard leaves, ``blend=False``)."""
        if self.blend is False:
            return None
        return {"window": self.window, "band": self.band, "ramp": self.ramp}

    def _blended(self) -> BlendedLayout:
        return BlendedLayout(self.grid, self.window, self.band, self.ramp, self.frame)

    def override(self, **changes) -> FractalizeConfig:
        """A copy with some fields changed; unknown names raise ``ValueError``."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
        return replace(self, **changes)
