"""The hierarchical VAE, composed from an encoder, a top-down decoder and a likelihood."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .cell_layout import make_layout
from .config import VAEConfig
from .decoder import TopDownDecoder
from .encoder import Encoder
from .heads import build_head
from .likelihood import CollageLikelihood, ConvLikelihood

MAX_MAGNIFY = 64


@dataclass
class VAEOutput:
    """Per-image terms in nats: ``distortion`` and ``rate`` are ``(B,)``; ``kl_layers`` is ``(B, L)``,
    one column per latent group, holding ``group_sizes[l]`` latents each."""

    distortion: torch.Tensor
    rate: torch.Tensor
    kl_layers: torch.Tensor
    logits: torch.Tensor
    group_sizes: tuple[int, ...] = ()


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
        sizes = tuple(kl[0].numel() for kl in kls)
        return VAEOutput(distortion, kl_layers.sum(1), kl_layers, logits, sizes)

    def _features(self, n, temperature, seed, generator) -> torch.Tensor:
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
        return self.decoder.sample(n, float(temperature), generator)

    @torch.no_grad()
    def sample(
        self,
        n: int = 16,
        magnify: int = 1,
        temperature: float = 1.0,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        only: int | None = None,
    ) -> torch.Tensor:
        """Draw digits from the prior and render them at ``magnify`` times 28 pixels.

        The latents come from ``generator`` (or a fresh one seeded with ``seed``) and their
        shapes depend on ``n`` only, so a seed gives the same digits at every magnification.
        Returns Bernoulli means (pixel probabilities), not binary draws. ``only = i``
        (0-based, below ``n``) renders digit ``i`` of the ``n`` alone: one digit's memory
        at a high magnification, and the same digit as in the whole batch.

        For the Collage likelihood on the hard grid the attractor is pool-consistent:
        ``avg_pool(A(28m), m)`` equals ``A(28)`` to float32 round-off, and with the linear
        head so are the logits (:meth:`sample_logits`). Blended cells (the shipped model)
        are one operator at every scale whose windows vary inside a pixel, so pooling holds
        on average: the shipped model's 40x probabilities pool back to its 1x ones within
        0.002 mean and 0.024 p99 (exactly at ``magnify == supersample``). The baseline's
        magnified sample is a bicubic upscaling.

        Returns:
            ``(n, 1, 28*magnify, 28*magnify)`` float in [0, 1] (``(1, ...)`` with ``only``).
        """
        _check_magnify(magnify)
        features = self._features(n, temperature, seed, generator)
        if only is not None:
            if isinstance(only, bool) or not isinstance(only, int) or not 0 <= only < n:
                raise ValueError(f"only must be an integer in 0..{n - 1}, got {only!r}")
            features = features[only : only + 1]
        return self.likelihood.render(features, magnify)

    @torch.no_grad()
    def sample_logits(
        self,
        n: int = 16,
        magnify: int = 1,
        temperature: float = 1.0,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The head's per-pixel logits of :meth:`sample`'s digits: ``(n, 1, 28*magnify, 28*magnify)``.

        For a supersampled Collage likelihood (``config.supersample > 1``) these are the
        sub-pixel logits at that side, before averaging probabilities.
        """
        _check_magnify(magnify)
        return self.likelihood.logits(self._features(n, temperature, seed, generator), magnify)


def _check_magnify(magnify) -> None:
    if isinstance(magnify, bool) or not isinstance(magnify, int) or not 1 <= magnify <= MAX_MAGNIFY:
        raise ValueError(f"magnify must be an integer in 1..{MAX_MAGNIFY}, got {magnify!r}")


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
        make_layout(config.layout, config.grid),
        config.symmetries,
        config.s_max,
        build_head(config.head, config.collage_channels, config.head_hidden),
        config.param_features,
        config.image_side,
        feature_side=config.param_side,
        supersample=config.supersample,
        param_hidden=config.param_hidden,
        block_bottleneck=config.bottleneck if config.param_block else 0,
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
