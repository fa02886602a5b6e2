"""Typed, frozen configuration of the Collage VAE and its training run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

LIKELIHOODS = ("collage", "conv")
HEADS = ("linear", "mlp")
LAYOUTS = ("grid", "blend")
# Fields added after weights shipped, with the value every older checkpoint was built with:
# a config JSON without them is read as the model it describes, not as today's default.
LEGACY_FIELDS = {"head": "mlp", "layout": "grid", "supersample": 1, "param_side": 7}


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
    # Cell layout of the collage: "blend" (DESIGN.md 8, overlapping cells: no seams at 40x)
    # or "grid" (hard cells, the first shipped model, v1; seams at every level).
    layout: str = "blend"
    symmetries: str = "d4"  # 8 dihedral copies of the pooled image per cell
    collage_channels: int = 6  # attractor channels; decode cost at 40x grows linearly with it
    s_max: float = 0.75  # contraction bound on each cell's L1 self weight; smaller = faster 40x base
    # Per-pixel head from attractor channels to the Bernoulli logit. "linear" commutes with
    # area pooling, so pool(logits at m x) == logits at 1x exactly on the hard grid; "mlp"
    # (the first shipped weights, v1) is non-linear and changes the digit with magnification.
    head: str = "linear"
    head_hidden: int = 16  # hidden units of the "mlp" head (unused by "linear")
    # Each pixel's Bernoulli probability is the mean of sigmoid(logit) over k x k sub-pixels
    # of the attractor (decoded at 28k in training). Pooling a 40x sample then matches the
    # 1x one up to the sigmoid's curvature inside a 1/k pixel only: on the v1 attractor
    # k=1 leaves a p99 gap of 0.25 in probability, k=2 0.11, k=4 0.016 (docs/vae/PLAN.md);
    # the shipped model (linear head, blended cells, k=2): 0.024. k=4 costs 2.6x per blended
    # training step.
    supersample: int = 2
    # The parameter layer reads the decoder's 14x14 map whole, ``param_features`` channels
    # at each position. Pooled to 7x7 (16 channels: "v2", the sweep's models) the Collage
    # scores 0.5 nats worse (gap to the baseline 1.50 against 0.92): the 14x14 latents'
    # detail is averaged away before it can reach the collage (docs/vae.md).
    param_features: int = 8
    param_side: int = 14
    # Hidden units of the collage-parameter network (0: one linear layer, the shipped model).
    # Tried at 512 (docs/vae.md): no better, so the read-out's capacity is not the gap.
    param_hidden: int = 0
    # One residual block on the decoder's 14x14 map before the parameter read-out, as the
    # baseline's conv head has before its output layer (False: the shipped model). The
    # oracle (benchmarks/vae_oracle.py) puts the Collage's gap in the features the decoder
    # learns to emit; this gives that map the same last stage of processing as the baseline's.
    param_block: bool = False

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.image_side % self.grid:
            raise ValueError(f"grid {self.grid} does not divide image side {self.image_side}")
        if self.param_side not in (7, 14):
            raise ValueError(f"param_side must be 7 or 14, got {self.param_side}")
        if self.param_hidden < 0:
            raise ValueError(f"param_hidden must be >= 0, got {self.param_hidden}")
        if not 0.0 < self.s_max < 1.0:
            raise ValueError(f"s_max must lie in (0, 1), got {self.s_max}")
        for name in (
            "width",
            "bottleneck",
            "z_dim",
            "collage_channels",
            "head_hidden",
            "param_features",
            "supersample",
        ):
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
        return cls(**{**LEGACY_FIELDS, **raw})


@dataclass(frozen=True)
class TrainConfig:
    """One training run (negative ELBO with a KL weight ``beta``).

    The KL options fight posterior collapse (DESIGN.md 7: the v1 Collage VAE's two
    14x14 groups carry 0.6 nats each). A *group* is one latent block of the top-down
    decoder (``z_dim`` channels at one resolution); free bits and balancing act on each
    group's KL summed over its latents, never per latent dimension.
    """

    beta: float = 1.0
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    lr_warmup_steps: int = 200  # Adam on a fresh hierarchical VAE diverges without it
    # The cosine decay spans this many epochs (None: all of them), then the rate holds at its
    # 10% floor. A run of E epochs continued to E + k with decay_epochs=E follows exactly the
    # schedule of a fresh (E + k)-epoch run with decay_epochs=E: a finished run can be
    # lengthened without changing what its first E epochs were.
    decay_epochs: float | None = None
    # A final anneal: over the run's last ``anneal_epochs`` epochs (after the hold) the rate
    # falls on a second cosine from the 10% floor to 1% of ``lr``. 0 (the default) keeps the
    # floor to the end. Like the weight average it is a tail option: a finished run can be
    # lengthened with one without changing what its earlier epochs were.
    anneal_epochs: float = 0.0
    # Linear KL ramp from 0 to beta. 2 epochs (the v1 runs) still lost both 14x14
    # groups; a longer ramp lets the fine groups start carrying information first.
    kl_warmup_epochs: float = 5.0
    # Nats per group (batch mean) below which its KL is not penalised. The v1 runs used
    # 0.5, and the collapsed groups sat just above it at 0.6: a group must be free to carry
    # more than "collapsed" before the distortion gradient finds it worth using.
    free_bits: float = 1.0
    free_bits_epochs: float = 1e9  # free bits apply this long; the reported ELBO never uses them
    # NVAE-style balancing during the KL warm-up: each group's KL weighted by its KL per
    # latent unit (normalised to mean 1), so groups carrying little are penalised little.
    kl_balance: bool = True
    # Fraction of the warm-up over which the balancing coefficients fade to 1 (0: they jump
    # to 1 when it ends, as NVAE's do). With the jump, both models' validation rate halves
    # from epoch 5 to 6 (Collage 59 -> 31 nats, baseline 92 -> 42): the 14x14 groups, weighted
    # about 0.4 while balanced, are suddenly weighted 1. Easing (0.4) smooths the drop but the
    # baseline lands in the same place by epoch 6 (docs/vae.md), so the default stays 0.
    kl_balance_ease: float = 0.0
    # Exponential moving average of the weights (0 = off); evaluation, export and sampling
    # use the average when present. 0.999 is about a 1000-step (1.3 epoch) window.
    ema_decay: float = 0.0
    grad_clip: float = 200.0
    # VDVAE-style: skip updates whose (pre-clip) gradient norm exceeds this, or is not
    # finite. Logged per epoch with the median and max norm, to set it from data.
    skip_grad_norm: float = 1e4
    seed: int = 0
    time_limit_s: float | None = None  # wall clock (s): no epoch starts that is expected to end past it
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.beta <= 0:
            raise ValueError(f"beta must be positive, got {self.beta}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.decay_epochs is not None and not 0 < self.decay_epochs <= self.epochs:
            raise ValueError(f"decay_epochs must lie in (0, epochs], got {self.decay_epochs}")
        decayed = self.decay_epochs or self.epochs
        if not 0.0 <= self.anneal_epochs <= self.epochs - decayed:
            raise ValueError(
                f"anneal_epochs must lie in [0, epochs - decay_epochs] = [0, {self.epochs - decayed:g}], "
                f"got {self.anneal_epochs}"
            )
        if not 0.0 <= self.kl_balance_ease <= 1.0:
            raise ValueError(f"kl_balance_ease must lie in [0, 1], got {self.kl_balance_ease}")
        if self.kl_warmup_epochs < 0 or self.free_bits < 0:
            raise ValueError("kl_warmup_epochs and free_bits must be >= 0")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if not self.skip_grad_norm > 0 or not self.grad_clip > 0:
            raise ValueError("skip_grad_norm and grad_clip must be positive")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


# Fields a resumed run may change; anything else must match the checkpoint's run. The
# weight average only watches: the raw weights follow the same path with or without it, so
# a finished run's tail may add one (it starts from the weights resumed). The anneal acts
# only on the epochs after the hold, which a lengthened run has not trained yet.
RESUMABLE_CHANGES = ("epochs", "time_limit_s", "extra", "ema_decay", "anneal_epochs")

# Named recipes: a few overrides of the defaults above, for the model and for training.
# "v1" is how the first shipped weights were trained (hard grid, MLP head; docs/vae/PLAN.md);
# "v2" the second (the parameter layer reads the features pooled to 7x7; the sweep's
# models); the shipped weights now are the defaults' (docs/vae.md).
RECIPES: dict[str, tuple[dict, dict]] = {
    "default": ({}, {}),
    "v1": (
        {"head": "mlp", "supersample": 1, "layout": "grid", "param_side": 7, "param_features": 16},
        {"kl_warmup_epochs": 2.0, "free_bits": 0.5, "kl_balance": False},
    ),
    "v2": ({"param_side": 7, "param_features": 16}, {}),
}
