"""Tiny seeded Collage VAEs and synthetic digits, shared by the VAE tests."""

from __future__ import annotations

import pytest
import torch

from collage_core import vae

TINY = dict(
    width=8,
    bottleneck=4,
    z_dim=2,
    collage_channels=2,
    head_hidden=4,
    param_features=2,
    enc_blocks=((14, 1), (7, 1), (4, 1), (1, 1)),
    dec_blocks=((1, 1), (4, 1), (7, 1), (14, 1)),
)


def tiny(likelihood: str = "collage", seed: int = 0, **over) -> vae.HierarchicalVAE:
    torch.manual_seed(seed)
    return vae.build_vae(vae.VAEConfig(likelihood=likelihood, **{**TINY, **over})).eval()


def synthetic_digits(n: int, seed: int = 0) -> torch.Tensor:
    """Grey-level blobs and bars: ``(n, 1, 28, 28)`` in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    cy, cx = torch.rand(2, n, 1, 1, generator=g) * 12 + 8
    r = torch.rand(n, 1, 1, generator=g) * 4 + 4
    ring = torch.exp(-((((yy - cy) ** 2 + (xx - cx) ** 2).sqrt() - r) ** 2) / 2.0)
    return ring.clamp(0, 1).unsqueeze(1)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models: thread start-up costs more than it saves, and CI machines are shared.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
