"""Output heads p(x|w): the Collage likelihood and the baseline's conv head.

Both map decoder features to Bernoulli logits at the training side, and render
probabilities at any magnification: the Collage exactly (its attractor has a value at
every resolution), the baseline by bicubic upscaling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..decode import decode_exact
from ..layout import BlendedLayout
from ..operator import contract, domain_count
from .blended_step import render_attractor, reused_buffers
from .blocks import Block
from .cell_layout import Layout, layout_cells
from .heads import LinearHead


class CollageLikelihood(nn.Module):
    """Features -> collage parameters -> multi-channel attractor -> per-pixel logits.

    The parameter layer (with ``param_hidden``, a one-hidden-layer MLP) reads the decoder
    features (with ``block_bottleneck``, through a residual block first) average-pooled to
    ``feature_side`` (at the map's own side, 14, read whole), flattened, and emits
    ``a: (B, C, K, N)``, contracted by L1 rescaling (DESIGN.md 7), and an unbounded
    ``b: (B, C, K)`` (logits reach +-100).
    ``layout`` is what the engine decodes with (the hard grid's size today, a layout object
    for blended cells: ``cell_layout.py``); ``head`` maps one pixel's attractor channels to
    its logit (``heads.py``). With ``supersample = k`` a pixel's probability is the mean of
    ``sigmoid(logit)`` over its ``k x k`` sub-pixels, so magnified renders average back to
    it closely.
    """

    def __init__(
        self,
        width: int,
        channels: int,
        layout: Layout,
        symmetries: str,
        s_max: float,
        head: nn.Module,
        param_features: int,
        image_side: int,
        feature_side: int = 7,
        supersample: int = 1,
        param_hidden: int = 0,
        block_bottleneck: int = 0,
    ):
        super().__init__()
        self.channels, self.layout, self.symmetries, self.s_max = channels, layout, symmetries, s_max
        self.supersample = supersample
        self.image_side, self.feature_side = image_side, feature_side
        self.n_self, self.n_domains = domain_count(symmetries)
        self.cells = layout_cells(layout)
        # ``block_bottleneck > 0``: a residual block on the features first (VAEConfig.param_block)
        self.block = Block(width, block_bottleneck, width) if block_bottleneck else None
        self.reduce = nn.Conv2d(width, param_features, 1)
        n_in, n_out = param_features * feature_side**2, channels * self.cells * (self.n_domains + 1)
        if param_hidden:
            self.params = nn.Sequential(nn.Linear(n_in, param_hidden), nn.GELU(), nn.Linear(param_hidden, n_out))
        else:  # one layer, named as in the shipped weights
            self.params = nn.Linear(n_in, n_out)
        (self.params[-1] if param_hidden else self.params).weight.data.mul_(0.5)
        self.head = head

    def raw_params(self, h: torch.Tensor) -> torch.Tensor:
        """The parameter layer's output: ``h: (B, width, r, r)`` -> ``(B, C, K, N + 1)``."""
        if self.block is not None:
            h = F.gelu(self.block(h))
        f = F.gelu(self.reduce(F.adaptive_avg_pool2d(h, self.feature_side)))
        return rearrange(self.params(f.flatten(1)), "b (c k m) -> b c k m", c=self.channels, k=self.cells)

    def split_params(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``raw: (B, C, K, N + 1)`` -> ``a: (B, C, K, N)`` (contracted), ``b: (B, C, K)``."""
        a = contract(raw[..., : self.n_domains], self.n_self, self.s_max)
        return a, raw[..., self.n_domains] * 4.0

    def collage_params(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``h: (B, width, r, r)`` -> ``a: (B, C, K, N)``, ``b: (B, C, K)``."""
        return self.split_params(self.raw_params(h))

    def attractor(self, h: torch.Tensor, side: int) -> torch.Tensor:
        """``(B, C, side, side)``: the exact attractor of the collage."""
        a, b = self.collage_params(h)
        return decode_exact(a, b, self.layout, self.symmetries, side)

    def training_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 1, S, S)`` of the training side's Bernoulli probabilities for collage ``a, b``."""
        k = self.supersample
        logits = self.head(decode_exact(a, b, self.layout, self.symmetries, self.image_side * k))
        return logits if k == 1 else pooled_probability_logits(logits, k)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 1, S, S)`` of the training side's Bernoulli probabilities."""
        return self.training_logits(*self.collage_params(h))

    @torch.no_grad()
    def logits(self, h: torch.Tensor, magnify: int, chunk: int = 1) -> torch.Tensor:
        """The head's per-pixel logits ``(B, 1, S*m, S*m)`` at the magnified side, before any
        supersampling (linear head: they area-pool back to the 1x ones exactly)."""
        return self._chunked(h, magnify, chunk, probabilities=False, sub=1)

    @torch.no_grad()
    def render(self, h: torch.Tensor, magnify: int, chunk: int = 1) -> torch.Tensor:
        """Probabilities ``(B, 1, S*m, S*m)``, decoded exactly at the magnified side.

        Below ``m = supersample`` each pixel averages ``ceil(k / m)``-fold sub-pixels, so
        ``m = 1`` gives the training likelihood's probabilities exactly; from ``m >= k`` on a
        pixel is already finer than the likelihood's sub-pixels and is rendered directly.
        """
        return self._chunked(h, magnify, chunk, probabilities=True, sub=-(-self.supersample // magnify))

    def _chunked(self, h: torch.Tensor, magnify: int, chunk: int, probabilities: bool, sub: int) -> torch.Tensor:
        # ``chunk`` samples at a time, decoded at ``sub`` x the side and area-pooled back,
        # with the inference kernel's work buffers reused across chunks.
        side = self.image_side * magnify
        a, b = self.collage_params(h)
        out = torch.empty(h.shape[0], 1, side, side, dtype=h.dtype, device=h.device)
        with reused_buffers():
            for i in range(0, h.shape[0], chunk):
                p = self._decode_head(a[i : i + chunk], b[i : i + chunk], side * sub, probabilities)
                out[i : i + chunk] = p if sub == 1 else F.avg_pool2d(p, sub)
        return out

    def _decode_head(self, a: torch.Tensor, b: torch.Tensor, side: int, probabilities: bool) -> torch.Tensor:
        """Inference: the head's logits (or probabilities) ``(B, 1, side, side)`` of the attractor.

        Blended layouts render through the inference kernel (``blended_step.py``: the same
        attractor as training's path to float round-off, 5x+ faster at 40x), with a linear
        head folded into the last step; hard grids decode as in training.
        """
        if not isinstance(self.layout, BlendedLayout):
            z = decode_exact(a, b, self.layout, self.symmetries, side)
        elif isinstance(self.head, LinearHead):
            packed = torch.cat([self.head.out.weight, self.head.out.bias[:, None]], dim=1)  # (1, C + 1)
            logits = render_attractor(a, b, self.layout, self.symmetries, side, packed)
            return torch.sigmoid_(logits) if probabilities else logits
        else:
            z = render_attractor(a, b, self.layout, self.symmetries, side)
        return self.head.probabilities(z) if probabilities else self.head(z)


def pooled_probability_logits(logits: torch.Tensor, k: int) -> torch.Tensor:
    """``logit(avg_pool(sigmoid(logits), k))``, computed in log space (finite for logits of +-100).

    ``(B, 1, H*k, W*k) -> (B, 1, H, W)``.
    """
    blocks = "b c (h k1) (w k2) -> b c h w (k1 k2)"
    log_p = rearrange(F.logsigmoid(logits), blocks, k1=k, k2=k).logsumexp(-1)
    log_q = rearrange(F.logsigmoid(-logits), blocks, k1=k, k2=k).logsumexp(-1)
    return log_p - log_q  # the log(k*k) of both means cancels


class ConvLikelihood(nn.Module):
    """Baseline: one residual block on the decoder's last map, then a transposed conv to logits.

    ``(B, width, r, r) -> (B, 1, 2r, 2r)``; with the default decoder ``r = 14``.
    """

    def __init__(self, width: int, bottleneck: int, image_side: int):
        super().__init__()
        self.image_side = image_side
        self.block = Block(width, bottleneck, width)
        self.out = nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        logits = self.out(F.gelu(self.block(h)))
        if logits.shape[-1] != self.image_side:
            raise ValueError(f"conv head makes {logits.shape[-1]} pixels, expected {self.image_side}")
        return logits

    @torch.no_grad()
    def logits(self, h: torch.Tensor, magnify: int) -> torch.Tensor:
        """Logits at the training side, bicubically upscaled by ``magnify``."""
        logits = self.forward(h)
        side = self.image_side * magnify
        return logits if magnify == 1 else F.interpolate(logits, size=(side, side), mode="bicubic", align_corners=False)

    @torch.no_grad()
    def render(self, h: torch.Tensor, magnify: int, chunk: int = 2) -> torch.Tensor:
        """Probabilities at the training side, bicubically upscaled by ``magnify``."""
        p = torch.sigmoid(self.forward(h))
        if magnify == 1:
            return p
        side = self.image_side * magnify
        return F.interpolate(p, size=(side, side), mode="bicubic", align_corners=False).clamp(0, 1)
