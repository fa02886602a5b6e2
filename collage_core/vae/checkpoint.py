"""Checkpoints as safetensors: tensors plus the config (JSON) in the metadata; no pickle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..atomic import atomic_path
from .config import VAEConfig
from .model import HierarchicalVAE, build_vae

FORMAT = "neural-collage-vae/1"
_OPT = "optimizer."
_EMA = "ema."  # the weights' moving average, when training keeps one (TrainConfig.ema_decay)


def save_checkpoint(
    path: str | os.PathLike,
    model: HierarchicalVAE,
    optimizer: torch.optim.Optimizer | None = None,
    train_state: dict | None = None,
    half: bool = False,
    ema: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write ``model`` (and optionally the Adam state and the weights' EMA, for resuming) atomically.

    ``half=True`` stores weights as float16 (shipping); they load back as float32.
    """
    tensors = {
        k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu() for k, v in model.state_dict().items()
    }
    for k, v in (ema or {}).items():
        tensors[_EMA + k] = v.detach().contiguous().cpu()
    meta = {"format": FORMAT, "config": model.config.to_json(), "train_state": json.dumps(train_state or {})}
    if optimizer is not None:
        state = optimizer.state_dict()
        for idx, entry in state["state"].items():
            for key, value in entry.items():
                tensors[f"{_OPT}{idx}.{key}"] = torch.as_tensor(value).contiguous().cpu()
        meta["optimizer_groups"] = json.dumps(state["param_groups"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def read_checkpoint(path: str | os.PathLike) -> tuple[VAEConfig, dict[str, torch.Tensor], dict[str, str]]:
    """``(config, tensors, metadata)``; a clear ``ValueError`` for anything unreadable."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise ValueError(f"{path} is not a valid safetensors checkpoint ({err})") from None
    if meta.get("format") != FORMAT or "config" not in meta:
        raise ValueError(f"{path} is not a Collage VAE checkpoint (metadata format={meta.get('format')!r})")
    try:
        config = VAEConfig.from_json(meta["config"])
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: config in the checkpoint is invalid: {err}") from None
    return config, tensors, meta


def load_checkpoint(
    path: str | os.PathLike,
    expect: VAEConfig | None = None,
    device: str | torch.device = "cpu",
    use_ema: bool = True,
) -> tuple[HierarchicalVAE, dict[str, torch.Tensor], dict]:
    """Rebuild the model a checkpoint describes.

    Args:
        expect: if given, the checkpoint's config must equal it (resuming a run).
        use_ema: load the weights' moving average when the checkpoint has one (evaluation,
            sampling, export); ``False`` loads the raw weights (resuming training).
    Returns:
        ``(model in eval mode, optimizer tensors, train_state)``.
    """
    config, tensors, meta = read_checkpoint(path)
    if expect is not None and config != expect:
        raise ValueError(f"{path} was trained with a different config:\n  checkpoint: {config}\n  expected:   {expect}")
    model = build_vae(config)
    weights = {
        k: v.float() if v.is_floating_point() else v
        for k, v in tensors.items()
        if not k.startswith(_OPT) and not k.startswith(_EMA)
    }
    average = ema_tensors(tensors)
    if use_ema and average:
        weights.update({k: v.float() for k, v in average.items()})
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
    bad = [k for k in own if k in weights and own[k].shape != weights[k].shape]
    if missing or unexpected or bad:
        raise ValueError(
            f"{path} does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shape {bad[:5]}"
        )
    model.load_state_dict(weights)
    model.to(device).eval()
    optim = {k[len(_OPT) :]: v for k, v in tensors.items() if k.startswith(_OPT)}
    state = json.loads(meta.get("train_state", "{}"))
    if "optimizer_groups" in meta:
        state["optimizer_groups"] = json.loads(meta["optimizer_groups"])
    return model, optim, state


def ema_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights' moving average stored in a checkpoint's tensors (empty when none)."""
    return {k[len(_EMA) :]: v for k, v in tensors.items() if k.startswith(_EMA)}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list) -> None:
    """Load the Adam state written by :func:`save_checkpoint` into ``optimizer``."""
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def export_weights(src: str | os.PathLike, dst: str | os.PathLike, half: bool = False) -> dict:
    """Copy a training checkpoint's model (no optimizer state) to ``dst`` for shipping.

    The weights' moving average is what ships when the run kept one.
    Returns the training summary kept in the metadata (last epoch, its validation numbers).
    """
    model, _, state = load_checkpoint(src)
    history = state.get("history", [])
    summary = {
        "epoch": state.get("epoch"),
        "last": history[-1] if history else None,
        "train_config": state.get("train_config"),
        "ema": bool(ema_tensors(read_checkpoint(src)[1])),
    }
    save_checkpoint(dst, model, None, summary, half=half)
    return summary
