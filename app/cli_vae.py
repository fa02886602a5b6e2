"""The VAE's subcommands: `sample`, `train-vae`, `eval-vae` and `export-vae` (argparse lives
here, never in collage_core).

The main CLI calls :func:`add_vae_commands`; ``python -m app.cli_vae`` runs them alone.
"""

from __future__ import annotations

import argparse
import json
import sys


def _given(args: argparse.Namespace, names: dict[str, str]) -> dict:
    """Options given on the command line, keyed by config field (unset ones keep the defaults)."""
    return {field: getattr(args, dest) for dest, field in names.items() if getattr(args, dest) is not None}


# argparse dest -> config field; every default lives in the config dataclasses.
_MODEL_OPTIONS = {
    "head": "head",
    "layout": "layout",
    "supersample": "supersample",
    "param_features": "param_features",
    "param_side": "param_side",
    "param_hidden": "param_hidden",
    "param_block": "param_block",
    "collage_channels": "collage_channels",
}
_TRAIN_OPTIONS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "lr_warmup_steps": "lr_warmup_steps",
    "decay_epochs": "decay_epochs",
    "anneal_epochs": "anneal_epochs",
    "free_bits": "free_bits",
    "kl_warmup": "kl_warmup_epochs",
    "kl_balance": "kl_balance",
    "kl_balance_ease": "kl_balance_ease",
    "ema": "ema_decay",
    "grad_clip": "grad_clip",
    "skip_grad_norm": "skip_grad_norm",
}


def train_configs(args: argparse.Namespace):
    """``(VAEConfig or None when resuming/warm-starting, TrainConfig)`` from parsed arguments:
    the recipe's overrides of the defaults, then the options given explicitly."""
    from collage_core import vae

    model_over, train_over = vae.RECIPES[args.recipe]
    model_config = None
    if args.resume is None and args.init_from is None:
        likelihood = {"collage": "collage", "baseline": "conv"}[args.model]
        model_config = vae.VAEConfig(likelihood=likelihood, **{**model_over, **_given(args, _MODEL_OPTIONS)})
    train_config = vae.TrainConfig(
        beta=args.beta,
        seed=args.seed,
        time_limit_s=args.time_limit,
        **{**train_over, **_given(args, _TRAIN_OPTIONS)},
    )
    return model_config, train_config


def _train(args: argparse.Namespace) -> int:
    import torch

    from collage_core import vae

    if args.threads:
        torch.set_num_threads(args.threads)
    model_config, train_config = train_configs(args)
    out = args.out or f"runs/{args.model}_beta{args.beta:g}.safetensors"
    result = vae.train(
        model_config,
        train_config,
        out,
        data_dir=args.data_dir,
        resume=args.resume,
        init_from=args.init_from,
        progress=not args.no_progress,
    )
    if result["epochs"]:
        print(json.dumps(result["epochs"][-1]))
    print(f"checkpoint: {out}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import torch

    from collage_core import vae

    if args.threads:
        torch.set_num_threads(args.threads)
    model, _, _ = vae.load_checkpoint(args.checkpoint)
    images = vae.load_mnist(args.split, args.data_dir, download=False)
    result = vae.evaluate(model, images, seed=args.seed)
    result.update(checkpoint=args.checkpoint, split=args.split, likelihood=model.config.likelihood)
    print(
        f"{args.split}: -ELBO {result['neg_elbo']:.2f} nats = distortion {result['distortion']:.2f} "
        f"+ rate {result['rate']:.2f}  ({result['n']} images)"
    )
    if args.json:
        print(json.dumps(result))
    return 0


# The CLI's own caps, so a typo cannot ask for gigabytes: 256 digits, 100 MP in one sheet.
MAX_SAMPLES = 256
MAX_SHEET_PIXELS = 100_000_000


def _sample(args: argparse.Namespace) -> int:
    """Digits from the shipped Collage VAE (or the baseline, or a checkpoint) as one PNG sheet."""
    import torch

    from collage_core import vae

    from . import callbacks
    from .cli import _check_output, _image_suffixes

    out = _check_output(args.output, _image_suffixes())
    if args.magnify > vae.MAX_MAGNIFY:
        raise ValueError(f"--magnify must be at most {vae.MAX_MAGNIFY}, got {args.magnify}")
    if args.n > MAX_SAMPLES:
        raise ValueError(f"--n must be at most {MAX_SAMPLES}, got {args.n}")
    if args.digit is not None and args.digit > args.n:
        raise ValueError(f"--digit {args.digit} is not among the {args.n} samples: pick one from 1 to {args.n}")
    shown = 1 if args.digit else args.n
    side = 28 * args.magnify
    if shown * side * side > MAX_SHEET_PIXELS:
        raise ValueError(f"{shown} digits at {side}x{side} exceed 100 MP; lower --n or --magnify")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.checkpoint or args.model != "collage":
        model = vae.load_pretrained(args.model, checkpoint=args.checkpoint)
    else:  # the studio's cached copy
        model = callbacks.load_vae()
    with torch.no_grad():
        only = args.digit - 1 if args.digit else None
        batch = model.sample(n=args.n, magnify=args.magnify, temperature=args.temperature, seed=args.seed, only=only)
    tiles = [callbacks.gray_image(t, ink=args.ink) for t in batch]
    cols = min(args.cols, len(tiles)) if args.cols else None
    sheet = callbacks.contact_sheet(tiles, cols=cols)
    sheet.save(out)
    which = f"digit {args.digit} of {args.n}" if args.digit else f"{args.n} digits"
    grid = "" if args.digit else f", grid {sheet.width // side}x{sheet.height // side}"
    print(f"wrote {out} ({which} at {side}x{side}{grid}, temperature {args.temperature:g})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from collage_core import vae

    summary = vae.export_weights(args.checkpoint, args.out, half=args.half)
    print(f"wrote {args.out} (epoch {summary['epoch']})")
    return 0


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def add_vae_commands(subparsers) -> None:
    """Register ``train-vae`` and ``eval-vae`` on an argparse subparsers object."""
    t = subparsers.add_parser("train-vae", help="train the Collage VAE or its conv baseline on MNIST")
    t.add_argument("--model", choices=["collage", "baseline"], default="collage")
    t.add_argument("--beta", type=_positive_float, default=1.0, help="KL weight (default 1)")
    t.add_argument("--epochs", type=int, default=None, help="default 20")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="checkpoint path (.safetensors), written every epoch")
    t.add_argument("--resume", default=None, help="continue from this checkpoint (same options as its run)")
    t.add_argument("--init-from", default=None, help="warm start from this checkpoint's weights (fresh optimizer)")
    t.add_argument(
        "--recipe",
        choices=["default", "v1", "v2"],  # vae.RECIPES; the CLI imports torch only when a command runs
        default="default",
        help="v1: how the first shipped weights were trained (hard grid, MLP head, 2-epoch warm-up, 0.5 free bits); "
        "v2: the second (the parameter layer reads the features pooled to 7x7)",
    )
    t.add_argument("--head", choices=["linear", "mlp"], default=None, help="Collage per-pixel head (default linear)")
    t.add_argument("--layout", choices=["grid", "blend"], default=None, help="Collage cell layout (default blend)")
    t.add_argument(
        "--supersample", type=int, default=None, help="Collage: k x k sub-pixels per pixel probability (default 2)"
    )
    t.add_argument(
        "--param-features",
        type=int,
        default=None,
        help="Collage: feature channels the parameter layer reads (default 8)",
    )
    t.add_argument(
        "--param-side",
        type=int,
        choices=(7, 14),
        default=None,
        help="Collage: read the decoder's 14x14 features whole (default) or pooled to 7x7",
    )
    t.add_argument(
        "--param-hidden",
        type=int,
        default=None,
        help="Collage: hidden units of the parameter network (default 0: one linear layer)",
    )
    t.add_argument(
        "--param-block",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Collage: a residual block on the decoder's features before the parameter layer (default off)",
    )
    t.add_argument(
        "--collage-channels",
        type=int,
        default=None,
        help="Collage: attractor channels (default 6; sampling at 40x slows with more: docs/vae.md)",
    )
    t.add_argument("--lr-warmup-steps", type=int, default=None, help="default 200")
    t.add_argument(
        "--decay-epochs",
        type=_positive_float,
        default=None,
        help="cosine learning-rate decay over this many epochs, then hold at 10%% (default: all epochs)",
    )
    t.add_argument(
        "--anneal-epochs",
        type=float,
        default=None,
        help="over the run's last N epochs, after the hold, anneal the rate from 10%% to 1%% (default 0)",
    )
    t.add_argument("--data-dir", default=None, help="MNIST cache folder (default ~/.cache/neural-collage)")
    t.add_argument(
        "--time-limit",
        type=_positive_float,
        default=None,
        help="wall-clock budget in seconds: no epoch starts that would overrun it",
    )
    t.add_argument("--batch-size", type=int, default=None, help="default 64")
    t.add_argument("--lr", type=_positive_float, default=None, help="default 2e-3")
    t.add_argument("--free-bits", type=float, default=None, help="nats per latent group (default 1)")
    t.add_argument("--kl-warmup", type=float, default=None, help="epochs of linear KL warm-up (default 5)")
    t.add_argument(
        "--kl-balance",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="NVAE KL balancing during the warm-up (default on)",
    )
    t.add_argument(
        "--kl-balance-ease",
        type=float,
        default=None,
        help="fraction of the KL warm-up over which balancing fades out (default 0: it stops at once)",
    )
    t.add_argument("--ema", type=float, default=None, help="EMA decay of the weights, e.g. 0.999 (default 0: off)")
    t.add_argument("--grad-clip", type=_positive_float, default=None, help="default 200")
    t.add_argument(
        "--skip-grad-norm", type=_positive_float, default=None, help="skip updates above this gradient norm (1e4)"
    )
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)

    e = subparsers.add_parser("eval-vae", help="test-set negative ELBO, rate and distortion in nats")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data-dir", default=None)
    e.add_argument("--split", choices=["test", "valid"], default="test")
    e.add_argument("--seed", type=int, default=0, help="seed of the test-set binarisation")
    e.add_argument("--threads", type=int, default=None)
    e.add_argument("--json", action="store_true", help="also print the result as JSON")
    e.set_defaults(func=_eval)

    from .cli import _positive

    s = subparsers.add_parser("sample", help="sample MNIST digits from the Collage VAE at any magnification")
    s.add_argument("-o", "--output", "--out", dest="output", required=True, metavar="OUT.png")
    s.add_argument("--n", type=_positive(int), default=16, help=f"how many digits, up to {MAX_SAMPLES} (default 16)")
    s.add_argument("--magnify", type=_positive(int), default=4, help="magnification, 1..64 (default 4)")
    s.add_argument("--digit", type=_positive(int), default=None, metavar="K", help="only digit K (1-based) of the --n")
    s.add_argument("--temperature", type=_positive(float), default=1.0, help="prior temperature (default 1)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--model",
        choices=["collage", "baseline"],
        default="collage",
        help="shipped weights (default collage; the baseline's magnification is bicubic upscaling)",
    )
    s.add_argument("--checkpoint", default=None, help="a trained checkpoint instead of the shipped weights")
    s.add_argument("--cols", type=_positive(int), default=None, help="digits per row (default: a square sheet)")
    s.add_argument("--ink", choices=["light", "dark"], default="light", help="light on black (default, as MNIST)")
    s.add_argument("--threads", type=_positive(int), default=None, help="torch CPU threads")
    s.set_defaults(func=_sample)

    x = subparsers.add_parser("export-vae", help="strip a training checkpoint to shippable weights")
    x.add_argument("--checkpoint", required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--half", action="store_true", help="store float16 (loads back as float32)")
    x.set_defaults(func=_export)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="collage-vae")
    add_vae_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
