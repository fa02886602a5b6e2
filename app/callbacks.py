"""What the studio's buttons do, as typed plain functions (no Gradio here).

Every function raises ``ValueError`` with a message meant for a person when the input
cannot be used; ``app.ui`` turns those into ``gr.Error`` and files into downloads.
They are tested directly, without a server (``tests/test_app_callbacks.py``).
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

import collage_core as cc
from collage_core import FractalCode, FractalizeConfig
from collage_core.presets import Preset, load_preset

from . import inputs, limits
from .budget import effective_magnify, largest_exact_side, studio_magnify  # noqa: F401 - part of this API

ProgressFn = Callable[[float, str], None]


# ---------------------------------------------------------------------------- photos
@dataclass(frozen=True)
class Photo:
    """A usable upload: normalised to L/LA/RGB/RGBA and within the studio's pixel limit.

    Attributes:
        notes: what was changed on the way in ("downscaled from ...", "first frame of ..."),
            shown to the user as notices.
    """

    image: Image.Image
    name: str = "photo"
    notes: tuple[str, ...] = ()


def load_photo(
    source, max_pixels: int = limits.MAX_INPUT_PIXELS, what: str = "photo", max_side: int | None = limits.MAX_INPUT_SIDE
) -> Photo:
    """Open any Pillow-readable upload; downscale (never refuse) photos above ``max_pixels`` or ``max_side``.

    Args:
        source: a path, bytes, PIL image or array.
        what: how the message names this input ("photo", "style image", ...).
    Raises:
        ValueError: not an image, truncated, tiny, or beyond the engine's hard limit.
    """
    if source is None or (isinstance(source, str) and not source.strip()):
        raise ValueError(f"No {what}: upload one, paste one, or click an example.")
    notes = list(_inspect(source))
    try:
        img = cc.open_image(source)
    except ValueError as exc:
        raise ValueError(f"Cannot use this {what}: {exc}") from None
    w, h = img.size
    max_side = max_side or max(w, h)
    if w * h > max_pixels or max(w, h) > max_side:
        scale = min(math.sqrt(max_pixels / (w * h)), max_side / max(w, h))
        size = (max(cc.image_io.MIN_SIDE, int(w * scale)), max(cc.image_io.MIN_SIDE, int(h * scale)))
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        notes.append(
            f"Downscaled from {w}×{h} ({w * h / 1e6:.1f} MP) to {size[0]}×{size[1]}: "
            f"the studio works on at most {max_pixels / 1e6:.0f} MP and {max_side} px a side."
        )
    name = Path(source).stem if isinstance(source, str | Path) else "photo"
    return Photo(image=img, name=safe_stem(name), notes=tuple(notes))


def _inspect(source) -> list[str]:
    """Notes on conversions ``open_image`` will make (animation, CMYK, 16-bit); never raises."""
    try:
        if isinstance(source, Image.Image):
            mode, frames, fmt = source.mode, getattr(source, "n_frames", 1), source.format or "image"
        elif isinstance(source, bytes | str | Path):
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as probe:
                mode, frames, fmt = probe.mode, getattr(probe, "n_frames", 1), probe.format or "image"
        else:
            return []
    except Exception:  # noqa: BLE001 - open_image reports unreadable input properly
        return []
    notes = []
    if frames > 1:
        notes.append(f"Animated {fmt} with {frames} frames: using the first frame.")
    if mode == "CMYK":
        notes.append("CMYK image converted to RGB.")
    elif mode.startswith("I;16") or mode in ("I", "F"):
        notes.append(f"High bit-depth image ({mode}) reduced to 8 bits per channel.")
    return notes


def safe_stem(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40].strip("-")
    return keep or "photo"


# --------------------------------------------------------------------------- settings
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
    if "seed" in changes:
        changes["seed"] = inputs.seed(changes["seed"])
    if "strength" in changes:
        changes["strength"] = inputs.number(changes["strength"], "Strength", -math.inf, math.inf)
    strength = changes.get("strength")
    s_max = changes.get("s_max", base.s_max)
    if clamp_strength and strength is not None and strength > s_max:
        # A slider may go past a preset's contraction bound: clamp, the look is the same.
        changes["strength"] = s_max
    return base.override(**changes)


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
) -> Views:
    """Render the attractor at ``magnify``, its bicubic counterpart, and the readouts.

    Args:
        iterations: ``None`` (or 0 from the UI) renders the exact attractor; ``n``
            applies n collage steps to ``start`` ("noise", "gray" or an image).
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
    if isinstance(start, str) and start not in ("noise", "gray"):
        start = load_photo(start, what="start image").image
    attractor = code.render(m, iterations=iterations, start=start, seed=seed, device=device)
    one = studio_magnify(code, 1.0)  # below 1 only for a loaded code fitted to a huge image
    at_one = attractor if m == one else code.render(one, iterations=iterations, start=start, seed=seed, device=device)
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
) -> Image.Image:
    """A fast look at the settings: fitted and rendered at <= ``side`` px, no refinement."""
    image = photo.image if isinstance(photo, Photo) else photo
    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    if min(small.size) < cc.image_io.MIN_SIDE:
        small = image.resize((max(8, small.width), max(8, small.height)))
    code = cc.fractalize(small, config=config.override(refine_steps=0, work_side=None))
    iterations = None if not iterations else int(iterations)
    if isinstance(start, str) and start not in ("noise", "gray"):
        start = load_photo(start, what="start image").image
    return code.render(1, iterations=iterations, start=start)


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
        f"**grid** {code.grid}×{code.grid}, {code.symmetries}",
    ]
    return " · ".join(parts)


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


def digest(path_or_image) -> str:
    """A short content digest (recognises an image the studio produced when it comes back)."""
    is_image = isinstance(path_or_image, Image.Image)
    data = path_or_image.tobytes() if is_image else Path(path_or_image).read_bytes()
    return hashlib.sha1(data).hexdigest()[:16]


def mark_point(source, center: tuple[float, float], side: int = 320) -> Image.Image:
    """A display copy of ``source`` with ``center`` (normalised x, y) marked by a ring and cross hairs."""
    from PIL import ImageDraw

    img = load_photo(source).image.convert("RGB")
    img.thumbnail((side, side))
    w, h = img.size
    x, y = center[0] * w, center[1] * h
    draw = ImageDraw.Draw(img)
    r = max(6, min(w, h) // 20)
    for colour, width in (((0, 0, 0), 4), ((255, 255, 255), 2)):  # dark halo, light line: any background
        draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=width)
        draw.line((x - 2.2 * r, y, x - r, y), fill=colour, width=width)
        draw.line((x + r, y, x + 2.2 * r, y), fill=colour, width=width)
        draw.line((x, y - 2.2 * r, x, y - r), fill=colour, width=width)
        draw.line((x, y + r, x, y + 2.2 * r), fill=colour, width=width)
    return img


# ----------------------------------------------------------------- watch it converge
@dataclass(frozen=True)
class Convergence:
    frames: list[Image.Image] = field(repr=False)
    errors: list[float]  # max abs difference (0..255) of each frame to the exact attractor


def converge_frames(
    code: FractalCode,
    steps: int = 20,
    start="noise",
    side: int = 384,
    seed: int = 0,
    hold: int = 6,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
) -> Convergence:
    """Frames of iterations 0..``steps`` from ``start``, then the exact attractor held ``hold`` frames.

    Args:
        side: longest side of the frames (the render is scaled to fit).
    """
    steps = inputs.whole(steps, "Convergence steps", 1, limits.MAX_CONVERGE_FRAMES)
    if isinstance(start, str) and start not in ("noise", "gray"):
        start = load_photo(start, what="start image").image
    w, h = code.source_size
    m = min(1.0, side / max(w, h))
    exact = np.asarray(code.render(m), dtype=np.int16)
    frames, errors = [], []
    for i in range(steps + 1):
        if cancel is not None and cancel.is_set():
            raise cc.Cancelled("cancelled")
        frame = code.render(m, iterations=i, start=start, seed=seed)
        frames.append(frame)
        errors.append(float(np.abs(np.asarray(frame, dtype=np.int16) - exact).max()))
        if progress is not None:
            progress((i + 1) / (steps + 1), f"iteration {i}/{steps}")
    frames += [Image.fromarray(exact.astype(np.uint8), frames[-1].mode)] * hold
    return Convergence(frames, errors)


def write_frames(frames: list[Image.Image], path: str | Path, fps: float = 8.0) -> Path:
    """Write frames as an animation; the format follows the suffix (.gif, .webp, .mp4)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".webp", ".mp4"):
        raise ValueError(f"Animations are written as .gif, .webp or .mp4, not {suffix or 'no suffix'}.")
    return cc.export_frames(frames, path, fps=fps)


# ------------------------------------------------------------------------------ zoom
def check_animation(seconds: float, fps: float, size: tuple[int, int], zoom: float) -> int:
    """Validate an animation request against the per-request limits; returns the frame count."""
    if not (math.isfinite(zoom) and 1.0 < zoom <= limits.MAX_ZOOM):
        raise ValueError(f"Zoom must be above 1 and at most {limits.MAX_ZOOM:g}, got {zoom:g}.")
    if not (0 < seconds <= limits.MAX_SECONDS):
        raise ValueError(f"Duration must be between 0 and {limits.MAX_SECONDS:g} s, got {seconds:g}.")
    if not (1 <= fps <= limits.MAX_FPS):
        raise ValueError(f"Frames per second must be between 1 and {limits.MAX_FPS}, got {fps:g}.")
    frames = round(seconds * fps)
    if frames > limits.MAX_FRAMES:
        raise ValueError(f"{seconds:g} s at {fps:g} fps is {frames} frames; the limit is {limits.MAX_FRAMES}.")
    if max(size) > limits.MAX_ANIMATION_SIDE or min(size) < 16:
        raise ValueError(
            f"Animation sides must be between 16 and {limits.MAX_ANIMATION_SIDE} px, got {size[0]}×{size[1]}."
        )
    return frames


def export_zoom(
    code: FractalCode,
    path: str | Path,
    zoom: float = 1000.0,
    seconds: float = 6.0,
    fps: int = 24,
    size: tuple[int, int] = (384, 384),
    center: tuple[float, float] | None = None,
    loop: bool = False,
    pingpong: bool = False,
    easing: str = "ease-in-out",
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    device: str | None = None,
    colour: str = "true",
) -> Path:
    """Render an infinite-zoom animation to ``path`` (.gif, .mp4 or .webp) within the studio's limits.

    Args:
        center: normalised ``(x, y)`` target, or ``None`` for the auto loop point.
        colour: the tone look: ``"true"`` (colour-true), ``"vivid"`` or ``"off"``.
    """
    frames = check_animation(seconds, fps, size, zoom)
    report = None
    if progress is not None:

        def report(done, total=None, *_) -> None:
            fraction = done / total if total else float(done)
            progress(fraction, f"frame {done}/{total or frames}" if total else "rendering")

    cc.export_zoom(
        code,
        path,
        zoom=zoom,
        seconds=seconds,
        fps=fps,
        size=size,
        center=center,
        loop=loop,
        pingpong=pingpong,
        easing=easing,
        autocontrast=colour,
        progress=report,
        cancel=cancel,
        device=device,
    )
    return Path(path)


# ---------------------------------------------------------------------------- digits
@dataclass(frozen=True)
class Digits:
    tiles: list[Image.Image] = field(repr=False)
    collage40: Image.Image = field(repr=False)
    bicubic40: Image.Image = field(repr=False)
    summary: str = ""
    notes: tuple[str, ...] = ()


def sample_digits(
    count: int = 16,
    magnify: float = 4,
    temperature: float = 1.0,
    seed: int = 0,
    model=None,
) -> Digits:
    """Sample the Collage VAE: ``count`` digits at ``magnify``, and digit 1 at 40× beside bicubic.

    The 1× digit is the 40× render average-pooled (exact: pooling the attractor is the
    attractor at the smaller size), so both panels show the same sample.
    """
    import torch
    import torch.nn.functional as F

    count = inputs.whole(count, "Count", 1, limits.MAX_DIGITS)
    magnify = inputs.whole(magnify, "Magnification", 1, limits.MAX_DIGIT_MAGNIFY)
    temperature = inputs.number(temperature, "Temperature", 0.0, 2.0)
    if temperature == 0:
        raise ValueError("Temperature must be in (0, 2], got 0.")
    seed = inputs.seed(seed)
    notes = []
    side = 28 * magnify
    if count * side * side > limits.MAX_OUTPUT_PIXELS:
        magnify = max(1, int(math.sqrt(limits.MAX_OUTPUT_PIXELS / count) // 28))
        notes.append(f"Gallery magnification reduced to ×{magnify} to stay within the output limit.")
    model = model if model is not None else load_vae()
    with torch.no_grad():
        if hasattr(model, "decoder") and hasattr(model, "likelihood"):
            # Draw the latents once and render them twice: digit #1 at 40x is gallery digit #1.
            generator = torch.Generator().manual_seed(int(seed))
            h = model.decoder.sample(count, float(temperature), generator)
            big = model.likelihood.render(h, magnify)
            one40 = big[:1] if magnify == 40 else model.likelihood.render(h[:1], 40)
        else:
            big = model.sample(n=count, magnify=magnify, temperature=temperature, seed=seed)
            one40 = model.sample(n=count, magnify=40, temperature=temperature, seed=seed)[:1]
    one = F.avg_pool2d(one40.float(), 40)
    bicubic = F.interpolate(one, scale_factor=40, mode="bicubic", align_corners=False).clamp(0, 1)
    tiles = [gray_image(t) for t in big]
    summary = (
        f"{count} samples at ×{magnify} ({28 * magnify}×{28 * magnify} px each), temperature {temperature:g}, "
        f"seed {seed}. Digit #1: 1120×1120 Collage render vs bicubic upscaling of its 28×28 version."
    )
    return Digits(tiles, gray_image(one40[0]), gray_image(bicubic[0]), summary, tuple(notes))


def gray_image(t) -> Image.Image:
    """A mode-L image from a ``(1, H, W)`` tensor of values in [0, 1]."""
    arr = (t.detach().float().clamp(0, 1)[0].cpu().numpy() * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(arr, "L")


_VAE_CACHE: dict = {}
_VAE_LOCK = threading.Lock()


def load_vae():
    """The shipped Collage VAE, loaded once (its weights are read-only: one copy serves every session).

    Raises:
        ValueError: the VAE package or its weights are missing.
    """
    with _VAE_LOCK:
        if "model" not in _VAE_CACHE:
            from collage_core import vae

            try:
                model = vae.load_pretrained()
            except (FileNotFoundError, OSError) as exc:
                raise ValueError(f"The Collage VAE weights are missing: {exc}") from None
            model.eval()
            _VAE_CACHE["model"] = model
        return _VAE_CACHE["model"]
