"""How well can the Collage VAE's likelihood family fit a digit at all? Per-digit oracle fits.

    python benchmarks/vae_oracle.py --n 16 --steps 1000                   # the collage parameters
    python benchmarks/vae_oracle.py --n 16 --steps 1000 --fit features    # the decoder's output

The shipped Collage VAE's distortion stays near 47-60 nats at every beta, where the conv
baseline reaches 10 with enough rate. Is the collage family (4x4 blended cells, 6
attractor channels, d4 copies, linear head, 2x2 supersampling) unable to draw a digit
that well, or is it the decoder network that maps latents to collage parameters? Here the
collage parameters of each of the first ``n`` test digits (binarised once, seed 0) are
fitted directly by Adam on that digit's distortion, through the same decode as training,
starting from what the shipped model's decoder gives for one posterior sample of the digit.
``--fit features`` fits the top-down decoder's output map instead (``(B, 32, 14, 14)``),
read by the shipped parameter layer: can that read-out express good parameters?
Prints the mean distortion (nats per digit) every 100 steps beside the shipped model's
own. About 2 minutes for 16 digits and 1,000 steps on one core. Results: ``docs/vae.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from collage_core import vae  # noqa: E402
from collage_core.vae.data import binarize  # noqa: E402
from collage_core.vae.likelihood import CollageLikelihood  # noqa: E402


def distortion(L: CollageLikelihood, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-digit Bernoulli distortion ``(B,)`` of the collage whose parameter-layer output is ``raw``."""
    logits = L.training_logits(*L.split_params(raw))
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="test digits")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--fit", choices=("params", "features"), default="params", help="what is fitted per digit")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = vae.load_pretrained().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    L = model.likelihood
    x = binarize(vae.load_mnist("test", args.data_dir)[: args.n], torch.Generator().manual_seed(0))
    with torch.no_grad():
        own = model(x).distortion.mean().item()  # one posterior sample, as in evaluation
        h, _ = model.decoder(model.encoder(x))
        raw = L.raw_params(h)
        start = distortion(L, raw, x).mean().item()
        fitted = raw if args.fit == "params" else h
    print(
        f"{args.n} test digits: the shipped model's distortion {own:.2f} nats (one posterior sample), "
        f"{start:.2f} (another: the fit's start)"
    )
    fitted.requires_grad_(True)
    opt = torch.optim.Adam([fitted], lr=args.lr)
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        d = distortion(L, fitted if args.fit == "params" else L.raw_params(fitted), x)
        opt.zero_grad()
        d.sum().backward()
        opt.step()
        if step % 100 == 0 or step == args.steps:
            seconds = time.perf_counter() - t0
            print(f"step {step}: distortion {d.mean().item():.2f} nats, {args.fit} fitted ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
