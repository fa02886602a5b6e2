"""Invariants of decoding: fixed point, start independence, exact == iterated, pooling."""

import pytest
import torch
import torch.nn.functional as F
from codes import random_code

from collage_core.decode import attractor_mean, decode_exact, decode_iterative, is_exact_side, nearest_exact_side
from collage_core.operator import collage_step

CASES = [
    (4, "d4", 64),  # climbed from side 1
    (4, "d4", 28),  # base 7: small linear solve
    (5, "rot", 75),  # base 3 from a power of 5
    (8, "none", 96),  # base 12 == 3 * 4 ... not reachable: solved
    (32, "d4", 512),  # base 16: pooled from 32
    (6, "d4", 6 * 50),  # base 50: iterated at side 300
]


@pytest.mark.parametrize("grid,symmetries,side", CASES)
def test_exact_decode_equals_200_iterations(grid, symmetries, side):
    a, b = random_code(2, 3, grid, symmetries, strength=0.5)
    exact = decode_exact(a, b, grid, symmetries, side)
    iterated = decode_iterative(a, b, grid, symmetries, torch.rand(2, 3, side, side), 200)
    assert (exact - iterated).abs().max() < 1e-5


@pytest.mark.parametrize("grid,symmetries,side", CASES[:4])
def test_attractor_is_a_fixed_point(grid, symmetries, side):
    a, b = random_code(1, 2, grid, symmetries, strength=0.8)
    z = decode_exact(a, b, grid, symmetries, side)
    assert (collage_step(z, a, b, grid, symmetries) - z).abs().max() < 1e-5


def test_different_starts_reach_the_same_attractor():
    a, b = random_code(1, 3, 4, "d4", strength=0.7)
    starts = [torch.zeros(1, 3, 32, 32), torch.rand(1, 3, 32, 32) * 10, -torch.ones(1, 3, 32, 32)]
    ends = [decode_iterative(a, b, 4, "d4", s, 200) for s in starts]
    for e in ends[1:]:
        assert (e - ends[0]).abs().max() < 1e-5


@pytest.mark.parametrize("grid,base,m", [(4, 16, 4), (8, 64, 2), (5, 25, 5), (4, 28, 3)])
def test_pooled_magnification_equals_base(grid, base, m):
    a, b = random_code(1, 3, grid, "d4", strength=0.6)
    small = decode_exact(a, b, grid, "d4", base)
    big = decode_exact(a, b, grid, "d4", base * m)
    assert (F.avg_pool2d(big, m) - small).abs().max() < 1e-5


def test_closed_form_mean_and_auxiliary_domains():
    a, b = random_code(2, 3, 4, "rot", n_aux=1, strength=0.5)
    aux = torch.rand(2, 3, 1, 16, 16)
    z = decode_exact(a, b, 4, "rot", 64, aux)
    torch.testing.assert_close(attractor_mean(a, b, "rot", aux), z.mean(dim=(-2, -1), keepdim=True), atol=1e-5, rtol=0)
    iterated = decode_iterative(a, b, 4, "rot", torch.zeros(2, 3, 64, 64), 200, aux)
    assert (z - iterated).abs().max() < 1e-5


def test_decode_exact_is_differentiable_through_the_solve():
    a, b = random_code(1, 1, 2, "none", dtype=torch.float64, strength=0.5)
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: decode_exact(a, b, 2, "none", 6), (a, b))


def test_non_square_and_awkward_sides():
    a, b = random_code(1, 3, 32, "d4")
    z = decode_exact(a, b, 32, "d4", (375, 500))
    assert z.shape == (1, 3, 375, 500)
    assert nearest_exact_side(500, 32) >= 500 and is_exact_side(nearest_exact_side(500, 32), 32)
    with pytest.raises(ValueError):
        decode_exact(a, b, 32, "d4", 0)
