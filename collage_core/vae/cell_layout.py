"""The cell layout the Collage likelihood decodes with: one argument, chosen by the config.

Today the engine's decoders take the hard grid as an integer (``decode_exact(a, b, 4, ...)``,
the paper's 4x4 grid of 7x7 cells on 28x28). The seamless-cells work (DESIGN.md 8) makes
that argument a layout object (hard grid, blended, quadtree) accepted in the same place, so
the likelihood keeps whatever :func:`make_layout` returns and only passes it on. Switching
the VAE to blended cells is the one ``"blend"`` line below (docs/vae/PLAN.md).
"""

from __future__ import annotations

Layout = object  # an int grid, or collage_core.layout's BlendedLayout


def make_layout(kind: str, grid: int) -> Layout:
    """What the engine's ``decode_exact`` takes as its ``grid`` argument for this layout."""
    if kind == "grid":
        return grid
    if kind == "blend":
        from ..layout import BlendedLayout

        # A full half-cell band at every level: the default narrows the band for large
        # cells (fast deep photo views), which would make the 40x digit another operator
        # than the 1x one (pooled 40x logits off by 2.5 on average, against 0.1 here).
        return BlendedLayout(grid, band=0.5)
    raise ValueError(f"layout must be 'grid' or 'blend', got {kind!r}")


def layout_cells(layout: Layout) -> int:
    """Number of cells ``K`` (rows of the collage parameters ``a: (B, C, K, N)``)."""
    return layout * layout if isinstance(layout, int) else layout.cells
