"""Viewport renderer: window geometry, exactness against full decodes, bounded cost, limits."""

import math

import numpy as np
import pytest
import torch
from photos import psnr, synthetic_photo
from PIL import Image

import collage_core as cc
from collage_core.autocontrast import apply_levels, autocontrast, levels
from collage_core.symmetry import SYMMETRIES
from collage_core.viewport import (
    ViewRenderer,
    _area_window,
    merge_windows,
    plan_view,
    source_rect,
)
from collage_core.zoom import auto_target


@pytest.fixture(scope="module")
def code():
    return cc.fractalize(synthetic_photo(64, 64), grid=8, symmetries="d4")


@pytest.fixture(scope="module")
def wide_code():
    # Non-square source with a style image: aux domains and aspect handling.
    style = Image.fromarray(synthetic_photo(32, 32, seed=3))
    return cc.fractalize(synthetic_photo(64, 48, seed=1), grid=8, symmetries="d4", style=style)


# ---------------------------------------------------------------------------- geometry
@pytest.mark.parametrize("element", SYMMETRIES["d4"])
def test_source_rect_matches_the_dihedral_transform(element):
    k, flip = element
    s = 7
    x = torch.arange(s * s).reshape(s, s)
    y = torch.rot90(x.flip(-1) if flip else x, k, dims=(-2, -1))
    gen = np.random.default_rng(k + 4 * flip)
    for _ in range(20):
        r0, r1 = sorted(gen.choice(s + 1, 2, replace=False))
        c0, c1 = sorted(gen.choice(s + 1, 2, replace=False))
        a0, a1, b0, b1 = source_rect((r0, r1, c0, c1), s, k, flip)
        crop = x[a0:a1, b0:b1]
        crop = torch.rot90(crop.flip(-1) if flip else crop, k, dims=(-2, -1))
        assert torch.equal(crop, y[r0:r1, c0:c1])


def test_merge_windows_dedupes_contains_and_keeps_far_apart():
    rects = [(0, 10, 0, 10), (0, 10, 0, 10), (2, 5, 2, 5), (0, 10, 10, 20), (100, 110, 100, 110)]
    merged = merge_windows(rects)
    assert sorted(merged) == [(0, 10, 0, 20), (100, 110, 100, 110)]
    # Two thin windows at right angles in a corner must not become a big square.
    assert len(merge_windows([(0, 100, 0, 2), (0, 2, 0, 100)])) == 2


def test_area_window_rows_average_and_clip_outside():
    from fractions import Fraction

    w = _area_window(10, Fraction(-2), Fraction(2), 7, 0, 10)
    assert torch.allclose(w[1:6].sum(1), torch.ones(5, dtype=w.dtype))
    assert w[0].sum() == 0 and w[6].sum() == 0  # entirely outside the image: black


# -------------------------------------------------------------------------- exactness
def _reference(code, plan):
    """The same view from a full decode of A(S) with the same area weights (a naive route)."""
    aux = None if code.aux is None else code.aux[None]
    full = cc.decode_exact(code.a[None], code.b[None], code.layout, code.symmetries, plan.side, aux)[0]
    r0, r1, c0, c1 = plan.window
    h, w = plan.out_size
    rows = _area_window(plan.side, plan.rows[0], plan.rows[1], h, r0, r1).float()
    cols = _area_window(plan.side, plan.cols[0], plan.cols[1], w, c0, c1).float()
    return rows @ full[:, r0:r1, c0:c1] @ cols.T


@pytest.mark.parametrize("blend", [False, True, "wide"])
@pytest.mark.parametrize("dense_max", [16, 64])
@pytest.mark.parametrize("symmetries", ["d4", "rot", "none"])
def test_window_recursion_equals_the_full_decode(symmetries, dense_max, blend):
    # Mirror frames climb by the grid, whose mantissas need a dense level of 4 * grid.
    grid = 4 if blend is True and dense_max < 32 else 8
    frame = "wide" if blend == "wide" else "mirror"
    photo = synthetic_photo(64, 64, seed=2)
    code = cc.fractalize(photo, grid=grid, symmetries=symmetries, blend=bool(blend), frame=frame)
    # A low dense_max forces 1-3 sparse levels on a tiny code; 64 makes cells larger than
    # the window at the first sparse level (pieces read precomputed domain copies).
    renderer = ViewRenderer(code, dense_max=dense_max)
    for center, zoom in [((0.5, 0.5), 3.0), ((0.31, 0.72), 37.3), ((0.95, 0.02), 11.0), ((0.2, 0.6), 1.7)]:
        plan = plan_view(code.layout, symmetries, center, zoom, (48, 40), 1, dense_max)
        view = renderer.render_plan(plan)
        assert torch.allclose(view, _reference(code, plan), atol=1e-5), (center, zoom)
    assert len(renderer.stats.window_counts) >= 1


@pytest.mark.parametrize("blend", [False, True, "wide"])
def test_window_recursion_with_style_images_and_a_wide_source(blend):
    style = Image.fromarray(synthetic_photo(32, 32, seed=3))
    frame, grid = ("wide", 8) if blend == "wide" else ("mirror", 4 if blend else 8)  # see above
    wide_code = cc.fractalize(synthetic_photo(64, 48, seed=1), grid=grid, style=style, blend=bool(blend), frame=frame)
    for dense_max in (16, 64):
        renderer = ViewRenderer(wide_code, dense_max=dense_max)
        for center, zoom in [((0.5, 0.5), 5.0), ((0.1, 0.9), 29.0)]:
            plan = plan_view(wide_code.layout, "d4", center, zoom, (40, 30), renderer.aspect_fraction, dense_max)
            assert torch.allclose(renderer.render_plan(plan), _reference(wide_code, plan), atol=1e-5)


@pytest.mark.parametrize("zoom", [2, 3, 4, 5, 6, 7, 8])
def test_view_agrees_with_a_crop_of_the_full_render(code, zoom):
    full = np.asarray(code.render(zoom))
    view = np.asarray(code.render_view((0.5, 0.5), zoom, (64, 64)))
    o = (64 * zoom - 64) // 2
    assert psnr(full[o : o + 64, o : o + 64], view) >= 35


@pytest.mark.parametrize("zoom", [2.5, 3.25, 6.125])
def test_non_integer_zoom_agrees_within_sampling_tolerance(code, zoom):
    # render(m) resamples from the next exact side, the view from its own S: both area averages.
    # (64 * zoom is an integer, so render(zoom) has exactly this magnification.)
    full = code.render(zoom)
    W = full.size[0]
    left = (W - 64) / 2
    crop = full.resize((64, 64), Image.Resampling.BOX, box=(left, left, left + 64, left + 64))
    view = code.render_view((0.5, 0.5), zoom, (64, 64))
    assert psnr(np.asarray(crop), np.asarray(view)) >= 35


def test_wide_source_view_keeps_square_display_pixels(wide_code):
    # 64x48 source: a (64, 48) view at zoom 2 is the central crop of render(2) (128x96).
    full = np.asarray(wide_code.render(2))
    view = np.asarray(wide_code.render_view((0.5, 0.5), 2.0, (64, 48)))
    assert view.shape == (48, 64, 3)
    assert psnr(full[24:72, 32:96], view) >= 35


def test_view_outside_the_image_is_black(code):
    view = np.asarray(code.render_view((0.0, 0.5), 1.0, (64, 64)))
    assert view[:, :30].max() == 0 and view[:, 34:].mean() > 20


# ------------------------------------------------------------------------ bounded cost
def test_cost_grows_with_log_zoom_not_zoom_squared():
    # Planning is pure integer geometry: count windows and pixels, as the 512x512 / grid 32 benchmark.
    pixels, depths = [], []
    for e in range(3, 16):
        plan = plan_view(32, "d4", (0.4137, 0.3561), 10.0**e, (512, 512))
        assert max(plan.window_counts) <= 8, plan.window_counts
        assert all(sum((r[1] - r[0]) * (r[3] - r[2]) for r in lv) <= 12 * 512 * 512 for lv in plan.levels)
        assert plan.dense_side <= 1024
        pixels.append(plan.pixels)
        depths.append(len(plan.levels))
    # 1e15 is 1e12 times more zoom than 1e3: pixels grow about like the level count.
    assert pixels[-1] / pixels[0] <= 2 * depths[-1] / depths[0]
    assert pixels[-1] <= 100 * 512 * 512


def test_deepest_zoom_renders_with_detail():
    # Dive into the loop point (a cell that copies the whole image), where detail never ends.
    # Hard cells: blended ones climb by grid/2 per level, so at strength 0.2 their detail
    # at 1e15 (0.2**12.5 of the top's) is below float64 resolution of the output itself.
    code = cc.fractalize(synthetic_photo(64, 64), grid=8, symmetries="d4", blend=False)
    tx, ty = auto_target(code)
    renderer = ViewRenderer(code)
    shallow = autocontrast(renderer.render((0.5, 0.5), 1.0, (64, 64)))
    for zoom in (1e6, 1e9, 1e15):
        deep = renderer.render((tx + (0.5 - tx) / zoom, ty + (0.5 - ty) / zoom), zoom, (64, 64), precise=True)
        assert torch.isfinite(deep).all()
        # Raw contrast fades like s**levels, far below float32 resolution at 1e15; the
        # renderer keeps constants in float64 offsets, so auto-contrast brings it back.
        assert autocontrast(deep).std() > 0.5 * shallow.std(), zoom
    assert renderer.stats.side > 10**16  # a Python int, far past float precision of pixel indices
    assert deep.dtype == torch.float64
    # Without stretching, such detail is below one grey level: plain float32 is enough.
    plain = renderer.render((tx + (0.5 - tx) / zoom, ty + (0.5 - ty) / zoom), zoom, (64, 64))
    assert plain.dtype == torch.float32 and (plain - deep).abs().max() < 1e-5


@pytest.mark.parametrize("blend,within", [(False, 3), (True, 4)])
def test_deep_frame_has_pixel_scale_structure_not_blocks(blend, within):
    # Blended cells have no seams to add gradient at depth: a looser bound.
    code = cc.fractalize(synthetic_photo(128, 128, seed=5), grid=16, symmetries="d4", blend=blend)
    renderer = ViewRenderer(code)
    top = autocontrast(renderer.render((0.5, 0.5), 1.0, (128, 128)))
    deep = autocontrast(renderer.render((0.4137, 0.3561), 1e6, (128, 128), precise=True))

    def dx(v):
        return (v[:, :, 1:] - v[:, :, :-1]).abs()

    # A blurred or blocky upsample would repeat pixels: most neighbour differences zero.
    assert (dx(deep) > 1e-3).float().mean() > 0.5
    # Structure at pixel scale comparable to the 1x view.
    assert dx(deep).mean() > dx(top).mean() / within


# --------------------------------------------------------------------------- behaviour
def test_render_view_returns_the_mode_and_size(code):
    img = code.render_view((0.5, 0.5), 1000.0, (40, 30))
    assert img.size == (40, 30) and img.mode == "RGB"
    gray = cc.fractalize(synthetic_photo(64, 64, channels=1), grid=8)
    assert gray.render_view(zoom=10.0, size=(20, 20)).mode == "L"


def test_autocontrast_leaves_alpha_alone():
    x = torch.rand(4, 16, 16) * 0.1 + 0.2
    out = autocontrast(x, look="vivid")
    assert torch.equal(out[3], x[3])
    assert out[:3].min() == 0 and out[:3].max() == 1
    lv = levels(x)
    assert lv.shape == (2, 4)
    assert torch.allclose(apply_levels(x, lv)[:3], out[:3])


def test_device_auto_matches_cpu(code):
    cpu = ViewRenderer(code, "cpu").render((0.3, 0.6), 777.0, (32, 32))
    auto = ViewRenderer(code, None).render((0.3, 0.6), 777.0, (32, 32))
    assert torch.allclose(cpu, auto.cpu(), atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu(code):
    cpu = ViewRenderer(code, "cpu").render((0.3, 0.6), 1e9, (64, 64))
    gpu = ViewRenderer(code, "cuda").render((0.3, 0.6), 1e9, (64, 64))
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"zoom": 0.5},
        {"zoom": math.inf},
        {"zoom": math.nan},
        {"zoom": 1e16},
        {"zoom": "big"},
        {"size": (0, 10)},
        {"size": (2049, 10)},
        {"size": (10.5, 10)},
        {"size": 10},
        {"center": (math.nan, 0.5)},
        {"center": (5.0, 0.5)},
        {"center": 0.5},
    ],
)
def test_bad_view_parameters_raise(code, kwargs):
    args = {"center": (0.5, 0.5), "zoom": 2.0, "size": (16, 16)} | kwargs
    with pytest.raises(ValueError):
        code.render_view(**args)


def test_a_view_of_flat_cells_only_renders_their_offsets():
    """Cells fitted to a flat area use no copy at all; a view inside them is their constant."""
    img = np.zeros((64, 64, 3), dtype=np.uint8)
    img[:, 32:] = 200  # two flat halves
    code = cc.fractalize(img, grid=8, strength=0.0)
    assert (code.a[:, 9] == 0).all()  # a flat cell keeps no copy
    view = cc.ViewRenderer(code).render((0.1, 0.1), 8.0**3, (32, 32), precise=True)
    assert torch.allclose(view, view[:, :1, :1].expand_as(view), atol=1e-6)
