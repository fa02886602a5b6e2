"""Top-down decoder with latent blocks at several resolutions (VDVAE)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import repeat
from torch import nn

from .blocks import Block, bounded_logstd, gaussian_kl, gaussian_sample


class LatentBlock(nn.Module):
    """One stochastic layer: prior p(z|h), posterior q(z|h, enc), then a residual update of h."""

    def __init__(self, width: int, bottleneck: int, z_dim: int):
        super().__init__()
        self.z_dim = z_dim
        self.posterior = Block(2 * width, bottleneck, 2 * z_dim, residual=False)
        # Zero-initialised: the prior starts as N(0, 1) and h is untouched until it learns.
        self.prior = Block(width, bottleneck, 2 * z_dim + width, residual=False, zero_last=True)
        self.z_proj = nn.Conv2d(z_dim, width, 1)
        self.z_proj.weight.data.mul_(0.3)
        self.resnet = Block(width, bottleneck, width)

    def _prior(self, h: torch.Tensor):
        out = self.prior(h)
        pm, pv, feat = out[:, : self.z_dim], out[:, self.z_dim : 2 * self.z_dim], out[:, 2 * self.z_dim :]
        return pm, bounded_logstd(pv), feat

    def forward(self, h: torch.Tensor, enc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the updated ``h`` and the KL map ``(B, z_dim, r, r)``."""
        qm, qv = self.posterior(torch.cat([h, enc], dim=1)).chunk(2, dim=1)
        qv = bounded_logstd(qv)
        pm, pv, feat = self._prior(h)
        z = gaussian_sample(qm, qv)
        kl = gaussian_kl(qm, pm, qv, pv)
        h = self.resnet(h + feat + self.z_proj(z))
        return h, kl

    def sample(self, h: torch.Tensor, temperature: float, eps: torch.Tensor) -> torch.Tensor:
        """A prior draw ``pm + t * e^pv * eps`` with the standard-normal ``eps`` ``(B, z_dim, r, r)`` given."""
        pm, pv, feat = self._prior(h)
        z = pm + temperature * pv.exp() * eps
        return self.resnet(h + feat + self.z_proj(z))


class TopDownDecoder(nn.Module):
    """Learned 1x1 start, latent blocks coarse to fine; output ``(B, width, r_last, r_last)``."""

    def __init__(self, width: int, bottleneck: int, z_dim: int, blocks: tuple[tuple[int, int], ...]):
        super().__init__()
        self.plan = [res for res, n in blocks for _ in range(n)]
        self.start = nn.Parameter(torch.zeros(width, 1, 1))
        self.layers = nn.ModuleList(LatentBlock(width, bottleneck, z_dim) for _ in self.plan)

    def _resize(self, h: torch.Tensor, res: int) -> torch.Tensor:
        return h if h.shape[-1] == res else F.interpolate(h, size=(res, res), mode="nearest")

    def forward(self, acts: dict[int, torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``acts`` from the encoder -> (features, per-layer KL maps)."""
        B = next(iter(acts.values())).shape[0]
        h = repeat(self.start, "c h w -> b c h w", b=B)
        kls = []
        for res, layer in zip(self.plan, self.layers, strict=False):
            h = self._resize(h, res)
            h, kl = layer(h, acts[res])
            kls.append(kl)
        return h, kls

    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral sample of the features ``(n, width, r_last, r_last)``.

        The noise is drawn sample by sample (all of sample 0's layers, then sample 1's, ...),
        so sample ``i`` of a seed is the same whatever ``n`` is: asking for more digits adds
        digits instead of changing the first ones.
        """
        shapes = [(layer.z_dim, res, res) for res, layer in zip(self.plan, self.layers, strict=True)]
        sizes = [math.prod(s) for s in shapes]
        device, dtype = self.start.device, self.start.dtype
        flat = torch.stack([torch.randn(sum(sizes), generator=generator, device=device) for _ in range(n)])
        noise = [
            part.reshape(n, *shape) for part, shape in zip(flat.to(dtype).split(sizes, dim=1), shapes, strict=True)
        ]
        h = repeat(self.start, "c h w -> b c h w", b=n)
        for res, layer, eps in zip(self.plan, self.layers, noise, strict=True):
            h = layer.sample(self._resize(h, res), temperature, eps)
        return h
