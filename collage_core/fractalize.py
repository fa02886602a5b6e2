"""fractalize: an image in, a FractalCode out."""

from __future__ import annotations

import math
import threading

import torch

from .code import FractalCode
from .config import FractalizeConfig
from .copies import share_channels
from .decode import is_exact_side
from .device import pick_device
from .fit import ProgressFn, fit_closed_form, refine
from .image_io import ImageLike, open_image, to_tensor
from .layout import BlendedLayout, Layout, as_layout
from .loop_cell import loop_cell
from .quadtree import QuadtreeLayout
from .quadtree_fit import fit_quadtree
from .resample import area_resize

# Fitting above this side costs more than it shows at 1x; renders magnify anyway.
DEFAULT_MAX_WORK_SIDE = 1024
# Blended cells up to 64 px are the same operator at every side (a half-cell band), so
# fitting them with 8 px cells (at least 256 px) loses <= 0.07 dB at 1x on held-out
# photos and takes 0.4x the time of a 512 px fit.
BLEND_CELL_PX, BLEND_MIN_WORK_SIDE = 8, 256
AUX_SIDE = 128


def choose_work_side(size: tuple[int, int], grid: int | Layout, max_side: int = DEFAULT_MAX_WORK_SIDE) -> int:
    """The exactly decodable side (a multiple of the layout's step unit) nearest in log scale to the image's longer side."""
    layout = as_layout(grid)
    unit = layout.unit
    target = min(max(size), max_side)
    candidates = [s for s in range(unit, max(max_side, unit) + 1, unit) if is_exact_side(s, layout)]
    return min(candidates, key=lambda s: (abs(math.log(s / target)), -s))


def fractalize(
    image: ImageLike,
    grid: int | None = None,
    symmetries: str | None = None,
    strength: float | None = None,
    refine_steps: int | None = None,
    device: str | torch.device | None = None,
    style: ImageLike | list[ImageLike] | None = None,
    config: FractalizeConfig | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    **overrides,
) -> FractalCode:
    """Fit a collage whose attractor reproduces ``image``.

    Args:
        image: a PIL image, a numpy array, a path or encoded bytes.
        grid: cells a side (default 32); symmetries: ``"none"``, ``"rot"`` or ``"d4"``.
        strength: floor on each cell's self-similarity (``0..s_max``); higher values
            trade fidelity for visible fractal detail.
        refine_steps: L-BFGS evaluations of the attractor error after the closed-form fit.
        blend, band, window, frame (in ``overrides`` or ``config``): blended cells,
            seamless at 1x and at any depth with one whole sharp copy per cell, are the
            default for even grids of at least 4; ``blend=False`` gives the hard grid
            (see :class:`FractalizeConfig`).
        adaptive, max_cells, min_cell (in ``overrides`` or ``config``): quadtree cells
            grown from the ``grid`` (a power of two) where the photo has detail, up to
            ``max_cells`` leaves (:mod:`~collage_core.quadtree_fit`), blended like the
            grid unless ``blend=False`` (:mod:`~collage_core.quadtree_blend`).
        style: one or more "style source" images whose copies also build the image.
        config: a :class:`FractalizeConfig` (e.g. a preset). Every argument given
            explicitly (not ``None``), and ``overrides`` (``copies``, ``s_max``,
            ``work_side``, ``plant_loop``), takes precedence; the rest come from it.
        progress: ``progress(step, total, loss)`` during refinement.
        cancel: a ``threading.Event``; setting it stops refinement (raises ``Cancelled``).
    Returns:
        the :class:`FractalCode`, its tensors on the CPU.
    """
    base = config or FractalizeConfig()
    given = {"grid": grid, "symmetries": symmetries, "strength": strength, "refine_steps": refine_steps}
    cfg = base.override(**{k: v for k, v in given.items() if v is not None}, **overrides)
    img = open_image(image)
    dev = pick_device(device)
    blend = cfg.quadtree_blend() if cfg.adaptive else None
    layout = (
        QuadtreeLayout(cfg.grid, (0,) * cfg.grid**2, blend is not None, **(blend or {}))
        if cfg.adaptive
        else cfg.layout()
    )
    max_side = DEFAULT_MAX_WORK_SIDE
    if isinstance(layout, BlendedLayout):
        max_side = min(max_side, max(BLEND_MIN_WORK_SIDE, BLEND_CELL_PX * cfg.grid))
    side = cfg.work_side or choose_work_side(img.size, layout, max_side)
    unit = layout.unit
    if cfg.adaptive and side & (side - 1):
        raise ValueError(f"work_side {side} must be a power of two for adaptive cells")
    if side % unit:
        raise ValueError(f"work_side {side} must be a multiple of {unit} for {layout.kind} cells of grid {cfg.grid}")
    x = area_resize(to_tensor(img)[None].to(dev), (side, side))
    aux = _style_tensor(style, img.mode, dev)
    loop_at = None
    if cfg.adaptive:
        layout, a, b = fit_quadtree(
            x, cfg.grid, cfg.cells_budget, cfg.symmetries, cfg.s_max, cfg.strength, aux, cfg.copies, cfg.min_cell, blend
        )
    elif cfg.plant_loop:
        a0, b0 = fit_closed_form(x, layout, cfg.symmetries, cfg.s_max, cfg.strength, aux, copies=cfg.copies)
        loop_at = loop_cell(a0[0], cfg.grid)
    if not cfg.adaptive:
        a, b = fit_closed_form(
            x, layout, cfg.symmetries, cfg.s_max, cfg.strength, aux, plant_loop=loop_at, copies=cfg.copies
        )
    if cfg.refine_steps:
        a, b = refine(
            x,
            a,
            b,
            layout,
            cfg.symmetries,
            cfg.refine_steps,
            cfg.s_max,
            cfg.strength,
            aux,
            progress=progress,
            cancel=cancel,
            frozen_cell=loop_at,
            keep_copies=cfg.copies is not None,
        )
    if cfg.shared_weights:
        a, b = share_channels(a, b, _domain_means(x, aux, a.shape[-1]))
    meta = {"copies": "soft" if cfg.copies is None else cfg.copies}
    if loop_at is not None:
        meta["loop_cell"] = loop_at
    return FractalCode(
        a=a[0].detach().cpu(),
        b=b[0].detach().cpu(),
        grid=cfg.grid,
        symmetries=cfg.symmetries,
        source_size=img.size,
        mode=img.mode,
        work_side=side,
        s_max=cfg.s_max,
        aux=None if aux is None else aux[0].cpu(),
        meta=meta,
        layout=layout,
    )


def _domain_means(x: torch.Tensor, aux: torch.Tensor | None, n_domains: int) -> torch.Tensor:
    """``(B, C, N)``: each domain's mean per channel: the image's for its own copies, then
    each style image's for its copies (domain order of :func:`~collage_core.operator.domain_count`)."""
    sources = [x.mean(dim=(-2, -1))]
    if aux is not None:
        sources += list(aux.mean(dim=(-2, -1)).unbind(2))  # aux: (B, C, T, h, w)
    per = n_domains // len(sources)
    return torch.cat([m[..., None].expand(*m.shape, per) for m in sources], dim=-1)


def _style_tensor(style, mode: str, dev: torch.device) -> torch.Tensor | None:
    if style is None:
        return None
    styles = style if isinstance(style, list | tuple) else [style]
    if not styles:
        return None
    maps = [area_resize(to_tensor(open_image(s).convert(mode)), (AUX_SIDE, AUX_SIDE)) for s in styles]
    # Stored as uint8 in the file; fit on exactly what will be rendered.
    aux = (torch.stack(maps, dim=1) * 255).round() / 255
    return aux[None].to(dev)
