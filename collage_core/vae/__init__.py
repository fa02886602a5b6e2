"""Collage VAE (paper section 4.1): a hierarchical VAE whose likelihood is a Collage.

Usage::

    from collage_core import vae
    model = vae.load_pretrained()                      # shipped weights, no network
    x = model.sample(n=16, magnify=40, seed=0)         # (16, 1, 1120, 1120) in [0, 1]
    logits = model.sample_logits(n=16, magnify=40, seed=0)  # the same digits' Bernoulli logits
    base = vae.load_pretrained("baseline")             # conv head; magnify = bicubic upscaling
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..resources import vae_weights
from .blocks import gaussian_kl, gaussian_sample
from .cell_layout import make_layout
from .checkpoint import export_weights, load_checkpoint, read_checkpoint, save_checkpoint
from .config import RECIPES, TrainConfig, VAEConfig
from .data import binarize, ensure_mnist, load_mnist
from .decoder import TopDownDecoder
from .ema import WeightEMA
from .encoder import Encoder
from .evaluate import evaluate
from .heads import LinearHead, MLPHead, build_head
from .likelihood import CollageLikelihood, ConvLikelihood
from .model import MAX_MAGNIFY, HierarchicalVAE, build_baseline_vae, build_collage_vae, build_vae
from .objective import balance_coefficients, kl_penalty
from .train import train

CollageVAE = HierarchicalVAE  # a HierarchicalVAE built with a CollageLikelihood
BaselineVAE = HierarchicalVAE  # the same class with a ConvLikelihood

PRETRAINED = {"collage": "collage_vae_beta1.safetensors", "baseline": "baseline_vae_beta1.safetensors"}


def load_pretrained(
    which: str = "collage", device: str | torch.device = "cpu", checkpoint: str | Path | None = None
) -> HierarchicalVAE:
    """The shipped beta=1 model (``assets/vae`` in the repository; no network), in eval mode.

    Args:
        which: ``"collage"`` (default) or ``"baseline"``.
        checkpoint: a trained checkpoint to load instead (then ``which`` only names the slot it
            fills), so that every tool's "--checkpoint, else the shipped weights" is this one call.
    """
    if which not in PRETRAINED:
        raise ValueError(f"which must be one of {sorted(PRETRAINED)}, got {which!r}")
    model, _, _ = load_checkpoint(checkpoint or vae_weights(PRETRAINED[which]), device=device)
    return model


__all__ = [
    "RECIPES",
    "BaselineVAE",
    "CollageLikelihood",
    "CollageVAE",
    "ConvLikelihood",
    "Encoder",
    "HierarchicalVAE",
    "LinearHead",
    "MLPHead",
    "MAX_MAGNIFY",
    "TopDownDecoder",
    "TrainConfig",
    "VAEConfig",
    "WeightEMA",
    "balance_coefficients",
    "binarize",
    "build_baseline_vae",
    "build_head",
    "build_collage_vae",
    "build_vae",
    "ensure_mnist",
    "evaluate",
    "export_weights",
    "gaussian_kl",
    "gaussian_sample",
    "kl_penalty",
    "load_checkpoint",
    "load_mnist",
    "load_pretrained",
    "make_layout",
    "read_checkpoint",
    "save_checkpoint",
    "train",
]
