"""The collage step: shapes, a naive reference, gradients and the contraction bound."""

import pytest
import torch
from codes import random_code

from collage_core.operator import collage_step, contract, domain_count
from collage_core.symmetry import SYMMETRIES, apply_symmetries


def naive_step(z, a, b, grid, symmetries, aux=None):
    """Cell by cell, with Python loops: the definition, written the slow way."""
    B, C, H, W = z.shape
    h, w = H // grid, W // grid
    out = torch.empty_like(z)
    pooled = z.reshape(B, C, h, grid, w, grid).mean(dim=(3, 5))
    doms = [apply_symmetries(pooled, symmetries)]
    if aux is not None:
        for i in range(aux.shape[2]):
            small = aux[:, :, i].reshape(B, C, h, aux.shape[-2] // h, w, aux.shape[-1] // w).mean(dim=(3, 5))
            doms.append(apply_symmetries(small, symmetries))
    doms = torch.cat(doms, dim=2)
    for bi in range(B):
        for c in range(C):
            for k in range(grid * grid):
                i, j = divmod(k, grid)
                cell = b[bi, c, k] + sum(a[bi, c, k, n] * doms[bi, c, n] for n in range(doms.shape[2]))
                out[bi, c, i * h : (i + 1) * h, j * w : (j + 1) * w] = cell
    return out


@pytest.mark.parametrize("symmetries", sorted(SYMMETRIES))
@pytest.mark.parametrize("grid,side", [(2, 8), (4, 16), (3, 12)])
def test_step_matches_naive_reference(symmetries, grid, side):
    a, b = random_code(2, 3, grid, symmetries)
    z = torch.rand(2, 3, side, side)
    torch.testing.assert_close(collage_step(z, a, b, grid, symmetries), naive_step(z, a, b, grid, symmetries))


def test_step_with_auxiliary_domain_matches_naive():
    a, b = random_code(1, 2, 4, "rot", n_aux=2)
    z, aux = torch.rand(1, 2, 16, 16), torch.rand(1, 2, 2, 8, 8)
    torch.testing.assert_close(collage_step(z, a, b, 4, "rot", aux), naive_step(z, a, b, 4, "rot", aux))


def test_step_non_square_image_without_rotations():
    a, b = random_code(1, 1, 4, "none")
    z = torch.rand(1, 1, 16, 32)
    torch.testing.assert_close(collage_step(z, a, b, 4, "none"), naive_step(z, a, b, 4, "none"))
    with pytest.raises(ValueError, match="square"):
        collage_step(z, *random_code(1, 1, 4, "d4"), 4, "d4")


def test_step_accepts_non_contiguous_input():
    a, b = random_code(1, 3, 4, "d4")
    z = torch.rand(1, 16, 16, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(collage_step(z, a, b, 4, "d4"), collage_step(z.contiguous(), a, b, 4, "d4"))


def test_step_rejects_mismatched_shapes():
    a, b = random_code(1, 3, 4, "d4")
    with pytest.raises(ValueError, match="divisible"):
        collage_step(torch.rand(1, 3, 10, 10), a, b, 4, "d4")
    with pytest.raises(ValueError, match="do not fit"):
        collage_step(torch.rand(1, 3, 16, 16), a[..., :4], b, 4, "d4")
    with pytest.raises(ValueError, match="unknown symmetries"):
        collage_step(torch.rand(1, 3, 16, 16), a, b, 4, "mirror")


def test_step_gradcheck_float64():
    a, b = random_code(1, 2, 2, "d4", n_aux=1, dtype=torch.float64)
    z = torch.rand(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    aux = torch.rand(1, 2, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z, a, b, aux: collage_step(z, a, b, 2, "d4", aux), (z, a, b, aux))


@pytest.mark.parametrize("symmetries", sorted(SYMMETRIES))
def test_contraction_holds_at_the_bound(symmetries):
    s_max = 0.9
    n_self, n_total = domain_count(symmetries)
    gen = torch.Generator().manual_seed(1)
    # Push every cell onto the bound exactly: the worst case the check allows.
    a = contract(torch.randn(8, 3, 16, n_total, generator=gen) * 10, n_self, s_max, strength=s_max)
    assert torch.allclose(a.abs().sum(-1), torch.full_like(a[..., 0], s_max), atol=1e-6)
    b = torch.randn(8, 3, 16, generator=gen)
    x, y = torch.rand(8, 3, 32, 32, generator=gen), torch.rand(8, 3, 32, 32, generator=gen) * 5
    tx, ty = collage_step(x, a, b, 4, symmetries), collage_step(y, a, b, 4, symmetries)
    ratio = (tx - ty).abs().amax(dim=(-2, -1)) / (x - y).abs().amax(dim=(-2, -1))
    assert (ratio <= s_max + 1e-5).all()


def test_contract_keeps_direction_and_applies_floor():
    a = torch.tensor([[0.1, -0.05, 0.0, 0.0], [3.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    out = contract(a, 4, s_max=0.8, strength=0.5)
    assert torch.allclose(out.abs().sum(-1), torch.tensor([0.5, 0.8, 0.5]))
    assert torch.allclose(out[0] / out[0].abs().sum(), a[0] / a[0].abs().sum())
    assert out[2, 0] == 0.5  # an empty cell gets its floor on the identity copy
    with pytest.raises(ValueError):
        contract(a, 4, s_max=1.0)
    with pytest.raises(ValueError):
        contract(a, 4, s_max=0.5, strength=0.6)


def test_symmetry_group_elements_are_distinct():
    x = torch.arange(16.0).reshape(1, 4, 4)
    for name, elements in SYMMETRIES.items():
        copies = apply_symmetries(x, name)
        assert copies.shape == (1, len(elements), 4, 4)
        assert len({tuple(c.flatten().tolist()) for c in copies[0]}) == len(elements)
