"""The hierarchical VAE, composed from an encoder, a top-down decoder and a likelihood."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import VAEConfig
from .decoder import TopDownDecoder
from .encoder import Encoder
from .likelihood import CollageLikelihood, ConvLikelihood

MAX_MAGNIFY = 64


@dataclass
class VAEOutput:
    """Per-image terms in nats: ``distortion`` and ``rate`` are ``(B,)``; ``kl_layers`` is ``(B, L)``."""

    distortion: torch.Tensor
    rate: torch.Tensor
    kl_layers: torch.Tensor
    logits: torch.Tensor


class HierarchicalVAE(nn.Module):
    """VDVAE-style VAE: ``Encoder`` bottom-up, ``TopDownDecoder``, then a likelihood head.

    The likelihood decides what a sample is at magnification ``m``: the Collage renders
    its attractor exactly at ``28*m``; the baseline upsamples bicubically.
    """

    def __init__(self, config: VAEConfig, encoder: Encoder, decoder: TopDownDecoder, likelihood: nn.Module):
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood

    def forward(self, x: torch.Tensor) -> VAEOutput:
        """``x: (B, 1, S, S)`` binary in {0, 1} -> the ELBO's terms (one posterior sample)."""
        S = self.config.image_side
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, S, S):
            raise ValueError(f"expected images (B, 1, {S}, {S}), got {tuple(x.shape)}")
        h, kls = self.decoder(self.encoder(x))
        logits = self.likelihood(h)
        distortion = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl_layers = torch.stack([kl.flatten(1).sum(1) for kl in kls], dim=1)
        return VAEOutput(distortion, kl_layers.sum(1), kl_layers, logits)

    @torch.no_grad()
    def sample(
        self,
        n: int = 16,
        magnify: int = 1,
        temperature: float = 1.0,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw digits from the prior and render them at ``magnify`` times 28 pixels.

        The latents come from ``generator`` (or a fresh one seeded with ``seed``) and their
        shapes depend on ``n`` only, so a seed gives the same digits at every magnification.
        Returns Bernoulli means (pixel probabilities), not binary draws.

        For the Collage likelihood, ``avg_pool(sample(m), m)`` matches ``sample(1)`` exactly in
        the attractor (to float32 round-off) but only approximately in probabilities, because
        the per-pixel head is non-linear (shipped model: mean abs gap ~0.02, up to ~0.5 on
        digit edges). The baseline's magnified sample is a bicubic upscaling.

        Returns:
            ``(n, 1, 28*magnify, 28*magnify)`` float in [0, 1].
        """
        if isinstance(magnify, bool) or not isinstance(magnify, int) or not 1 <= magnify <= MAX_MAGNIFY:
            raise ValueError(f"magnify must be an integer in 1..{MAX_MAGNIFY}, got {magnify!r}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        device = next(self.parameters()).device
        if generator is None:
            generator = torch.Generator(device=device)
            if seed is not None:
                generator.manual_seed(int(seed))
            else:
                generator.seed()
        h = self.decoder.sample(n, float(temperature), generator)
        return self.likelihood.render(h, magnify)


def _trunk(config: VAEConfig) -> tuple[Encoder, TopDownDecoder]:
    return (
        Encoder(config.width, config.bottleneck, config.enc_blocks),
        TopDownDecoder(config.width, config.bottleneck, config.z_dim, config.dec_blocks),
    )


def build_collage_vae(config: VAEConfig) -> HierarchicalVAE:
    """The Collage VAE: the decoder's features become collage parameters (paper 4.1)."""
    encoder, decoder = _trunk(config)
    likelihood = CollageLikelihood(
        config.width,
        config.collage_channels,
        config.grid,
        config.symmetries,
        config.s_max,
        config.head_hidden,
        config.param_features,
        config.image_side,
    )
    return HierarchicalVAE(config, encoder, decoder, likelihood)


def build_baseline_vae(config: VAEConfig) -> HierarchicalVAE:
    """The baseline: same encoder and decoder, an ordinary conv output head."""
    encoder, decoder = _trunk(config)
    return HierarchicalVAE(config, encoder, decoder, ConvLikelihood(config.width, config.bottleneck, config.image_side))


BUILDERS = {"collage": build_collage_vae, "conv": build_baseline_vae}


def build_vae(config: VAEConfig) -> HierarchicalVAE:
    """Build the model that ``config.likelihood`` names."""
    return BUILDERS[config.likelihood](config)
