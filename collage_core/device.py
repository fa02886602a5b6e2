"""Device selection: CUDA when present, then MPS, then CPU."""

from __future__ import annotations

import torch


def pick_device(preference: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    Args:
        preference: ``None`` or ``"auto"`` picks CUDA, then MPS, then CPU; any other
            value (``"cpu"``, ``"cuda:1"``, a ``torch.device``) is used as given.
    """
    if isinstance(preference, torch.device):
        return preference
    if preference not in (None, "", "auto"):
        dev = torch.device(preference)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {preference!r} requested but CUDA is not available")
        if dev.type == "mps" and not _mps_available():
            raise ValueError(f"device {preference!r} requested but MPS is not available")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
