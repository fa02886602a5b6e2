"""Fractalize: settings from a preset and the controls, the fit, the three panels and their readout."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

import collage_core as cc
from collage_core import FractalCode, FractalizeConfig
from collage_core.palette import studio_colour
from collage_core.presets import Preset, load_preset

from .. import inputs, limits
from ..budget import studio_magnify
from .photos import Photo, load_photo, start_image
from .progress import ProgressFn


def resolve_config(preset: str | Preset | None = None, clamp_strength: bool = False, **explicit) -> FractalizeConfig:
    """The preset's config (or the defaults) with every explicit, non-``None`` setting on top.

    Args:
        preset: a :class:`Preset`, or a name looked up with ``load_preset`` (the CLI's way;
            the studio passes the session's own :class:`Preset`).
        clamp_strength: lower a ``strength`` above the contraction bound to the bound (a UI
            slider may pass a preset's ``s_max``); otherwise that is an error.

    Raises:
        ValueError: an unknown preset or an out-of-range setting.
    """
    if isinstance(preset, Preset):
        base = preset.config()
    else:
        base = load_preset(preset).config() if preset else FractalizeConfig()
    changes = {k: v for k, v in explicit.items() if v is not None}
    if "grid" in changes:
        changes["grid"] = inputs.whole(changes["grid"], "Grid", cc.config.MIN_GRID, cc.config.MAX_GRID)
    if "refine_steps" in changes:
        changes["refine_steps"] = inputs.whole(changes["refine_steps"], "Refinement steps", 0, 10**9)
        if changes["refine_steps"] > limits.MAX_REFINE_STEPS:
            raise ValueError(f"At most {limits.MAX_REFINE_STEPS} refinement steps per request.")
    if "strength" in changes:
        changes["strength"] = inputs.number(changes["strength"], "Strength", -math.inf, math.inf)
    strength = changes.get("strength")
    s_max = changes.get("s_max", base.s_max)
    if clamp_strength and strength is not None and strength > s_max:
        # A slider may go past a preset's contraction bound: clamp, the look is the same.
        changes["strength"] = s_max
    return base.override(**changes)


def loop_config(config: FractalizeConfig) -> FractalizeConfig:
    """The settings a seamless zoom loop fits with: hard cells plant their loop cell.

    A planted loop cell is a pure copy of the whole image, so a loop through hard cells
    wraps exactly. Blended cells keep their look: their loop cross-fades two depths one
    loop apart (``collage_core.zoom.loop``), which is continuous too, and the 1x picture
    stays the photo instead of a mosaic of copies.
    """
    hard = not config.adaptive and config.layout().kind == "grid"
    return config.override(plant_loop=True) if hard else config


# ------------------------------------------------------------------------- fractalize
def fit(
    photo: Photo | Image.Image,
    config: FractalizeConfig,
    style=None,
    device: str | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> FractalCode:
    """Fit a collage to ``photo`` (a :class:`Photo` or an already-normalised image)."""
    image = photo.image if isinstance(photo, Photo) else photo
    styles = None
    if style is not None:
        styles = [load_photo(style, what="style image").image]
    report = None
    if progress is not None and config.refine_steps:

        def report(step: int, total: int, loss: float) -> None:
            progress(step / total, f"refining {step}/{total}  (error {loss:.5f})")

    return cc.fractalize(image, config=config, style=styles, device=device, progress=report, cancel=cancel)


@dataclass(frozen=True)
class Views:
    """The three panels and the readouts of one render.

    Attributes:
        attractor: the collage at ``magnify`` (or after ``iterations`` steps).
        bicubic: the original (or, for a loaded code, the 1x attractor) upscaled bicubically
            to the same size.
        psnr: dB of the 1x render against the original; ``None`` without an original.
    """

    attractor: Image.Image
    bicubic: Image.Image
    magnify: float
    psnr: float | None
    code_bytes: int
    notes: tuple[str, ...] = ()


def render_views(
    code: FractalCode,
    original: Image.Image | None,
    magnify: float = 1.0,
    iterations: int | None = None,
    start="noise",
    seed: int = 0,
    device: str | None = None,
    colour: str = "true",
) -> Views:
    """Render the attractor at ``magnify``, its bicubic counterpart, and the readouts.

    Args:
        iterations: ``None`` (or 0 from the UI) renders the exact attractor; ``n``
            applies n collage steps to ``start`` ("noise", "gray" or an image).
        colour: "true", "vivid", "off" or a palette (:mod:`collage_core.palette`) for the
            attractor panel; the PSNR readout always compares the collage's own colours.
    """
    notes = []
    magnify = inputs.number(magnify, "Magnification", 1e-9, 1e9)
    m = studio_magnify(code, magnify)
    if m < magnify:
        notes.append(
            f"Magnification reduced from ×{magnify:g} to ×{m:g}: the studio renders at most "
            f"{limits.MAX_OUTPUT_PIXELS / 2**20:.0f} MP and {limits.MAX_DECODE_SIDE} px a side."
        )
    iterations = None if not iterations else inputs.whole(iterations, "Iterations", 0, 10_000)
    seed = inputs.seed(seed)
    start = start_image(start)
    untouched = studio_colour(colour) in ("true", "off")  # also checks the name, before the render
    attractor = code.render(m, colour=colour, iterations=iterations, start=start, seed=seed, device=device)
    one = studio_magnify(code, 1.0)  # below 1 only for a loaded code fitted to a huge image
    if m == one and untouched:
        at_one = attractor
    else:
        at_one = code.render(one, iterations=iterations, start=start, seed=seed, device=device)
    reference = original if original is not None else at_one
    bicubic = reference.resize(attractor.size, Image.Resampling.BICUBIC)
    value = psnr(at_one, original) if original is not None and original.size == at_one.size else None
    return Views(attractor, bicubic, m, value, code.nbytes, tuple(notes))


def preview(
    photo: Photo | Image.Image,
    config: FractalizeConfig,
    iterations: int | None = None,
    start="noise",
    side: int = limits.PREVIEW_SIDE,
    colour: str = "true",
) -> Image.Image:
    """A fast look at the settings: fitted and rendered at <= ``side`` px, no refinement."""
    image = photo.image if isinstance(photo, Photo) else photo
    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    if min(small.size) < cc.image_io.MIN_SIDE:
        small = image.resize((max(8, small.width), max(8, small.height)))
    code = cc.fractalize(small, config=config.override(refine_steps=0, work_side=None))
    iterations = None if not iterations else int(iterations)
    start = start_image(start)
    return code.render(1, colour=colour, iterations=iterations, start=start)


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB of two same-size images (8-bit scale)."""
    if a.size != b.size:
        raise ValueError(f"PSNR needs equal sizes, got {a.size} and {b.size}")
    x = np.asarray(a.convert(b.mode), dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def readout(views: Views, code: FractalCode) -> str:
    """The Markdown shown under the panels: PSNR, code size, what was rendered."""
    w, h = views.attractor.size
    parts = [
        f"**PSNR** {views.psnr:.2f} dB" if views.psnr is not None else "**PSNR** n/a (no original)",
        f"**code** {_human_bytes(views.code_bytes)}",
        f"**output** {w}×{h} (×{views.magnify:g})",
        f"{_cells_label(code)}, {code.symmetries}",
    ]
    return " · ".join(parts)


def _cells_label(code: FractalCode) -> str:
    kind = code.layout.kind
    if kind == "quadtree":
        look = "blended" if code.layout.blend else "hard"
        return f"**adaptive** {code.layout.cells} cells from {code.grid}×{code.grid} ({look})"
    return f"**{'blended' if kind == 'blend' else 'grid'}** {code.grid}×{code.grid}"


def _human_bytes(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 1024**2 else f"{n / 1024**2:.2f} MB"


def load_code(path) -> FractalCode:
    """Read a ``.collage`` file; any defect raises ``ValueError`` with the reason."""
    if path is None:
        raise ValueError("No code file: choose a .collage file saved by the studio or the CLI.")
    try:
        return FractalCode.load(path)
    except ValueError as exc:
        raise ValueError(f"Cannot load this code file: {exc}") from None
