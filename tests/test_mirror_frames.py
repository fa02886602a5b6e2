"""Blended cells with mirror frames (the default look): the step against a naive reference,
pieces and the viewport against the dense decoder, whole sharp copies at depth, no seams
at 1x, and pooling consistency."""

from pathlib import Path

import numpy as np
import pytest
import torch
from photos import synthetic_photo
from PIL import Image

import collage_core as cc
from collage_core.decode import decode_exact
from collage_core.layout import BlendedLayout, GridLayout, layout_from_meta
from collage_core.operator import contract
from collage_core.symmetry import apply_symmetries
from collage_core.viewport import ViewRenderer

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "photos" / "astronaut.jpg"
BANDS = [(0.5, 0), (0.125, 0), (0.0625, 5)]


def _random_code(K, N=8, C=3, seed=0, s_max=0.9):
    gen = torch.Generator().manual_seed(seed)
    a = contract(torch.randn(1, C, K, N, generator=gen, dtype=torch.float64), N, s_max)
    return a, torch.rand(1, C, K, generator=gen, dtype=torch.float64)


def _mirror(i: int, c: int) -> int:
    # Child pixel shown at frame position i of a mirror frame (copy at [c/2, 3c/2)).
    p = i - c // 2
    return -1 - p if p < 0 else (2 * c - 1 - p if p >= c else p)


def _naive_mirror_step(layout, z, a, b, symmetries, side):
    """The definition pixel by pixel: the whole image at the cell's size, reflected past its edges."""
    g, c = layout.grid, side // layout.grid
    pooled = cc.area_resize(z, (c, c))[0]
    copies = torch.stack(
        [torch.rot90(pooled.flip(-1) if f else pooled, k, (-2, -1)) for k, f in cc.SYMMETRIES[symmetries]]
    )  # (N, C, c, c)
    weights = layout.axis_weights(side)  # (g, 2c)
    out = torch.zeros(z.shape[1], side, side, dtype=z.dtype)
    for i in range(g):
        for j in range(g):
            k = i * g + j
            for u in range(2 * c):
                for v in range(2 * c):
                    y, x = i * c - c // 2 + u, j * c - c // 2 + v
                    if 0 <= y < side and 0 <= x < side:
                        pix = copies[:, :, _mirror(u, c), _mirror(v, c)]  # (N, C)
                        value = torch.einsum("cn,nc->c", a[0, :, k], pix) + b[0, :, k]
                        out[:, y, x] += weights[i, u] * weights[j, v] * value
    return out


@pytest.mark.parametrize("band", BANDS)
def test_mirror_step_equals_the_naive_definition(band):
    layout = BlendedLayout(4, "cosine", *band, frame="mirror")
    a, b = _random_code(16)
    z = torch.rand(1, 3, 12, 12, dtype=torch.float64)
    fast = cc.collage_step(z, a, b, layout, "d4", size=(32, 32))[0]
    assert torch.allclose(fast, _naive_mirror_step(layout, z, a, b, "d4", 32), atol=1e-12)


@pytest.mark.parametrize("band", BANDS)
def test_mirror_pieces_reassemble_any_window_of_the_step(band):
    layout = BlendedLayout(8, "cosine", *band, frame="mirror")
    a, b = _random_code(64)
    z = torch.rand(1, 3, 40, 40, dtype=torch.float64)
    side = 256
    full = cc.collage_step(z, a, b, layout, "d4", size=(side, side))[0]
    domains = layout.domains(z, "d4", size=(side, side))[0]  # (C, N, c, c): the child's copies
    assert domains.shape[-1] == layout.child_side(side) == side // 8
    gen = np.random.default_rng(1)
    for _ in range(10):
        r0, r1 = sorted(gen.choice(side + 1, 2, replace=False))
        c0, c1 = sorted(gen.choice(side + 1, 2, replace=False))
        out = torch.zeros(3, r1 - r0, c1 - c0, dtype=torch.float64)
        for p in layout.pieces((r0, r1, c0, c1), side):
            (g0, g1, h0, h1), (l0, l1, m0, m1) = p.rect, p.local
            assert 0 <= l0 < l1 <= side // 8 and 0 <= m0 < m1 <= side // 8  # inside the child
            term = torch.einsum("cn,cnhw->chw", a[0, :, p.cell], domains[:, :, l0:l1, m0:m1])
            term = term.flip(p.flip) if p.flip else term
            rows, cols = layout.piece_weight(p, side)
            out[:, g0 - r0 : g1 - r0, h0 - c0 : h1 - c0] += (term + b[0, :, p.cell, None, None]) * rows[:, None] * cols
        assert torch.allclose(out, full[:, r0:r1, c0:c1], atol=1e-12)
        block = layout.cells_block(a[0], b[0], domains, (r0, r1, c0, c1), side)
        assert torch.allclose(block, full[:, r0:r1, c0:c1], atol=1e-12)


def test_mirror_views_equal_crops_of_the_dense_render():
    # Windows deep enough that the renderer climbs sparse levels (pieces, flips).
    code = cc.fractalize(synthetic_photo(64, 64), grid=8)
    assert code.layout == BlendedLayout(8, "cosine", 0.03125, 32, "mirror")
    S = 8 * 8 * 8 * 2
    a, b = code.a[None].double(), code.b[None].double()
    full = decode_exact(a, b, code.layout, code.symmetries, S)[0].float()
    renderer = ViewRenderer(code, dense_max=32)
    for x0, y0, w in [(333, 517, 128), (101, 291, 64), (700, 40, 256)]:
        center = ((x0 + w / 2) / S, (y0 + w / 2) / S)
        view = renderer.render(center, S / w, (w, w), precise=True).float()
        assert (view - full[:, y0 : y0 + w, x0 : x0 + w]).abs().max() < 1e-4


def test_one_cell_view_at_depth_is_an_affine_copy_of_the_attractor_away_from_the_band():
    code = cc.fractalize(Image.open(PHOTO).convert("RGB").resize((128, 128)), grid=8)
    layout, g, S = code.layout, 8, 128
    assert layout.mirror and (code.a != 0).any(0).sum(-1).eq(1).all()  # one copy per cell
    whole = ViewRenderer(code).render((0.5, 0.5), 1.0, (S, S), precise=True).double()  # A(S)
    copies = apply_symmetries(whole[None], code.symmetries)[0]  # (C, N, S, S)
    margin = int(float(layout.band_at(S)) * S) + 1  # outside the band of the level S * g
    for i, j in [(3, 4), (1, 6), (6, 2), (0, 0)]:
        k = i * g + j
        view = ViewRenderer(code).render(((j + 0.5) / g, (i + 0.5) / g), float(g), (S, S), precise=True).double()
        n = int(code.a[:, k].abs().sum(0).argmax())
        expect = code.a[:, k, n, None, None].double() * copies[:, n] + code.b[:, k, None, None].double()
        inner = (slice(None), slice(margin, S - margin), slice(margin, S - margin))
        assert torch.allclose(view[inner], expect[inner], atol=1e-5)
        # ...and the band really blends: the full view is not the one copy.
        assert (view - expect).abs().max() > 1e-3


def _blockiness(img: torch.Tensor, period: int) -> float:
    y = img.mean(0)
    across, other = [], []
    for grad in (y[:, 1:] - y[:, :-1], (y[1:, :] - y[:-1, :]).T):
        at = (torch.arange(grad.shape[1]) + 1) % period == 0
        across.append(grad.abs()[:, at].flatten())
        other.append(grad.abs()[:, ~at].flatten())
    return (torch.cat(across).mean() / torch.cat(other).mean()).item()


def test_the_default_1x_render_has_no_seams_where_the_hard_grid_has():
    photo = Image.open(PHOTO).convert("RGB").resize((256, 256))
    x = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255).permute(2, 0, 1)
    own = _blockiness(x, 16)
    blended = cc.fractalize(photo, grid=16)
    hard = cc.fractalize(photo, grid=16, blend=False)
    assert blended.layout.kind == "blend" and hard.layout == GridLayout(16)
    soft, sharp = (_blockiness(code.render_tensor(1), 16) / own for code in (blended, hard))
    assert sharp > 2.5  # the hard grid's seams
    assert soft < 1.3


def test_pooled_render_4_equals_render_1():
    code = cc.fractalize(Image.open(PHOTO).convert("RGB").resize((256, 256)), grid=16)
    one = code.render_tensor(1)
    pooled = torch.nn.functional.avg_pool2d(code.render_tensor(4)[None], 4)[0]
    assert (pooled - one).abs().mean() < 1 / 255


def test_frame_is_recorded_and_old_blend_files_stay_wide():
    layout = BlendedLayout(8, frame="mirror")
    assert layout_from_meta(layout.to_meta()) == layout
    assert layout_from_meta({"kind": "blend", "grid": 8, "band": 0.5, "ramp": 0}).frame == "wide"
    assert cc.FractalizeConfig(frame="wide").layout().frame == "wide"
    with pytest.raises(ValueError, match="frame"):
        cc.FractalizeConfig(frame="round")
