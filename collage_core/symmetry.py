"""The symmetry groups a domain is copied under: none, the 4 rotations, or D4.

An element is ``(k, flip)``: flip the columns first (when ``flip``), then rotate by
``k`` quarter turns counter-clockwise, as ``torch.rot90(x, k, dims=(-2, -1))`` does.
"""

from __future__ import annotations

import torch

Element = tuple[int, bool]

SYMMETRIES: dict[str, tuple[Element, ...]] = {
    "none": ((0, False),),
    "rot": ((0, False), (1, False), (2, False), (3, False)),
    "d4": tuple((k, f) for f in (False, True) for k in range(4)),
}


def symmetry_elements(name: str) -> tuple[Element, ...]:
    """The group elements of a named symmetry set; raises ``ValueError`` on an unknown name."""
    try:
        return SYMMETRIES[name]
    except KeyError:
        raise ValueError(f"unknown symmetries {name!r}; choose one of {sorted(SYMMETRIES)}") from None


def apply_symmetries(x: torch.Tensor, name: str) -> torch.Tensor:
    """Stack every symmetric copy of ``x`` on a new axis.

    Args:
        x: ``(..., h, w)``; rotations need ``h == w``.
    Returns:
        ``(..., n, h, w)`` with ``n = len(symmetry_elements(name))``.
    """
    elements = symmetry_elements(name)
    if any(k % 2 for k, _ in elements) and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"symmetries {name!r} rotate by 90 degrees and need square cells, got {tuple(x.shape[-2:])}")
    copies = []
    for k, flip in elements:
        y = x.flip(-1) if flip else x
        copies.append(torch.rot90(y, k, dims=(-2, -1)) if k else y)
    return torch.stack(copies, dim=-3)
