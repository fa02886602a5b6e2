"""Sharp copies: copy selection against brute force, and the self-copy invariant at depth."""

import itertools

import numpy as np
import pytest
import torch
from photos import synthetic_photo

import collage_core as cc
from collage_core.copies import cells_of, centered_stats, parse_copies, select_copies
from collage_core.fit import fit_closed_form, refine
from collage_core.operator import collage_domains
from collage_core.symmetry import apply_symmetries


def image_tensor(side=64, seed=0):
    return torch.from_numpy(synthetic_photo(side, side, seed=seed)).permute(2, 0, 1)[None].double() / 255


def _stats(x, grid):
    domains = collage_domains(x, grid, "d4").flatten(-2)
    return domains, cells_of(x, grid)


def _naive_error(domains, cells, k, subset, s_max=None, strength=0.0):
    """Squared error of cell ``k`` on ``subset`` with shared weights and per-channel offsets, by lstsq."""
    C, _, P = domains.shape[1:]
    design = np.concatenate([domains[0, c, list(subset)].T for c in range(C)])  # (C*P, n)
    target = np.concatenate([cells[0, c, k] for c in range(C)])
    blocks = np.kron(np.eye(C), np.ones((P, 1)))  # one offset per channel
    full = np.concatenate([design, blocks], axis=1)
    coef, *_ = np.linalg.lstsq(full, target, rcond=None)
    if s_max is not None:  # one weight, clamped as the code must hold it; offsets refit
        w = np.clip(coef[0], strength, s_max)  # copies are positive: never the photo's negative
        rest, *_ = np.linalg.lstsq(blocks, target - design[:, 0] * w, rcond=None)
        coef = np.concatenate([[w], rest])
    return ((full @ coef - target) ** 2).sum()


@pytest.mark.parametrize("strength", [0.0, 0.5])
def test_one_copy_is_the_best_admissible_orientation(strength):
    x = image_tensor(32)
    domains, cells = _stats(x, 4)
    G, r = centered_stats(domains, cells)
    mask = select_copies(G, r, 1, 8, 0.9, strength)[0].numpy()
    d, c = domains.numpy(), cells.numpy()
    for k in range(16):
        errors = [_naive_error(d, c, k, [n], s_max=0.9, strength=strength) for n in range(8)]
        assert mask[k].sum() == 1
        assert errors[int(mask[k].argmax())] <= min(errors) + 1e-9


def test_two_copies_improve_on_one_and_stay_within_the_best_pair():
    x = image_tensor(32, seed=2)
    domains, cells = _stats(x, 4)
    G, r = centered_stats(domains, cells)
    one, two = select_copies(G, r, 1, 8, 0.9)[0].numpy(), select_copies(G, r, 2, 8, 0.9)[0].numpy()
    d, c = domains.numpy(), cells.numpy()
    for k in range(16):
        chosen = np.flatnonzero(two[k])
        assert len(chosen) == 2 and one[k][chosen].any()  # greedy: keeps the first copy
        best = min(_naive_error(d, c, k, pair) for pair in itertools.combinations(range(8), 2))
        assert _naive_error(d, c, k, chosen) <= _naive_error(d, c, k, np.flatnonzero(one[k])) + 1e-9
        assert _naive_error(d, c, k, chosen) >= best - 1e-9


def test_sharp_fit_uses_one_shared_weight_per_cell_within_the_bound():
    a, b = fit_closed_form(image_tensor().float(), 8, "d4", strength=0.3, copies=1)
    assert ((a != 0).sum(-1) == 1).all()  # one copy per cell
    assert torch.equal(a, a[:, :1].expand_as(a))  # shared by the channels: a copy keeps its colours
    norms = a.abs().sum(-1)
    assert norms.max() <= 0.9 + 1e-6 and norms.min() >= 0.3 - 1e-6


def test_refinement_keeps_the_chosen_copies():
    x = image_tensor(32).float()
    a, b = fit_closed_form(x, 4, "d4", strength=0.2, copies=1)
    a2, b2 = refine(x, a, b, 4, "d4", steps=6, strength=0.2, keep_copies=True)
    assert torch.equal(a2 != 0, a != 0) and not torch.equal(a2, a)
    assert torch.equal(a2, a2[:, :1].expand_as(a2))


def test_a_sharp_cell_at_depth_is_an_affine_recolouring_of_the_attractor():
    """View of one cell at zoom = grid: a * T_n(attractor) + b per channel, one orientation.

    Hard cells: a blended cell is a window-weighted mix of its neighbours' copies."""
    code = cc.fractalize(synthetic_photo(64, 64, seed=3), grid=8, copies=1, strength=0.3, blend=False)
    whole = code.render_view(center=(0.5, 0.5), zoom=1, size=(64, 64))
    whole = torch.from_numpy(np.asarray(whole, dtype=np.float64)).permute(2, 0, 1)
    full = code.render_tensor(8).double()  # (3, 512, 512): cell (i, j) is 64 x 64
    for k in (9, 27, 50):
        i, j = divmod(k, 8)
        cell = full[:, i * 64 : (i + 1) * 64, j * 64 : (j + 1) * 64] * 255
        n = int(code.a[0, k].abs().argmax())
        copy = apply_symmetries(whole, "d4")[:, n]  # (3, 64, 64)
        weight = float(code.a[0, k, n])
        for c in range(3):  # one weight for all channels, its own offset each
            fitted = weight * copy[c] + (cell[c] - weight * copy[c]).mean()
            assert (fitted - cell[c]).abs().max() < 1.0  # 8-bit rounding of `whole`


def test_copies_setting_parses_and_is_recorded():
    assert parse_copies("soft") is None and parse_copies(None) is None and parse_copies("2") == 2
    for bad in (0, -1, 2.5, "many", True):
        with pytest.raises(ValueError, match="copies"):
            parse_copies(bad)
    code = cc.fractalize(synthetic_photo(32, 32), grid=4, copies=2)
    assert code.meta["copies"] == 2 and ((code.a != 0).sum(-1) <= 2).all()
    soft = cc.fractalize(synthetic_photo(32, 32), grid=4, copies="soft")
    assert soft.meta["copies"] == "soft" and (soft.a != 0).sum(-1).max() > 2
    assert cc.FractalCode.from_bytes(code.to_bytes()).meta["copies"] == 2


def test_explicit_arguments_beat_the_config():
    cfg = cc.FractalizeConfig(grid=8, strength=0.5)
    code = cc.fractalize(synthetic_photo(64, 64), grid=32, strength=0.0, config=cfg)
    assert code.grid == 32
    assert cc.fractalize(synthetic_photo(64, 64), config=cfg).grid == 8


def test_shared_weights_are_the_channel_mean_and_keep_each_cells_mean_colour():
    """share_channels against an element-by-element reference, and its two promises."""
    from collage_core.copies import share_channels

    g = torch.Generator().manual_seed(0)
    B, C, K, N = 2, 3, 5, 8
    a = torch.rand(B, C, K, N, generator=g, dtype=torch.float64) * 0.1
    a[..., 0] += 0.3  # a strength floor of 0.3 on the own copy
    b = torch.rand(B, C, K, generator=g, dtype=torch.float64)
    means = torch.rand(B, C, N, generator=g, dtype=torch.float64)
    shared, offsets = share_channels(a, b, means)
    for i, c, k in itertools.product(range(B), range(C), range(K)):
        mean_w = [sum(float(a[i, cc, k, n]) for cc in range(C)) / C for n in range(N)]
        assert np.allclose(shared[i, c, k].numpy(), mean_w)
        moved = sum((float(a[i, c, k, n]) - mean_w[n]) * float(means[i, c, n]) for n in range(N))
        assert abs(float(offsets[i, c, k]) - (float(b[i, c, k]) + moved)) < 1e-12
    # A cell over domains that are flat at their means keeps its value (its mean colour).
    before = (a * means[:, :, None, :]).sum(-1) + b
    after = (shared * means[:, :, None, :]).sum(-1) + offsets
    assert torch.allclose(before, after)
    # The fit's constraints survive: contraction, the strength floor, non-negative self weights.
    assert shared.abs().sum(-1).max() <= a.abs().sum(-1).max() + 1e-12 and shared[..., 0].min() >= 0.3
    gray = a[:, :1]
    assert torch.equal(share_channels(gray, b[:, :1], means[:, :1])[0], gray)  # one channel: unchanged


def test_a_shared_weight_fit_has_one_weight_per_copy_and_costs_little_at_1x():
    photo = synthetic_photo(64, 64, seed=2)
    own, shared = (cc.fractalize(photo, grid=8, shared_weights=s) for s in (False, True))
    assert own.layout.kind == shared.layout.kind == "blend"
    assert not torch.equal(own.a[0], own.a[1])  # a blended sharp fit weights each channel
    assert torch.equal(shared.a[0], shared.a[1]) and torch.equal(shared.a[1], shared.a[2])
    assert ((shared.a != 0).sum(-1) <= 1).all()  # still one sharp copy per cell
    x = torch.from_numpy(np.asarray(photo, dtype=np.float64)).permute(2, 0, 1) / 255

    def psnr(code):
        y = code.render_tensor(1).double()
        return -10 * torch.log10(((y - x) ** 2).mean()).item()

    assert psnr(shared) > psnr(own) - 1.0
    with pytest.raises(ValueError, match="shared_weights"):
        cc.FractalizeConfig(shared_weights="yes")
    default = cc.fractalize(photo, grid=8)
    assert cc.FractalizeConfig().shared_weights and torch.equal(default.a, shared.a)
