"""Fitting: the closed form against a naive per-cell least squares, and refinement."""

import threading

import numpy as np
import pytest
import torch
from photos import synthetic_photo

from collage_core.decode import decode_exact
from collage_core.fit import Cancelled, fit_closed_form, refine
from collage_core.operator import collage_domains


def image_tensor(side=64, seed=0):
    return torch.from_numpy(synthetic_photo(side, side, seed=seed)).permute(2, 0, 1)[None].float() / 255


def test_closed_form_equals_per_cell_lstsq_when_bound_is_loose():
    x = image_tensor(32)
    grid = 4
    a, b = fit_closed_form(x, grid, "rot", s_max=0.999999)
    doms = collage_domains(x, grid, "rot")[0].numpy()  # (C, N, h, w)
    for c in range(3):
        design = np.concatenate([doms[c].reshape(4, -1).T, np.ones((64, 1))], axis=1)
        for k in range(grid * grid):
            i, j = divmod(k, grid)
            target = x[0, c, i * 8 : (i + 1) * 8, j * 8 : (j + 1) * 8].numpy().ravel()
            coef, *_ = np.linalg.lstsq(design, target, rcond=None)
            if np.abs(coef[:4]).sum() < 0.99:  # cells the bound did not touch
                np.testing.assert_allclose(a[0, c, k].numpy(), coef[:4], atol=2e-3)
                np.testing.assert_allclose(b[0, c, k].item(), coef[4], atol=2e-3)


@pytest.mark.parametrize("strength", [0.0, 0.5, 0.9])
def test_closed_form_respects_bound_and_strength(strength):
    a, _ = fit_closed_form(image_tensor(), 8, "d4", s_max=0.9, strength=strength)
    norms = a.abs().sum(-1)
    assert norms.max() <= 0.9 + 1e-6 and norms.min() >= strength - 1e-6


def test_higher_strength_adds_self_similar_detail():
    x = image_tensor()
    weak = decode_exact(*fit_closed_form(x, 8, "d4", strength=0.0), 8, "d4", 64)
    strong = decode_exact(*fit_closed_form(x, 8, "d4", strength=0.85), 8, "d4", 64)
    assert not torch.allclose(weak, strong, atol=1e-2)


def test_planted_loop_cell_is_a_pure_identity_copy():
    a, _ = fit_closed_form(image_tensor(), 8, "d4", s_max=0.9, plant_loop=27)
    assert torch.allclose(a[0, :, 27, 0], torch.full((3,), 0.9))
    assert a[0, :, 27, 1:].abs().max() == 0


def test_refine_lowers_attractor_error_and_stays_contractive():
    x = image_tensor(64)
    a, b = fit_closed_form(x, 8, "d4")
    before = torch.mean((decode_exact(a, b, 8, "d4", 64) - x) ** 2)
    seen = []
    a2, b2 = refine(x, a, b, 8, "d4", steps=15, progress=lambda i, n, loss: seen.append((i, n)))
    after = torch.mean((decode_exact(a2, b2, 8, "d4", 64) - x) ** 2)
    assert after < before
    assert a2.abs().sum(-1).max() <= 0.9 + 1e-6
    assert seen[-1] == (15, 15)


def test_refine_is_deterministic_and_cancellable():
    x = image_tensor(32)
    a, b = fit_closed_form(x, 4, "rot")
    r1 = refine(x, a, b, 4, "rot", steps=5)
    r2 = refine(x, a, b, 4, "rot", steps=5)
    assert torch.equal(r1[0], r2[0]) and torch.equal(r1[1], r2[1])
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        refine(x, a, b, 4, "rot", steps=5, cancel=stop)
