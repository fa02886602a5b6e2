"""The map tiles' fast paths give the same pixels as the naive route.

A 256^2 tile over a 1024^2 dense level used to copy the whole level eight times
(one per symmetry) and split it into offset and detail on every tile; now small windows
flip their pieces one by one and the split is kept. Both must stay exact.
"""

from fractions import Fraction

import pytest
import torch
from photos import synthetic_photo

import collage_core as cc
from collage_core import tiles
from collage_core.resample import banded_product
from collage_core.viewport import BATCHED_PIECES, ViewRenderer, _area_window, plan_view
from tests.test_viewport import _reference  # the view from a full decode (naive)

VIEWS = [((0.5, 0.5), 3.0), ((0.31, 0.72), 37.3), ((0.95, 0.02), 11.0), ((0.2, 0.6), 5.7)]


@pytest.mark.parametrize("blend", [False, True])
@pytest.mark.parametrize("symmetries", ["d4", "rot"])
def test_whole_copies_and_piece_flips_agree_with_the_full_decode(symmetries, blend, monkeypatch):
    code = cc.fractalize(synthetic_photo(64, 64, seed=2), grid=8, symmetries=symmetries, blend=blend)
    calls = []
    domains = type(code.layout).domains
    monkeypatch.setattr(type(code.layout), "domains", lambda *a, **k: calls.append(1) or domains(*a, **k))
    always = ViewRenderer(code, dense_max=64)
    always.copies_min_read = 0.0  # every dense child copied whole (the old rule)
    never = ViewRenderer(code, dense_max=64)
    never.copies_min_read = float("inf")  # pieces flipped one by one (unless batched)
    for center, zoom in VIEWS:
        plan = plan_view(code.layout, symmetries, center, zoom, (24, 20), 1, 64)
        assert plan.levels, "the view must climb from the dense level"
        ref = _reference(code, plan)
        always.render_plan(plan), never.render_plan(plan)  # the dense levels' decodes step too
        calls.clear()
        a = always.render_plan(plan)
        assert calls, "the whole copies were not made"
        calls.clear()
        b = never.render_plan(plan)
        side = plan.side
        for _ in plan.levels[1:]:
            side = code.layout.child_side(side)
        # Windows over many cells take the batched step, which reads the copies.
        batched = any(code.layout.cells_in(r, side) > BATCHED_PIECES for r in plan.levels[-1])
        assert bool(calls) == batched, "the pieces read whole copies"
        assert torch.allclose(a, ref, atol=1e-5), (center, zoom)
        assert torch.allclose(b, ref, atol=1e-5), (center, zoom)


def test_kept_dense_split_gives_the_same_tiles_as_a_fresh_renderer():
    code = cc.fractalize(synthetic_photo(64, 64, seed=4), grid=8, symmetries="d4")
    kept = ViewRenderer(code, dense_max=64)
    views = [((0.4, 0.6), 20.0), ((0.7, 0.2), 160.0), ((0.41, 0.59), 21.0), ((0.4, 0.6), 20.0)]
    for center, zoom in views:  # alternate dense levels: the split is reused and replaced
        fresh = ViewRenderer(code, dense_max=64).render(center, zoom, (32, 32), precise=True)
        assert torch.equal(kept.render(center, zoom, (32, 32), precise=True), fresh)
    assert 1 <= len(kept._details) <= 4


@pytest.mark.parametrize(
    "n_in, start, step, count",
    [
        (10**9, Fraction(10**8) + Fraction(1, 3), Fraction(103, 100), 64),  # a deep block, 1.03 per pixel
        (80, Fraction(-7, 3), Fraction(3, 2), 70),  # rows off the image on both sides (black)
        (66, Fraction(0), Fraction(66, 64), 64),  # a pixel-scale resample
        (200, Fraction(1, 7), Fraction(12), 16),  # a strong reduction (the dense fallback)
    ],
)
def test_banded_area_weights_equal_the_dense_product(n_in, start, step, count):
    lo = max(0, int(start))
    hi = min(n_in, lo + 66)
    weights = _area_window(n_in, start, step, count, lo, hi).float()
    x = torch.rand(3, hi - lo, 5)
    assert torch.allclose(banded_product(weights, x), weights @ x, atol=1e-6)


@pytest.mark.parametrize("channels", [3, 4])
def test_tone_in_float32_equals_the_float64_map_at_depth(channels):
    from collage_core.tone import apply_map

    # A deep view: a tint with detail of 1e-9 (far below float32's step at 0.4).
    gen = torch.Generator().manual_seed(0)
    view = torch.tensor([0.41, 0.37, 0.52, 0.9][:channels], dtype=torch.float64)[:, None, None]
    view = view + 1e-9 * torch.rand(channels, 40, 30, generator=gen, dtype=torch.float64)
    lv = tiles.tone_levels(view)
    got, want = tiles.tone(view, lv), apply_map(view, lv, "colour")
    assert got.dtype == torch.float32 and float(want[:3].std()) > 0.1  # the detail is stretched
    assert torch.allclose(got.double(), want, atol=1e-5)
