"""Bottom-up encoder: activations keyed by resolution (VDVAE)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Block


class Encoder(nn.Module):
    """``(B, 1, S, S)`` binary image -> ``{resolution: (B, width, r, r)}``."""

    def __init__(self, width: int, bottleneck: int, blocks: tuple[tuple[int, int], ...]):
        super().__init__()
        self.resolutions = [res for res, _ in blocks]
        self.stem = nn.Conv2d(1, width, 3, padding=1)
        self.stages = nn.ModuleList(
            nn.Sequential(*[Block(width, bottleneck, width) for _ in range(n)]) for _, n in blocks
        )

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        h = self.stem(x - 0.5)
        acts: dict[int, torch.Tensor] = {}
        for res, stage in zip(self.resolutions, self.stages, strict=False):
            if h.shape[-1] != res:
                h = F.adaptive_avg_pool2d(h, res)
            h = stage(h)
            acts[res] = h
        return acts
