"""Adaptive (quadtree) cells: the step against a naive reference, the exact decoder's
invariants, the greedy fit, the code file and deep views."""

import numpy as np
import pytest
import torch
from photos import synthetic_photo
from PIL import Image

import collage_core as cc
from collage_core.decode import decode_iterative, quadtree_attractor
from collage_core.layout import layout_from_meta
from collage_core.operator import contract
from collage_core.quadtree import QuadtreeLayout, leaves_in_preorder
from collage_core.quadtree_fit import fit_quadtree
from collage_core.viewport import ViewRenderer, plan_view

# Root grid 4; one root split, one of its quarters split again, another root split.
SPLIT = {(0, 0, 1), (1, 1, 2), (0, 3, 3)}


def _layout(grid=4, split=SPLIT):
    return QuadtreeLayout(grid, tuple(d for d, _, _ in leaves_in_preorder(grid, split)))


def _random_code(K, N=8, C=3, seed=0, s_max=0.9):
    gen = torch.Generator().manual_seed(seed)
    a = contract(torch.randn(1, C, K, N, generator=gen, dtype=torch.float64), N, s_max)
    return a, torch.rand(1, C, K, generator=gen, dtype=torch.float64)


def _naive_step(layout, z, a, b, symmetries, side):
    """The definition, leaf by leaf: the whole image pooled to the leaf's side, every copy."""
    out = torch.zeros(z.shape[1], side, side, dtype=z.dtype)
    for k, d in enumerate(layout.depths):
        _, i, j = layout.leaf(k)
        c = side // (layout.grid * 2**d)
        pooled = cc.area_resize(z, (c, c))[0]
        copies = [torch.rot90(pooled.flip(-1) if f else pooled, r, (-2, -1)) for r, f in cc.SYMMETRIES[symmetries]]
        cell = sum(a[0, :, k, n, None, None] * t for n, t in enumerate(copies)) + b[0, :, k, None, None]
        out[:, i * c : (i + 1) * c, j * c : (j + 1) * c] = cell
    return out


def test_tree_encodes_and_leaves_tile_the_square():
    layout = _layout()
    assert layout.cells == 16 + 3 + 3 + 3 and layout.depth == 2 and layout.unit == 16
    assert layout_from_meta(layout.to_meta()) == layout
    covered = torch.zeros(64, 64)
    for p in layout.pieces((0, 64, 0, 64), 64):
        covered[p.rect[0] : p.rect[1], p.rect[2] : p.rect[3]] += 1
    assert (covered == 1).all()
    with pytest.raises(ValueError, match="tile"):
        QuadtreeLayout(4, layout.depths[:-1])
    with pytest.raises(ValueError, match="power-of-two"):
        QuadtreeLayout(6, (0,) * 36)
    with pytest.raises(ValueError, match="base64|truncated|trailing"):
        QuadtreeLayout.from_splits(4, "AAAA")


@pytest.mark.parametrize("symmetries", ["d4", "none"])
def test_step_equals_the_naive_definition(symmetries):
    layout = _layout()
    n = len(cc.SYMMETRIES[symmetries])
    a, b = _random_code(layout.cells, n)
    z = torch.rand(1, 3, 40, 40, dtype=torch.float64)
    fast = cc.collage_step(z, a, b, layout, symmetries, size=(32, 32))[0]
    assert torch.allclose(fast, _naive_step(layout, z, a, b, symmetries, 32), atol=1e-12)


def test_decoded_attractor_is_a_fixed_point_and_pools_exactly():
    layout = _layout()
    a, b = _random_code(layout.cells)
    for side in (16, 64, 256):
        z = cc.decode_exact(a, b, layout, "d4", side)
        assert torch.allclose(cc.collage_step(z, a, b, layout, "d4"), z, atol=1e-10)
    big = cc.decode_exact(a, b, layout, "d4", 256)
    for f in (4, 16, 64):
        small = cc.decode_exact(a, b, layout, "d4", 256 // f)
        assert torch.allclose(torch.nn.functional.avg_pool2d(big, f), small, atol=1e-10)


def test_start_independence():
    layout = _layout()
    a, b = _random_code(layout.cells, s_max=0.6)
    exact = quadtree_attractor(a, b, layout, "d4", 32)
    for start in (torch.zeros(1, 3, 32, 32, dtype=torch.float64), torch.rand(1, 3, 32, 32, dtype=torch.float64)):
        z = decode_iterative(a, b, layout, "d4", start, 60)
        assert torch.allclose(z, exact, atol=1e-9)


def _half_busy(side=256):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side, 0:side] / side
    calm = 0.4 + 0.2 * x
    busy = 0.5 + 0.35 * np.sign(np.sin(40 * x) * np.sin(37 * y)) + 0.1 * rng.standard_normal((side, side))
    img = np.where(x < 0.5, calm, busy)
    return Image.fromarray((np.clip(np.stack([img, img * 0.9, img * 0.8], -1), 0, 1) * 255).astype(np.uint8))


def test_splits_go_where_the_detail_is():
    code = cc.fractalize(_half_busy(), grid=8, adaptive=True, max_cells=256)
    assert isinstance(code.layout, QuadtreeLayout) and code.layout.cells <= 256
    left = right = 0
    for k in range(code.layout.cells):
        d, _, j = code.layout.leaf(k)
        if (j + 0.5) / (8 << d) < 0.5:
            left += 1
        else:
            right += 1
    assert right >= 4 * left, (left, right)
    # Every leaf uses one sharp copy (the default copies=1), the same for every channel.
    used = (code.a[..., :8] != 0).sum(-1)
    assert (used <= 1).all()


def test_fit_beats_the_uniform_grid_with_the_same_cells():
    x = cc.image_io.to_tensor(_half_busy())[None].double()
    layout, a, b = fit_quadtree(x, 4, 256, copies=None)
    grid_a, grid_b = cc.fit_closed_form(x, 16)
    quad = cc.decode_exact(a, b, layout, "d4", 256)
    flat = cc.decode_exact(grid_a, grid_b, 16, "d4", 256)
    assert layout.cells <= 256
    assert ((quad - x) ** 2).mean() < ((flat - x) ** 2).mean()


def test_save_load_round_trip(tmp_path):
    code = cc.fractalize(_half_busy(128), grid=4, adaptive=True, max_cells=100)
    path = code.save(tmp_path / "q.collage")
    back = cc.FractalCode.load(path)
    assert back.layout == code.layout and back.to_bytes() == code.to_bytes()
    assert np.array_equal(np.asarray(back.render(1)), np.asarray(code.render(1)))
    meta = code.layout.to_meta()
    with pytest.raises(ValueError):
        cc.FractalCode(**{**_fields(code), "layout": QuadtreeLayout(4, (0,) * 16)})  # wrong K
    assert layout_from_meta(meta) == code.layout


def _fields(code):
    names = ("a", "b", "grid", "symmetries", "source_size", "mode", "work_side", "s_max", "aux", "meta")
    return {n: getattr(code, n) for n in names}


@pytest.mark.parametrize("copies", [1, "soft"])
def test_view_at_depth_is_a_crop_of_the_decoded_attractor(copies):
    code = cc.fractalize(Image.fromarray(synthetic_photo(128, 128)), grid=4, adaptive=True, max_cells=64, copies=copies)
    assert code.layout.depth >= 1
    renderer = ViewRenderer(code, "cpu", dense_max=32)  # forces several sparse levels
    for (x, y), zoom in [((64, 64), 4), ((200, 72), 8), ((301, 777), 16)]:
        side = 64 * zoom
        full = code.render_tensor(side / 128).double()
        view = renderer.render((x / side, y / side), float(zoom), (64, 64), precise=True)
        assert len(renderer.stats.window_counts) >= 1
        crop = full[:, y - 32 : y + 32, x - 32 : x + 32]
        assert torch.allclose(view.double(), crop, atol=2e-6)


def test_deep_view_cost_grows_with_log_zoom():
    code = cc.fractalize(_half_busy(256), grid=8, adaptive=True, max_cells=256)
    used = ViewRenderer(code, "cpu").used
    plans = [plan_view(code.layout, "d4", (0.7, 0.3), z, (256, 256), 1.0, 1024, used) for z in (1e4, 1e8, 1e12)]
    for plan in plans:
        # At most one level per factor 2 of the side, each of bounded size: cost ~ log(zoom).
        assert len(plan.levels) <= plan.side.bit_length()
        assert all(sum((r[1] - r[0]) * (r[3] - r[2]) for r in level) <= 8 * 512**2 for level in plan.levels)
    assert plans[2].pixels <= 2 * max(plans[0].pixels, plans[1].pixels), [p.pixels for p in plans]
    view = code.render_view((0.7, 0.3), 1e12, (128, 128), autocontrast=True)
    arr = np.asarray(view).astype(float)
    assert arr.std() > 5  # detail is there after tone mapping


def test_config_refuses_what_adaptive_cannot_do():
    with pytest.raises(ValueError, match="power-of-two"):
        cc.FractalizeConfig(grid=12, adaptive=True)
    assert cc.FractalizeConfig(grid=8, adaptive=True, blend=True).quadtree_blend() is not None  # blended leaves
    assert cc.FractalizeConfig(grid=8, adaptive=True, blend=False).quadtree_blend() is None
    with pytest.raises(ValueError, match="mirror frames"):
        cc.FractalizeConfig(grid=8, adaptive=True, frame="wide")
    with pytest.raises(ValueError, match="max_cells"):
        cc.FractalizeConfig(grid=8, adaptive=True, max_cells=10)
    with pytest.raises(ValueError, match="loop"):
        cc.FractalizeConfig(grid=8, adaptive=True, plant_loop=True)
    with pytest.raises(ValueError, match="adaptive=True"):
        cc.FractalizeConfig(grid=8, max_cells=100)


def test_refinement_runs_through_the_exact_decoder():
    img = Image.fromarray(synthetic_photo(64, 64))
    code0 = cc.fractalize(img, grid=4, adaptive=True, max_cells=40)
    code1 = cc.fractalize(img, grid=4, adaptive=True, max_cells=40, refine_steps=3)
    x = cc.image_io.to_tensor(img)
    err = [((c.render_tensor(1) - x) ** 2).mean() for c in (code0, code1)]
    assert err[1] <= err[0] + 1e-7


def test_iterated_base_equals_the_solved_one(monkeypatch):
    from collage_core import decode

    layout = _layout()
    a, b = _random_code(layout.cells)
    solved = quadtree_attractor(a, b, layout, "d4", 64)
    monkeypatch.setattr(decode, "MAX_SOLVED_QUADTREE_BASE", 1)
    assert torch.allclose(quadtree_attractor(a, b, layout, "d4", 64), solved, atol=1e-8)


def test_cli_fractalize_adaptive(capsys, tmp_path):
    from app.cli import main

    photo = tmp_path / "p.png"
    _half_busy(128).save(photo)
    code_path = tmp_path / "q.collage"
    argv = ["fractalize", photo, "-o", tmp_path / "o.png", "--grid", 4, "--adaptive", "--max-cells", 100]
    assert main([str(a) for a in [*argv, "--code", code_path]]) == 0
    out = capsys.readouterr().out
    code = cc.FractalCode.load(code_path)
    assert code.layout.kind == "quadtree" and 16 < code.layout.cells <= 100 and "grid 4 quadtree" in out
    assert main([str(a) for a in ["fractalize", photo, "-o", tmp_path / "b.png", "--grid", 6, "--adaptive"]]) == 1
    assert "power-of-two" in capsys.readouterr().err


def test_code_refuses_a_tree_too_deep_to_decode():
    code = cc.fractalize(_half_busy(128), grid=4, adaptive=True, max_cells=40)
    deep = QuadtreeLayout(64, (5,) * 1024 + (0,) * (64 * 64 - 1))  # unit 64 * 32 = 2048 px
    with pytest.raises(ValueError, match="quadtree"):
        cc.FractalCode(**{**_fields(code), "grid": 64, "layout": deep, "work_side": 2048})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_views_on_cuda_match_the_cpu():
    code = cc.fractalize(_half_busy(128), grid=4, adaptive=True, max_cells=64)
    for zoom in (1.0, 16.0, 1e9):
        cpu = ViewRenderer(code, "cpu", dense_max=32).render((0.37, 0.61), zoom, (64, 64), precise=True)
        gpu = ViewRenderer(code, "cuda", dense_max=32).render((0.37, 0.61), zoom, (64, 64), precise=True)
        assert torch.allclose(gpu.cpu(), cpu, atol=1e-5)
