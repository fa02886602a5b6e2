"""Typed, frozen configuration of the Collage VAE and its training run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

LIKELIHOODS = ("collage", "conv")


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of a hierarchical (VDVAE-style) VAE on 28x28 binary images."""

    likelihood: str = "collage"  # "collage": p(x|w) decodes an attractor; "conv": baseline conv head
    image_side: int = 28  # MNIST; the collage grid must divide it
    width: int = 32  # residual stream channels: small enough to train in an hour on one CPU thread
    bottleneck: int = 16  # inner channels of every residual block
    # Encoder: residual blocks at each resolution, fine to coarse. The stem is a 3x3 conv at
    # 28; no blocks there, since they cost a third of a training step for little gain on MNIST.
    enc_blocks: tuple[tuple[int, int], ...] = ((14, 2), (7, 2), (4, 2), (1, 2))
    # Decoder: number of latent blocks at each resolution, coarse to fine.
    dec_blocks: tuple[tuple[int, int], ...] = ((1, 2), (4, 2), (7, 2), (14, 2))
    z_dim: int = 4  # latent channels per position in every latent block
    # Collage likelihood (DESIGN.md section 7): 4x4 grid of 7x7 cells, whole-image domain.
    grid: int = 4
    symmetries: str = "d4"  # 8 dihedral copies of the pooled image per cell
    collage_channels: int = 6  # attractor channels; decode cost at 40x grows linearly with it
    s_max: float = 0.75  # contraction bound on each cell's L1 self weight; smaller = faster 40x base
    head_hidden: int = 16  # per-pixel (1x1 conv) head: channels -> hidden -> Bernoulli logit
    param_features: int = 16  # 7x7 feature channels flattened into the collage-parameter layer

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.image_side % self.grid:
            raise ValueError(f"grid {self.grid} does not divide image side {self.image_side}")
        if not 0.0 < self.s_max < 1.0:
            raise ValueError(f"s_max must lie in (0, 1), got {self.s_max}")
        for name in ("width", "bottleneck", "z_dim", "collage_channels", "head_hidden", "param_features"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> VAEConfig:
        raw = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown VAE config fields: {sorted(unknown)}")
        for key in ("enc_blocks", "dec_blocks"):
            if key in raw:
                raw[key] = tuple(tuple(pair) for pair in raw[key])
        return cls(**raw)


@dataclass(frozen=True)
class TrainConfig:
    """One training run (negative ELBO with a KL weight ``beta``)."""

    beta: float = 1.0
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    lr_warmup_steps: int = 200  # Adam on a fresh hierarchical VAE diverges without it
    kl_warmup_epochs: float = 2.0  # DESIGN.md 7: at beta=1 from the start, 7x7 groups collapse
    free_bits: float = 0.5  # nats per latent block (batch mean) below which KL is not penalised
    free_bits_epochs: float = 1e9  # free bits apply this long; the reported ELBO never uses them
    grad_clip: float = 200.0
    seed: int = 0
    time_limit_s: float | None = None  # stop after the epoch that would overrun this wall clock
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.beta <= 0:
            raise ValueError(f"beta must be positive, got {self.beta}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)
