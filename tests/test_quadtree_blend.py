"""Blended adaptive cells: the step against a pixel-by-pixel reference, the uniform tree
against the blended grid, pieces and views against the dense decoder, the fixed point,
pooling, the fit and the code file."""

import math

import numpy as np
import pytest
import torch
from photos import synthetic_photo
from PIL import Image

import collage_core as cc
from collage_core.decode import decode_iterative, quadtree_attractor
from collage_core.layout import BlendedLayout, layout_from_meta
from collage_core.operator import contract
from collage_core.quadtree import QuadtreeLayout, leaves_in_preorder
from collage_core.viewport import ViewRenderer

# Root grid 4; one root split, one of its quarters split again, another root split.
SPLIT = {(0, 0, 1), (1, 1, 2), (0, 3, 3)}
BANDS = [(0.5, 0), (0.0625, 5)]


def _layout(band=0.0625, ramp=5, window="cosine"):
    depths = tuple(d for d, _, _ in leaves_in_preorder(4, SPLIT))
    return QuadtreeLayout(4, depths, True, window, band, ramp)


def _random_code(K, N=8, C=3, seed=0, s_max=0.9):
    gen = torch.Generator().manual_seed(seed)
    a = contract(torch.randn(1, C, K, N, generator=gen, dtype=torch.float64), N, s_max)
    return a, torch.rand(1, C, K, generator=gen, dtype=torch.float64)


def _naive_weights(layout, side):
    """``(K, side, side)`` weights from the definition: per edge, the smallest leaf touching
    it (found by brute force) sets the band; raw ramps multiplied, then normalised."""
    boxes = []
    for k in range(layout.cells):
        d, i, j = layout.leaf(k)
        c = side // (layout.grid * 2**d)
        boxes.append((i * c, (i + 1) * c, j * c, (j + 1) * c))
    rule = BlendedLayout(4, layout.window, layout.band, layout.ramp, "mirror")

    def band(k, edge):
        y0, y1, x0, x1 = boxes[k]
        line = {0: y0, 1: y1, 2: x0, 3: x1}[edge]
        if line in (0, side):
            return 0.0  # the image border
        sizes = [y1 - y0]
        for t0, t1, s0, s1 in boxes:  # leaves across the edge whose closed span touches it
            across = {0: t1 == line, 1: t0 == line, 2: s1 == line, 3: s0 == line}[edge]
            touch = s0 <= x1 and s1 >= x0 if edge < 2 else t0 <= y1 and t1 >= y0
            if across and touch:
                sizes.append(t1 - t0)
        c = min(sizes)
        return float(rule.band_at(c)) * c

    def ramp(dist, e):
        if e == 0:
            return (dist > 0).double()
        s = (dist / e).clamp(-1, 1)
        return torch.cos((1 - s) * math.pi / 4) ** 2 if layout.window == "cosine" else (1 + s) / 2

    centre = torch.arange(side, dtype=torch.float64) + 0.5
    raw = torch.zeros(layout.cells, side, side, dtype=torch.float64)
    for k, (y0, y1, x0, x1) in enumerate(boxes):
        rows = ramp(centre - y0, band(k, 0)) * ramp(y1 - centre, band(k, 1))
        cols = ramp(centre - x0, band(k, 2)) * ramp(x1 - centre, band(k, 3))
        raw[k] = rows[:, None] * cols[None, :]
    return raw / raw.sum(0), boxes


def _naive_step(layout, z, a, b, symmetries, side):
    """Pixel by pixel: every leaf's whole-image copy at its size, mirrored past its edges."""
    w, boxes = _naive_weights(layout, side)
    assert (w >= 0).all() and torch.allclose(w.sum(0), torch.ones(side, side, dtype=torch.float64))
    out = torch.zeros(z.shape[1], side, side, dtype=z.dtype)
    idx = torch.arange(side)
    for k, (y0, y1, x0, _) in enumerate(boxes):
        c = y1 - y0
        pooled = cc.area_resize(z, (c, c))[0]
        copies = torch.stack(
            [torch.rot90(pooled.flip(-1) if f else pooled, r, (-2, -1)) for r, f in cc.SYMMETRIES[symmetries]]
        )
        cell = torch.einsum("cn,nchw->chw", a[0, :, k], copies) + b[0, :, k, None, None]

        def mirror(p, c=c):  # child pixel of level offset p from the copy's edge: reflect
            return torch.where(p < 0, -1 - p, torch.where(p >= c, 2 * c - 1 - p, p)).clamp(0, c - 1)

        ry, rx = mirror(idx - y0), mirror(idx - x0)
        out += w[k] * cell[:, ry[:, None], rx[None, :]]
    return out


@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize("window", ["cosine", "tent"])
def test_blended_step_equals_the_pixel_by_pixel_definition(band, window):
    layout = _layout(*band, window=window)
    a, b = _random_code(layout.cells)
    z = torch.rand(1, 3, 24, 24, dtype=torch.float64)
    for side in (32, 64):
        fast = cc.collage_step(z, a, b, layout, "d4", size=(side, side))[0]
        assert torch.allclose(fast, _naive_step(layout, z, a, b, "d4", side), atol=1e-12)


@pytest.mark.parametrize("band", BANDS + [(0.03125, 32)])
def test_a_uniform_blended_tree_is_the_blended_grid(band):
    # All leaves at one depth: the ramps of each axis already sum to 1, so the step is
    # BlendedLayout's mirror step exactly.
    a, b = _random_code(16)
    z = torch.rand(1, 3, 20, 20, dtype=torch.float64)
    tree, grid = QuadtreeLayout(4, (0,) * 16, True, "cosine", *band), BlendedLayout(4, "cosine", *band, "mirror")
    for side in (32, 128):
        assert torch.allclose(
            cc.collage_step(z, a, b, tree, "d4", size=(side, side)),
            cc.collage_step(z, a, b, grid, "d4", size=(side, side)),
            atol=1e-12,
        )


def test_pieces_reassemble_any_window_of_the_step():
    layout = _layout()
    a, b = _random_code(layout.cells)
    z = torch.rand(1, 3, 40, 40, dtype=torch.float64)
    side = 256
    full = cc.collage_step(z, a, b, layout, "d4", size=(side, side))[0]
    domains = layout.domains(z, "d4", size=(side, side))[0]  # (C, N, c0, c0)
    gen = np.random.default_rng(1)
    for _ in range(8):
        r0, r1 = sorted(int(v) for v in gen.choice(side + 1, 2, replace=False))
        c0, c1 = sorted(int(v) for v in gen.choice(side + 1, 2, replace=False))
        out = torch.zeros(3, r1 - r0, c1 - c0, dtype=torch.float64)
        for p in layout.pieces((r0, r1, c0, c1), side):
            cs = side // (4 << layout.leaf(p.cell)[0])
            (g0, g1, h0, h1), (l0, l1, m0, m1) = p.rect, p.local
            assert 0 <= l0 < l1 <= cs and 0 <= m0 < m1 <= cs  # inside the leaf's level
            copies = cc.area_resize(domains, (cs, cs))[:, :, l0:l1, m0:m1]
            term = torch.einsum("cn,cnhw->chw", a[0, :, p.cell], copies) + b[0, :, p.cell, None, None]
            ramps = layout.piece_weight(p, side)  # None: the leaf's plateau, weight 1
            rows, cols = ramps or (torch.ones(g1 - g0, dtype=torch.float64), torch.ones(h1 - h0, dtype=torch.float64))
            out[:, g0 - r0 : g1 - r0, h0 - c0 : h1 - c0] += (
                (term.flip(p.flip) if p.flip else term) * rows[:, None] * cols
            )
        total = layout.weight_sum((r0, r1, c0, c1), side)
        assert torch.allclose(out / total, full[:, r0:r1, c0:c1], atol=1e-12)


def test_the_base_is_the_fixed_point_from_any_start():
    layout = _layout()
    a, b = _random_code(layout.cells)
    u = layout.unit
    exact = quadtree_attractor(a, b, layout, "d4", u)
    for seed in range(2):
        z0 = torch.rand(1, 3, u, u, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(decode_iterative(a, b, layout, "d4", z0, 300), exact, atol=1e-8)
    # Above the base every level is one step of the levels its leaves read.
    big = quadtree_attractor(a, b, layout, "d4", 16 * u)
    levels = [quadtree_attractor(a, b, layout, "d4", s) for s in layout.reads(16 * u)]
    assert torch.allclose(layout.step_levels(levels, a, b, "d4"), big, atol=1e-12)


def _photo(side=128):
    return Image.fromarray(synthetic_photo(side, side))


def test_views_equal_crops_of_the_dense_decode_at_any_depth():
    code = cc.fractalize(_photo(), grid=4, adaptive=True, max_cells=40)
    assert code.layout.blend and len(set(code.layout.depths)) > 1  # leaves of different sizes meet
    renderer = ViewRenderer(code, "cpu", dense_max=32)  # several sparse levels, flips and bands
    for (x, y), zoom in [((64, 64), 4), ((200, 72), 8), ((301, 777), 16)]:
        side = 64 * zoom
        full = code.render_tensor(side / 128).double()
        view = renderer.render((x / side, y / side), float(zoom), (64, 64), precise=True)
        assert len(renderer.stats.window_counts) >= 1
        assert torch.allclose(view.double(), full[:, y - 32 : y + 32, x - 32 : x + 32], atol=2e-6)
    deep = np.asarray(code.render_view((0.61, 0.37), 1e13, (64, 64), autocontrast=True)).astype(float)
    assert np.isfinite(deep).all() and deep.std() > 5


def test_blended_leaves_are_seamless_and_pool_consistently():
    photo = _photo(256)
    x = cc.image_io.to_tensor(photo)
    blended = cc.fractalize(photo, grid=8, adaptive=True, max_cells=256)
    hard = cc.fractalize(photo, grid=8, adaptive=True, max_cells=256, blend=False)
    assert blended.layout.blend and not hard.layout.blend
    one = blended.render_tensor(1)
    pooled = torch.nn.functional.avg_pool2d(blended.render_tensor(4)[None], 4)[0]
    assert (pooled - one).abs().mean() < 1 / 255
    # Seams: the mean luma step across leaf boundaries over the photo's own there.
    edges = torch.zeros(256, 255, dtype=torch.bool)
    for k in range(hard.layout.cells):
        d, i, j = hard.layout.leaf(k)
        c = 256 // (8 << d)
        if (j + 1) * c < 256:
            edges[i * c : (i + 1) * c, (j + 1) * c - 1] = True

    def across(img):
        y = img.mean(0)
        return (y[:, 1:] - y[:, :-1]).abs()[edges].mean() / (y[:, 1:] - y[:, :-1]).abs()[~edges].mean()

    own = across(x)
    assert across(hard.render_tensor(1)) / own > 1.5 * across(one) / own
    assert across(one) / own < 1.3
    mse = [((c.render_tensor(1) - x) ** 2).mean() for c in (blended, hard)]
    assert mse[0] < mse[1]  # the coupled fit keeps (here beats) the hard leaves' fidelity


def test_sharp_copies_stay_positive_and_single():
    code = cc.fractalize(_photo(), grid=4, adaptive=True, max_cells=64)
    n_self = 8
    assert ((code.a != 0).any(0)[:, :n_self].sum(-1) <= 1).all()
    assert (code.a[..., :n_self] >= 0).all()
    assert code.a[..., :n_self].abs().sum(-1).max() <= code.s_max + 1e-6


def test_code_round_trip_and_old_adaptive_files_stay_hard(tmp_path):
    code = cc.fractalize(_photo(64), grid=4, adaptive=True, max_cells=40)
    path = tmp_path / "q.collage"
    code.save(path)
    back = cc.FractalCode.load(path)
    assert back.layout == code.layout and back.layout.blend
    assert torch.equal(back.render_tensor(1), code.render_tensor(1))
    meta = code.layout.to_meta()
    assert meta["frame"] == "mirror" and layout_from_meta(meta) == code.layout
    old = {k: meta[k] for k in ("kind", "grid", "splits")}  # a file written before blended leaves
    assert layout_from_meta(old) == QuadtreeLayout(4, code.layout.depths)
    with pytest.raises(ValueError, match="mirror"):
        layout_from_meta({**meta, "frame": "wide"})
    with pytest.raises(ValueError, match="band"):
        layout_from_meta({**meta, "band": 2.0})


def test_cli_adaptive_is_blended_unless_no_blend(tmp_path):
    from app.cli import main

    photo = tmp_path / "p.png"
    _photo(64).save(photo)
    for flags, blend in (([], True), (["--no-blend"], False)):
        code_path = tmp_path / f"q{blend}.collage"
        argv = ["fractalize", photo, "-o", tmp_path / "o.png", "--grid", 4, "--adaptive", "--max-cells", 40]
        assert main([str(a) for a in [*argv, *flags, "--code", code_path]]) == 0
        assert cc.FractalCode.load(code_path).layout.blend is blend
