"""Test-set negative ELBO, rate and distortion in nats per image."""

from __future__ import annotations

import torch

from .data import binarize
from .model import HierarchicalVAE


@torch.no_grad()
def evaluate(
    model: HierarchicalVAE,
    images: torch.Tensor,
    batch_size: int = 500,
    seed: int = 0,
    beta: float = 1.0,
    per_image: bool = False,
) -> dict:
    """Average ELBO terms over ``images`` (grey levels, binarised once with ``seed``).

    One posterior sample per image; free bits and warm-up never enter these numbers.
    Returns ``neg_elbo`` (= distortion + rate), ``rate``, ``distortion``, ``loss``
    (= distortion + beta * rate) and ``kl_layers`` (list, nats per latent block).
    ``per_image=True`` adds ``neg_elbo_images``, a ``(N,)`` float64 tensor in image
    order: two models scored with one ``seed`` see the same binarised digits, so their
    per-image differences give a paired standard error for the gap.
    """
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # posterior noise
    device = next(model.parameters()).device
    tot_d = tot_r = 0.0
    tot_layers = None
    n = 0
    each = []
    for i in range(0, images.shape[0], batch_size):
        x = binarize(images[i : i + batch_size], gen).to(device)
        out = model(x)
        tot_d += out.distortion.sum().item()
        tot_r += out.rate.sum().item()
        if per_image:
            each.append((out.distortion + out.rate).double().cpu())
        layers = out.kl_layers.sum(0)
        tot_layers = layers if tot_layers is None else tot_layers + layers
        n += x.shape[0]
    model.train(was_training)
    d, r = tot_d / n, tot_r / n
    result = {
        "neg_elbo": d + r,
        "rate": r,
        "distortion": d,
        "loss": d + beta * r,
        "kl_layers": [round(v, 3) for v in (tot_layers / n).tolist()],
        "n": n,
    }
    if per_image:
        result["neg_elbo_images"] = torch.cat(each)
    return result
