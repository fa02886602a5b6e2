"""The blended inference kernel (``collage_core/vae/blended_step.py``) against the training-time path.

Training decodes blended cells through ``BlendedLayout.assemble`` (frames, weights,
overlap-add); sampling through the kernel. They must render the same attractor, so every
test compares the kernel with the engine's own step or ``decode_exact``.
"""

from __future__ import annotations

import pytest
import torch

from collage_core.decode import decode_exact
from collage_core.layout import BlendedLayout
from collage_core.operator import contract, domain_count
from collage_core.vae import blended_step as kernel
from collage_core.vae.blended_step import InferenceBlendedLayout, blended_step, render_attractor, reused_buffers
from tests.test_vae import _strong, one_thread, tiny  # noqa: F401 - one_thread: autouse fixture


def coefficients(B: int, C: int, grid: int, symmetries: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    n_self, _ = domain_count(symmetries)
    a = contract(torch.randn(B, C, grid * grid, n_self, generator=g), n_self, 0.75)
    return a, torch.randn(B, C, grid * grid, generator=g) * 3


def close(got: torch.Tensor, want: torch.Tensor) -> bool:
    return got.shape == want.shape and torch.allclose(got, want, rtol=0, atol=2e-6 * (1 + want.abs().max().item()))


LAYOUTS = [
    BlendedLayout(4, band=0.5),  # the Collage VAE's (wide frames, full band)
    BlendedLayout(4, band=0.5, frame="mirror"),
    BlendedLayout(6, window="tent", band=0.125, ramp=0),  # narrow bands, another grid
    BlendedLayout(4, band=1 / 64, ramp=3, frame="mirror"),  # band set per level by the ramp
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: f"{lay.frame}-g{lay.grid}-{lay.window}-{lay.band:g}")
@pytest.mark.parametrize("symmetries", ["d4", "rot", "none"])
def test_step_equals_the_training_step(layout, symmetries):
    a, b = coefficients(2, 3, layout.grid, symmetries)
    head = torch.tensor([[0.7, -1.3, 2.1, 0.4]])
    for side in (2 * layout.grid, 4 * layout.grid, 10 * layout.grid):
        child = layout.child_side(side)
        z = torch.randn(2, 3, child, child)
        want = layout.step(z, a, b, symmetries, None, (side, side))
        assert close(blended_step(z, a, b, layout, symmetries, (side, side)), want)
        # The folded linear head: the head's logits of the same step.
        logits = torch.einsum("oc,bchw->bohw", head[:, :3], want) + head[0, 3]
        assert close(blended_step(z, a, b, layout, symmetries, (side, side), head), logits)
    # A finer image is area-pooled to the child side first, as the engine's step does.
    side = 4 * layout.grid
    z = torch.randn(2, 3, 3 * layout.child_side(side), 3 * layout.child_side(side))
    assert close(
        blended_step(z, a, b, layout, symmetries, (side, side)), layout.step(z, a, b, symmetries, None, (side, side))
    )


@pytest.mark.parametrize("layout", LAYOUTS[:2], ids=["wide", "mirror"])
def test_attractor_equals_decode_exact_at_every_side(layout):
    a, b = coefficients(2, 2, layout.grid, "d4", seed=1)
    head = torch.tensor([[1.5, -2.0, 0.3]])
    for side in (8, 12, 28, 56, 84, 140, 280):  # exact sides and resampled ones (12, 28, 84, 140)
        want = decode_exact(a, b, layout, "d4", side)
        assert close(render_attractor(a, b, layout, "d4", side), want)
        logits = torch.einsum("oc,bchw->bohw", head[:, :2], want) + head[0, 2]
        assert close(render_attractor(a, b, layout, "d4", side, head), logits)


def reference(model, seed: int, n: int, magnify: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and probabilities (supersampled below ``k``) of the training-time decode."""
    like = model.likelihood
    with torch.no_grad():
        h = model.decoder.sample(n, 1.0, torch.Generator().manual_seed(seed))
        a, b = like.collage_params(h)
        side, sub = like.image_side * magnify, -(-like.supersample // magnify)
        logits = like.head(decode_exact(a, b, like.layout, like.symmetries, side))
        if sub == 1:
            return logits, torch.sigmoid(logits)
        fine = like.head(decode_exact(a, b, like.layout, like.symmetries, side * sub))
        return logits, torch.nn.functional.avg_pool2d(torch.sigmoid(fine), sub)


@pytest.mark.parametrize("head", ["linear", "mlp"])
@pytest.mark.parametrize("frame", ["wide", "mirror"])
def test_samples_equal_the_training_path_at_every_magnification(head, frame):
    model = _strong(tiny(head=head))
    if head == "mlp":  # its default init squashes the logits to a few nats: give it edges too
        torch.nn.init.normal_(model.likelihood.head.outer.weight)
    if frame == "mirror":
        model.likelihood.layout = BlendedLayout(4, band=0.5, frame="mirror")
    assert model.config.layout == "blend" and model.config.supersample == 2
    for m in (1, 2, 3, 5, 40) if head == "linear" else (1, 3, 8):
        want_logits, want_probs = reference(model, 7, 2, m)
        assert want_logits.abs().max() > 5  # not a flat image
        assert close(model.sample_logits(n=2, magnify=m, seed=7), want_logits), m
        assert torch.allclose(model.sample(n=2, magnify=m, seed=7), want_probs, rtol=0, atol=1e-5), m


def test_training_never_runs_the_kernel_and_sampling_does(monkeypatch):
    model = tiny()
    x = torch.rand(4, 1, 28, 28).round()
    torch.manual_seed(1)  # the posterior draw
    want = model(x)

    def refuse(*args, **kwargs):
        raise RuntimeError("inference kernel called")

    monkeypatch.setattr(kernel, "blended_step", refuse)
    model.train()
    torch.manual_seed(1)
    out = model(x)  # the training likelihood: forward and backward through BlendedLayout.assemble
    (out.distortion + out.rate).sum().backward()
    assert torch.equal(out.logits, want.logits) and torch.equal(out.distortion, want.distortion)
    model.eval()
    with pytest.raises(RuntimeError, match="inference kernel"):
        model.sample(n=1, magnify=2, seed=0)


def test_reused_buffers_do_not_leak_between_samples():
    model = _strong(tiny())
    like = model.likelihood
    h = model.decoder.sample(3, 1.0, torch.Generator().manual_seed(2))
    together = like.render(h, 8)  # one sample at a time, buffers reused
    a, b = like.collage_params(h)
    packed = torch.cat([like.head.out.weight, like.head.out.bias[:, None]], dim=1)
    assert kernel._BUFFERS.pool is None
    for i in range(3):  # fresh buffers for each
        alone = torch.sigmoid(render_attractor(a[i : i + 1], b[i : i + 1], like.layout, like.symmetries, 224, packed))
        assert torch.equal(together[i : i + 1], alone)
    assert torch.equal(like.render(h, 8, chunk=2)[2:], together[2:])
    with reused_buffers():
        with reused_buffers():
            assert kernel._BUFFERS.pool is not None
        assert kernel._BUFFERS.pool is not None
    assert kernel._BUFFERS.pool is None


def test_inference_layout_is_the_same_layout_and_bad_sides_are_refused():
    layout = BlendedLayout(4, band=0.5, frame="mirror")
    fast = InferenceBlendedLayout.of(layout)
    assert fast.to_meta() == layout.to_meta() and fast.cells == layout.cells
    a, b = coefficients(1, 1, 4, "d4")
    with pytest.raises(ValueError, match="divisible by 8"):
        blended_step(torch.zeros(1, 1, 6, 6), a, b, layout, "d4", (12, 12))
    with pytest.raises(ValueError, match="do not fit"):
        blended_step(torch.zeros(1, 1, 8, 8), a[..., :4], b, layout, "d4", (16, 16))
