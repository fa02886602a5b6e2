"""No dead ends: a zoom-look code shows the photo itself, with its contrast, at every depth.

A sharp code's view of one cell path ``l`` levels deep is ``w_1 ... w_l`` times one
orientation of the attractor plus a constant per channel. So the invariants are:
every cell's self weight is positive and at least the ``strength`` floor (the product
never vanishes and never turns the photo into its negative), and the colour-true look,
which maps luma by one affine map anchored to the attractor's levels, shows such a view
with the same contrast as the 1x view (not a murky fraction of it).
"""

import numpy as np
import pytest
import torch
from photos import synthetic_photo

import collage_core as cc
from collage_core.fit import refine
from collage_core.symmetry import apply_symmetries
from collage_core.tone import REC709, Anchor, colour_map, tone_view
from collage_core.viewport import ViewRenderer

GRID, SIDE = 8, 64


def dark_photo(seed=0):
    """A night sky: a dark, textured ground with sparse bright spots (like the held-out star field)."""
    rng = np.random.default_rng(seed)
    base = synthetic_photo(SIDE, SIDE, seed=seed).astype(np.float64) * 0.12
    ys, xs = rng.integers(0, SIDE, 40), rng.integers(0, SIDE, 40)
    base[ys, xs] = rng.uniform(120, 255, (40, 3))
    return base.round().astype(np.uint8)


def cell_paths(seed=0, count=6):
    """``(centre, zoom)`` of the centre of random cell paths 1-3 levels deep."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        depth = int(rng.integers(1, 4))
        x = y = 0.0
        for level in range(1, depth + 1):
            x += int(rng.integers(GRID)) / GRID**level
            y += int(rng.integers(GRID)) / GRID**level
        half = 0.5 / GRID**depth
        yield (x + half, y + half), float(GRID) ** depth


def luma(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("c,chw->hw", torch.tensor(REC709, dtype=x.dtype), x[:3])


def signed_ncc(view: torch.Tensor, whole: torch.Tensor) -> float:
    """Mean per-channel NCC of ``view`` with the best-matching orientation of ``whole`` (signed:
    a photographic negative scores -1)."""
    copies = apply_symmetries(whole, "d4")  # (C, 8, h, w)
    best = -1.0
    for n in range(copies.shape[1]):
        scores = []
        for c in range(view.shape[0]):
            a, b = view[c] - view[c].mean(), copies[c, n] - copies[c, n].mean()
            scores.append(float((a * b).sum() / ((a * a).sum() * (b * b).sum()).sqrt()))
        best = max(best, float(np.mean(scores)))
    return best


@pytest.mark.parametrize("copies", [1, 2])
def test_sharp_self_weights_are_positive_and_floored(copies):
    photo = synthetic_photo(SIDE, SIDE, seed=5)
    code = cc.fractalize(photo, grid=GRID, copies=copies, strength=0.2)
    own = code.a[..., :8]
    assert (own >= 0).all()  # a copy is the photo, never its negative
    assert (own.sum(-1) >= 0.2 - 1e-6).all()  # and never vanishes: no dead-end cell
    # Least squares alone picks negative weights in many cells: the constraint matters.
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].double() / 255
    from collage_core.copies import cells_of, centered_stats, masked_solve
    from collage_core.operator import collage_domains

    G, r = centered_stats(collage_domains(x, GRID, "d4").flatten(-2), cells_of(x, GRID))
    free = masked_solve(G, r, torch.ones_like(r, dtype=torch.bool))
    assert (free < 0).float().mean() > 0.2


def test_refinement_keeps_copies_positive():
    # Copies chosen for another photo: without a floor, many of them would fit this one
    # better as negatives, and the gradient pushes them below zero unless refinement
    # keeps the sign.
    x = torch.from_numpy(synthetic_photo(SIDE, SIDE, seed=5)).permute(2, 0, 1)[None].float() / 255
    code = cc.fractalize(np.ascontiguousarray(synthetic_photo(SIDE, SIDE, seed=6)[::-1]), grid=GRID, strength=0.0)
    a, b = code.a[None].float(), code.b[None].float()
    assert (a[..., :8] >= 0).all()
    a2, _ = refine(x, a, b, GRID, "d4", steps=8, strength=0.0, keep_copies=True)
    assert (a2[..., :8] >= 0).all() and not torch.equal(a2, a)


def test_a_deep_cell_view_is_the_photo_not_its_negative():
    # Hard cells: a cell's view is exactly one copy (blended 8 px cells blend over their whole width).
    code = cc.fractalize(synthetic_photo(SIDE, SIDE, seed=3), grid=GRID, strength=0.2, blend=False)
    renderer = ViewRenderer(code)
    whole = renderer.render((0.5, 0.5), 1.0, (SIDE, SIDE), precise=True).double()
    for centre, zoom in cell_paths(seed=1):
        view = renderer.render(centre, zoom, (SIDE, SIDE), precise=True).double()
        # Naive reference: the view is one positive affine recolouring of the attractor.
        assert signed_ncc(view, whole) > 0.99, (centre, zoom)


def test_deep_cell_views_keep_the_1x_contrast_of_a_dark_photo():
    code = cc.fractalize(dark_photo(), grid=GRID, strength=0.2)
    renderer = ViewRenderer(code)
    top = luma(tone_view(renderer.render((0.5, 0.5), 1.0, (SIDE, SIDE), precise=True), "colour", renderer, 1.0))
    # The dark photo keeps its tonal range: the 1x view is not stretched to white.
    assert float(top.quantile(0.995)) < 0.75
    for centre, zoom in cell_paths(seed=2):
        raw = renderer.render(centre, zoom, (SIDE, SIDE), precise=True)
        deep = luma(tone_view(raw, "colour", renderer, zoom))
        # An affine copy of the attractor, mapped to the same levels: the same contrast.
        ratio = float(deep.std() / top.std())
        assert 0.75 < ratio < 1.33, (centre, zoom, ratio)
        assert float(deep.std()) > 4 / 255


def test_anchored_levels_hold_at_every_zoom():
    gen = torch.Generator().manual_seed(0)
    picture = 0.05 + 0.3 * torch.rand(3, 32, 32, generator=gen, dtype=torch.float64)
    anchor = Anchor.of(picture)
    lo, hi = anchor.levels
    assert 0.0 <= lo < hi <= 1.0
    for zoom in (1.0, 3.0, 1e6):
        m = colour_map(picture, anchor.at(zoom, 8))
        y = luma(torch.einsum("ij,jhw->ihw", m[:, :3], picture) + m[:, 3, None, None])
        q = torch.quantile(y.flatten(), torch.tensor([0.005, 0.995], dtype=torch.float64))
        # Naive reference: the picture's own luma percentiles land on the anchor's levels.
        assert torch.allclose(q, torch.tensor([lo, hi], dtype=torch.float64), atol=0.02), zoom
    flat = Anchor.of(torch.full((3, 8, 8), 0.5, dtype=torch.float64))
    assert flat.levels[1] - flat.levels[0] >= 0.125 - 1e-12  # a flat photo still gets a range
