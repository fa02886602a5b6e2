"""Small building blocks: the residual block and Gaussian helpers (after openai/vdvae)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    """GELU bottleneck block: 1x1 -> 3x3 -> 3x3 -> 1x1, optionally residual.

    ``(B, c_in, H, W) -> (B, c_out, H, W)``.
    """

    def __init__(self, c_in: int, c_mid: int, c_out: int, residual: bool = True, zero_last: bool = False):
        super().__init__()
        self.residual = residual and c_in == c_out
        self.c1 = nn.Conv2d(c_in, c_mid, 1)
        self.c2 = nn.Conv2d(c_mid, c_mid, 3, padding=1)
        self.c3 = nn.Conv2d(c_mid, c_mid, 3, padding=1)
        self.c4 = nn.Conv2d(c_mid, c_out, 1)
        if zero_last:
            nn.init.zeros_(self.c4.weight)
            nn.init.zeros_(self.c4.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c1(F.gelu(x))
        h = self.c2(F.gelu(h))
        h = self.c3(F.gelu(h))
        h = self.c4(F.gelu(h))
        return x + h if self.residual else h


def gaussian_kl(mu1: torch.Tensor, mu2: torch.Tensor, logstd1: torch.Tensor, logstd2: torch.Tensor) -> torch.Tensor:
    """Elementwise KL( N(mu1, e^logstd1) || N(mu2, e^logstd2) ) in nats."""
    return -0.5 + logstd2 - logstd1 + 0.5 * (logstd1.exp() ** 2 + (mu1 - mu2) ** 2) / (logstd2.exp() ** 2)


def gaussian_sample(
    mu: torch.Tensor, logstd: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Reparameterised draw ``mu + t * e^logstd * eps``; ``eps`` from ``generator`` if given."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + temperature * logstd.exp() * eps


def bounded_logstd(raw: torch.Tensor) -> torch.Tensor:
    # Soft floor/ceiling keeps exp() finite early in training without clipping gradients.
    return 5.0 * torch.tanh(raw / 5.0)
