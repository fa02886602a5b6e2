"""Random fractal codes for the operator and decoder tests, seeded and contractive."""

import torch

from collage_core.operator import contract, domain_count


def random_code(B, C, grid, symmetries, n_aux=0, s_max=0.9, strength=0.0, dtype=torch.float32, seed=0):
    """``(a, b)``: weights ``(B, C, grid*grid, domains)`` contracted to ``s_max``, offsets ``(B, C, grid*grid)``."""
    gen = torch.Generator().manual_seed(seed)
    n_self, n_total = domain_count(symmetries, n_aux)
    a = contract(torch.randn(B, C, grid * grid, n_total, generator=gen, dtype=dtype), n_self, s_max, strength)
    b = torch.randn(B, C, grid * grid, generator=gen, dtype=dtype)
    return a, b
