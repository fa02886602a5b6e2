"""The public API end to end: sizes, modes, fidelity, morphs, styles, magnification."""

import numpy as np
import pytest
import torch
from photos import psnr, synthetic_photo
from PIL import Image

import collage_core as cc


@pytest.fixture(scope="module")
def square():
    img = synthetic_photo(128, 128)
    return img, cc.fractalize(img, grid=16, blend=True)


def test_render_reproduces_the_photo(square):
    img, code = square
    out = code.render(1)
    assert out.size == (128, 128) and out.mode == "RGB"
    assert psnr(out, img) > 20


@pytest.fixture(scope="module")
def hard(square):
    img, _ = square
    return img, cc.fractalize(img, grid=16, blend=False)


def test_default_cells_are_blended_and_hard_cells_are_one_switch(square, hard):
    layout = cc.fractalize(hard[0], grid=16).layout
    assert layout.kind == "blend" and layout.frame == "mirror"  # seamless, sharp copies at depth
    assert square[1].layout.kind == "blend" and hard[1].layout.kind == "grid"
    assert psnr(square[1].render(1), square[0]) >= psnr(hard[1].render(1), hard[0])


@pytest.mark.parametrize("m", [2, 4])
def test_pooled_magnified_render_equals_base(hard, m):
    # Hard cells: pooling commutes with the step, so magnification is exact.
    _, code = hard
    big = code.render_tensor(m)
    small = code.render_tensor(1)
    pooled = big.reshape(3, 128, m, 128, m).mean(dim=(2, 4))
    assert (pooled - small).abs().max() < 1e-5


@pytest.mark.parametrize("m", [2, 4, 8])
def test_pooled_magnified_blended_render_is_close_to_base(square, m):
    # Blended windows vary inside a pixel: pooling commutes only approximately. The
    # stated bound (DESIGN.md section 8, decode.py): 1/255 on average, 4/255 at worst.
    _, code = square
    pooled = code.render_tensor(m).reshape(3, 128, m, 128, m).mean(dim=(2, 4))
    error = (pooled - code.render_tensor(1)).abs()
    assert error.mean() <= 1 / 255 and error.max() <= 4 / 255


@pytest.mark.parametrize("fixture,ratio", [("hard", 1.5), ("square", 1.15)])
def test_magnified_render_has_detail_bicubic_lacks(fixture, ratio, request):
    _, code = request.getfixturevalue(fixture)
    big = np.asarray(code.render(8), dtype=np.float64)
    bicubic = np.asarray(code.render(1).resize((1024, 1024), Image.BICUBIC), dtype=np.float64)
    # High-frequency energy: the attractor keeps structure at pixel scale (hard cells
    # add their seams to it; blended cells only their self-copies).
    assert np.abs(np.diff(big, axis=0)).mean() > ratio * np.abs(np.diff(bicubic, axis=0)).mean()


@pytest.mark.parametrize("size,grid", [((100, 60), 8), ((75, 75), 5), ((37, 90), 7)])
def test_any_size_and_aspect(size, grid):
    code = cc.fractalize(synthetic_photo(*size), grid=grid, symmetries="d4")
    assert code.render(1).size == size
    assert code.render(1.5).size == (round(size[0] * 1.5), round(size[1] * 1.5))
    assert code.render(0.5).size == (round(size[0] * 0.5), round(size[1] * 0.5))
    assert psnr(code.render(1), synthetic_photo(*size)) > 15


def test_grayscale_and_alpha_keep_their_mode():
    gray = cc.fractalize(synthetic_photo(64, 64, channels=1), grid=8)
    assert gray.render(1).mode == "L"
    rgba = cc.fractalize(Image.fromarray(synthetic_photo(64, 64)).convert("RGBA"), grid=8)
    assert rgba.render(2).mode == "RGBA" and rgba.render(2).size == (128, 128)


def test_iterations_converge_from_any_start(square):
    img, code = square
    exact = np.asarray(code.render(1), dtype=np.float64)
    errors = [
        np.abs(np.asarray(code.render(1, iterations=n, start="noise"), dtype=np.float64) - exact).mean()
        for n in (0, 2, 6, 30)
    ]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1.0
    gray = np.asarray(code.render(1, iterations=30, start="gray"), dtype=np.float64)
    assert np.abs(gray - exact).mean() < 1.0
    morph = code.render(1, iterations=1, start=synthetic_photo(50, 50, seed=9))
    assert morph.size == (128, 128) and psnr(morph, exact) < psnr(code.render(1, iterations=8, start="gray"), exact)


def test_seeded_noise_start_is_reproducible(square):
    _, code = square
    a = np.asarray(code.render(1, iterations=1, start="noise", seed=4))
    b = np.asarray(code.render(1, iterations=1, start="noise", seed=4))
    c = np.asarray(code.render(1, iterations=1, start="noise", seed=5))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_style_source_changes_the_attractor():
    img = synthetic_photo(64, 64)
    plain = cc.fractalize(img, grid=8, strength=0.6)
    styled = cc.fractalize(img, grid=8, strength=0.6, style=synthetic_photo(64, 64, seed=3)[::-1])
    assert styled.aux is not None and styled.aux.shape == (3, 1, 128, 128)
    assert psnr(styled.render(1), img) >= psnr(plain.render(1), img) - 0.5
    assert not np.array_equal(np.asarray(styled.render(1)), np.asarray(plain.render(1)))


def test_refinement_raises_psnr():
    img = synthetic_photo(64, 64)
    base = cc.fractalize(img, grid=8)
    refined = cc.fractalize(img, grid=8, refine_steps=20)
    assert psnr(refined.render(1), img) > psnr(base.render(1), img)


def test_config_and_presets_style_overrides():
    cfg = cc.FractalizeConfig(grid=8, strength=0.5)
    code = cc.fractalize(synthetic_photo(64, 64), config=cfg, symmetries="rot")
    assert code.grid == 8 and code.symmetries == "rot"
    with pytest.raises(ValueError, match="grid"):
        cc.FractalizeConfig(grid=1)
    with pytest.raises(ValueError, match="strength"):
        cc.fractalize(synthetic_photo(64, 64), strength=0.95)
    with pytest.raises(ValueError, match="unknown settings"):
        cfg.override(colour="red")


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_device_selection(monkeypatch, cuda, mps, expected):
    # Availability is faked so every branch runs on any machine, CPU-only CI included.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr("collage_core.device._mps_available", lambda: mps)
    for auto in (None, "", "auto"):
        assert cc.pick_device(auto).type == expected
    assert cc.pick_device("cpu").type == "cpu"
    assert cc.pick_device(torch.device("cuda", 1)) == torch.device("cuda", 1)  # a device object is used as given
    for name, present in (("cuda", cuda), ("mps", mps)):
        if present:
            assert cc.pick_device(name).type == name
        else:
            with pytest.raises(ValueError, match="not available"):
                cc.pick_device(name)
