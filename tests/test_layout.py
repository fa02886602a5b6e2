"""Cell layouts: blended windows, the blended step against a naive reference, contraction,
fixed points, the coupled fit, sharp copies, and version-1 code files."""

from pathlib import Path

import numpy as np
import pytest
import torch
from photos import synthetic_photo
from PIL import Image

import collage_core as cc
from collage_core.blend_fit import fit_blended
from collage_core.decode import decode_iterative
from collage_core.layout import BlendedLayout, GridLayout, layout_from_meta
from collage_core.operator import contract

DATA = Path(__file__).parent / "data"
# (band, ramp): the band alone, and a band widened to a ramp of pixels on small cells.
BANDS = [(0.5, 0), (0.25, 0), (0.125, 0), (0.125, 5)]


def _random_code(K, N=8, C=3, seed=0, s_max=0.9):
    gen = torch.Generator().manual_seed(seed)
    a = contract(torch.randn(1, C, K, N, generator=gen, dtype=torch.float64), N, s_max)
    return a, torch.rand(1, C, K, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("window", ["cosine", "tent"])
@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize("side", [32, 64, 96, 160])
def test_weights_are_a_partition_of_unity(window, band, side):
    layout = BlendedLayout(8, window, *band)
    w = layout.frame_weights(side, torch.float64)  # (K, d, d)
    assert (w >= 0).all() and (w <= 1).all()
    total = layout.overlap_add(w[None, None])[0, 0]
    assert torch.allclose(total, torch.ones_like(total), atol=1e-12)


def _naive_blended_step(layout, z, a, b, symmetries, side):
    """The definition, pixel by pixel: sum_k w_k(x) [sum_n a_kn T_n(z)(phi_k^-1 x) + b_k]."""
    g = layout.grid
    c, d = side // g, 2 * side // g
    pooled = cc.area_resize(z, (d, d))[0]  # (C, d, d): the whole image shrunk into a frame
    copies = torch.stack(
        [torch.rot90(pooled.flip(-1) if f else pooled, k, (-2, -1)) for k, f in cc.SYMMETRIES[symmetries]]
    )
    weights = layout.axis_weights(side)  # (g, d)
    out = torch.zeros(z.shape[1], side, side, dtype=z.dtype)
    for i in range(g):
        for j in range(g):
            frame = torch.einsum("cn,nchw->chw", a[0, :, i * g + j], copies) + b[0, :, i * g + j, None, None]
            for u in range(d):
                for v in range(d):
                    y, x = i * c - c // 2 + u, j * c - c // 2 + v
                    if 0 <= y < side and 0 <= x < side:
                        out[:, y, x] += weights[i, u] * weights[j, v] * frame[:, u, v]
    return out


@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize("symmetries", ["d4", "none"])
def test_blended_step_equals_the_naive_definition(band, symmetries):
    layout = BlendedLayout(4, "cosine", *band)
    n = len(cc.SYMMETRIES[symmetries])
    a, b = _random_code(16, n)
    z = torch.rand(1, 3, 24, 24, dtype=torch.float64)
    fast = cc.collage_step(z, a, b, layout, symmetries, size=(32, 32))[0]
    assert torch.allclose(fast, _naive_blended_step(layout, z, a, b, symmetries, 32), atol=1e-12)


def test_the_training_path_has_the_naive_step_and_its_gradient():
    """With gradients on, overlap-adding takes its own path (padded copies, not in-place
    adds): the same step, and the gradient of the definition."""
    layout = BlendedLayout(4, "cosine", 0.5, 0)
    a, b = _random_code(16, 8)
    z = torch.rand(1, 3, 24, 24, dtype=torch.float64)
    weights = torch.rand(3, 32, 32, dtype=torch.float64)  # an arbitrary loss: sum(weights * step)
    grads = []
    for step in (
        lambda a, b: cc.collage_step(z, a, b, layout, "d4", size=(32, 32))[0],
        lambda a, b: _naive_blended_step(layout, z, a, b, "d4", 32),
    ):
        a_, b_ = a.clone().requires_grad_(), b.clone().requires_grad_()
        out = step(a_, b_)
        (weights * out).sum().backward()
        grads.append((out.detach(), a_.grad, b_.grad))
    (fast, ga, gb), (naive, na, nb) = grads
    assert torch.allclose(fast, naive, atol=1e-12)
    assert torch.allclose(ga, na, atol=1e-12) and torch.allclose(gb, nb, atol=1e-12)
    with torch.no_grad():
        assert torch.allclose(cc.collage_step(z, a, b, layout, "d4", size=(32, 32))[0], fast, atol=1e-12)


@pytest.mark.parametrize("band", BANDS)
def test_pieces_reassemble_any_window_of_the_step(band):
    layout = BlendedLayout(8, "cosine", *band)
    a, b = _random_code(64)
    z = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    side = 128
    full = cc.collage_step(z, a, b, layout, "d4", size=(side, side))[0]
    domains = layout.domains(z, "d4", size=(side, side))[0]
    gen = np.random.default_rng(1)
    for _ in range(10):
        r0, r1 = sorted(gen.choice(side + 1, 2, replace=False))
        c0, c1 = sorted(gen.choice(side + 1, 2, replace=False))
        out = torch.zeros(3, r1 - r0, c1 - c0, dtype=torch.float64)
        for p in layout.pieces((r0, r1, c0, c1), side):
            (g0, g1, h0, h1), (l0, l1, m0, m1) = p.rect, p.local
            frame = (
                torch.einsum("cn,cnhw->chw", a[0, :, p.cell], domains[:, :, l0:l1, m0:m1]) + b[0, :, p.cell, None, None]
            )
            rows, cols = layout.piece_weight(p, side)
            assert (rows > 0).all() and (cols > 0).all()  # pieces are exactly the support
            out[:, g0 - r0 : g1 - r0, h0 - c0 : h1 - c0] += frame * rows[:, None] * cols[None, :]
        assert torch.allclose(out, full[:, r0:r1, c0:c1], atol=1e-12)
        block = layout.cells_block(a[0], b[0], domains, (r0, r1, c0, c1), side)
        assert torch.allclose(block, full[:, r0:r1, c0:c1], atol=1e-12)


def test_blended_step_is_a_contraction_with_the_cells_bound():
    layout = BlendedLayout(8)
    a, b = _random_code(64, s_max=0.7)
    bound = a.abs().sum(-1).max().item()
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        z1, z2 = (torch.rand(1, 3, 64, 64, generator=gen, dtype=torch.float64) for _ in range(2))
        f1, f2 = (cc.collage_step(z, a, b, layout, "d4") for z in (z1, z2))
        # max-norm distance of the frames' input (the pooled images) bounds the output's.
        pooled = (cc.area_resize(z1, (16, 16)) - cc.area_resize(z2, (16, 16))).abs().max()
        assert (f1 - f2).abs().max() <= bound * pooled + 1e-12


def test_iteration_converges_from_any_start_and_near_the_multiscale_render():
    code = cc.fractalize(synthetic_photo(64, 64, seed=3), grid=8, copies=None, blend=True)
    assert code.layout.kind == "blend"
    a, b = code.a[None].double(), code.b[None].double()
    ends = [
        decode_iterative(a, b, code.layout, "d4", torch.rand(1, 3, 64, 64, dtype=torch.float64), 200),
        decode_iterative(a, b, code.layout, "d4", torch.zeros(1, 3, 64, 64, dtype=torch.float64), 200),
    ]
    assert (ends[0] - ends[1]).abs().max() < 1e-9  # one fixed point, whatever the start
    # It is the step's fixed point at this side; the render climbs levels instead, and the
    # two agree to the pooling consistency of the blend (decode.py).
    fixed = ends[0]
    assert (cc.collage_step(fixed, a, b, code.layout, "d4") - fixed).abs().max() < 1e-9
    exact = cc.decode_exact(a, b, code.layout, "d4", 64)
    assert (exact - fixed).abs().mean() < 2 / 255


def test_coupled_fit_lowers_the_collage_error():
    x = torch.from_numpy(synthetic_photo(128, 128, seed=2)).permute(2, 0, 1).float()[None] / 255
    layout = BlendedLayout(16)

    def error(ab):
        return ((cc.collage_step(x, *ab, layout, "d4") - x) ** 2).mean().item()

    alone = error(fit_blended(x, layout, sweeps=0, coupled_self=False))
    coupled = error(fit_blended(x, layout, sweeps=2))
    assert coupled < 0.9 * alone


def test_sharp_copies_use_one_orientation_per_cell_in_blended_layouts():
    code = cc.fractalize(synthetic_photo(64, 64), grid=8, copies=1, blend=True)
    assert code.layout.kind == "blend"
    used = (code.a != 0).any(0)  # (K, N): shared by the channels
    assert (used.sum(-1) == 1).all()


def test_hard_grid_and_blend_switch():
    assert cc.fractalize(synthetic_photo(64, 64), grid=8, blend=False).layout == GridLayout(8)
    assert cc.fractalize(synthetic_photo(60, 60), grid=5).layout == GridLayout(5)  # odd grid: hard
    with pytest.raises(ValueError, match="even grid"):
        cc.fractalize(synthetic_photo(60, 60), grid=5, blend=True)
    with pytest.raises(ValueError, match="band"):
        cc.FractalizeConfig(band=0.9)


def test_blended_code_round_trips_through_a_v2_file(tmp_path):
    code = cc.fractalize(synthetic_photo(48, 40), grid=8, band=0.25, ramp=3, window="tent")
    again = cc.FractalCode.load(code.save(tmp_path / "b.collage"))
    assert again.layout == code.layout and again.version == 2
    assert np.array_equal(np.asarray(again.render(1.5)), np.asarray(code.render(1.5)))
    assert np.array_equal(
        np.asarray(again.render_view((0.3, 0.4), 50.0, (24, 24))),
        np.asarray(code.render_view((0.3, 0.4), 50.0, (24, 24))),
    )
    with pytest.raises(ValueError):
        layout_from_meta({"kind": "blend", "grid": 7})
    with pytest.raises(ValueError):
        layout_from_meta({"kind": "hexagons", "grid": 8})


def test_version_1_file_loads_and_renders_as_before():
    # Written by the engine before cell layouts existed (format version 1, hard grid 8).
    code = cc.FractalCode.load(DATA / "v1_grid8.collage")
    assert code.version == 1 and code.layout == GridLayout(8)
    for magnify, name in [(1, "render1"), (2.5, "render2.5")]:
        before = np.asarray(Image.open(DATA / f"v1_grid8_{name}.png"))
        assert np.array_equal(np.asarray(code.render(magnify)), before)
    view = np.asarray(code.render_view((0.4, 0.6), 300.0, (32, 24)))
    assert np.array_equal(view, np.asarray(Image.open(DATA / "v1_grid8_view300.png")))
