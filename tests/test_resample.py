"""The one box resampler against a naive reference: each output pixel is the mean of the area it covers."""

from fractions import Fraction

import numpy as np
import pytest
import torch

import collage_core as cc
from collage_core.resample import area_weights


def naive_area_resize(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Upsample both axes by out*in (every pixel becomes an exact block), then average blocks."""
    h, w = x.shape[-2:]
    fine = x.repeat(out_h, axis=-2).repeat(out_w, axis=-1)  # (.., h*out_h, w*out_w)
    blocks = fine.reshape(*x.shape[:-2], out_h, h, out_w, w)
    return blocks.mean(axis=(-3, -1))


@pytest.mark.parametrize("size", [(20, 30), (37, 53), (50, 70), (11, 53), (4, 4), (74, 106), (8, 16)])
def test_area_resize_equals_the_naive_block_mean(size):
    x = torch.rand(2, 37, 53, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = cc.area_resize(x, size)
    assert got.shape == (2, *size) and got.is_contiguous()
    assert np.allclose(got.numpy(), naive_area_resize(x.numpy(), *size), atol=1e-12)


def test_float32_and_integer_factors():
    x = torch.rand(3, 64, 48, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(cc.area_resize(x, (16, 12)), torch.nn.functional.avg_pool2d(x[None], 4)[0])
    ref = naive_area_resize(x.double().numpy(), 21, 29)
    assert np.allclose(cc.area_resize(x, (21, 29)).numpy(), ref, atol=1e-5)


def test_window_weights_agree_with_the_resizer_and_clip_outside():
    # The whole image as a window: the same operator as area_resize.
    w = area_weights(37, Fraction(0), Fraction(37, 11), 11, 0, 37)
    x = torch.rand(37, dtype=torch.float64)
    assert torch.allclose(w @ x, cc.area_resize(x[None, :, None].expand(1, 37, 1), (11, 1))[0, :, 0])
    # A window starting two pixels left of the image: its first output pixel is half black.
    w = area_weights(10, Fraction(-2), Fraction(4), 3, 0, 10)
    assert torch.allclose(w.sum(1), torch.tensor([0.5, 1.0, 1.0], dtype=w.dtype))
