"""The training objective's KL term: free bits per group and NVAE-style KL balancing.

Neither ever enters a reported number: :func:`~collage_core.vae.evaluate.evaluate` scores
the plain ELBO. A *group* is one latent block of the top-down decoder.
"""

from __future__ import annotations

import torch

BALANCE_FLOOR = 0.01  # nats added to every group's KL before balancing (NVAE), so dead groups keep a weight


def balance_coefficients(kl_groups: torch.Tensor, group_sizes: tuple[int, ...]) -> torch.Tensor:
    """NVAE's KL balancing weights, ``(L,)``, mean 1, no gradient.

    A group's weight is proportional to its batch-mean KL per latent unit, so during the
    warm-up a group carrying little information is penalised little and can grow instead
    of collapsing (Vahdat and Kautz 2020, appendix A; ``alpha_l`` = the group's size).

    Args:
        kl_groups: ``(B, L)`` nats per image and group.
        group_sizes: ``L`` latent counts.
    """
    sizes = torch.tensor(group_sizes, dtype=kl_groups.dtype, device=kl_groups.device)
    per_unit = (kl_groups.detach().abs().mean(0) + BALANCE_FLOOR) / sizes
    return per_unit / per_unit.mean()


def kl_penalty(
    kl_groups: torch.Tensor,
    group_sizes: tuple[int, ...],
    weight: float,
    beta: float,
    free_bits: float = 0.0,
    balance: bool = False,
    ease: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(penalty, coefficients)``: the scalar KL term of the loss and the per-group weights used.

    ``penalty = weight * sum_l c_l * max(mean_b KL_bl, free_bits)``, with ``c_l`` from
    :func:`balance_coefficients` while ``balance`` is set and the warm-up is on
    (``weight < beta``), else 1 (NVAE balances during the warm-up only). With ``ease > 0``
    the coefficients move linearly to 1 over the last ``ease`` of the warm-up (in units of
    ``weight / beta``) instead of jumping to 1 at its end.

    Args:
        kl_groups: ``(B, L)`` nats per image and group.
        weight: the KL weight now (``beta`` ramped by the warm-up).
        free_bits: nats per group, batch mean, below which the KL is not penalised.
        ease: fraction of the warm-up, in [0, 1], over which balancing fades out.
    """
    kl = kl_groups.mean(0)
    if free_bits > 0:
        kl = kl.clamp(min=free_bits)
    if not (balance and weight < beta):
        return weight * kl.sum(), torch.ones_like(kl)
    coeffs = balance_coefficients(kl_groups, group_sizes)
    if ease > 0:
        keep = min(1.0, (1.0 - weight / beta) / ease)  # 1 until the fade starts, 0 at its end
        coeffs = 1.0 + keep * (coeffs - 1.0)
    return weight * (coeffs * kl).sum(), coeffs
