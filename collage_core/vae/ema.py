"""Exponential moving average of a model's weights (evaluation and export use the average)."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


class WeightEMA:
    """``avg <- decay * avg + (1 - decay) * weights`` after every optimizer step.

    Float parameters and buffers are averaged; the average starts as a copy of the model.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must lie in (0, 1), got {decay}")
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        own = model.state_dict()
        keys = list(self.shadow)
        torch._foreach_lerp_([self.shadow[k] for k in keys], [own[k].detach() for k in keys], 1.0 - self.decay)

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore an average saved with a checkpoint (resuming)."""
        missing = sorted(set(self.shadow) - set(tensors))
        if missing:
            raise ValueError(f"EMA state misses {missing[:5]}")
        for k in self.shadow:
            self.shadow[k].copy_(tensors[k])

    @contextlib.contextmanager
    def swapped_in(self, model: nn.Module):
        """Inside the block ``model`` holds the averaged weights; its own come back after."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items() if k in self.shadow}
        model.load_state_dict(self.shadow, strict=False)
        try:
            yield model
        finally:
            model.load_state_dict(own, strict=False)
