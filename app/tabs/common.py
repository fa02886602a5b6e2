"""What the tabs share: the choice lists, the parsers of typed values, and small Gradio adapters.

Each tab module (:mod:`app.tabs.fractalize`, ``zoom``, ``explore``, ``digits``) imports these
instead of keeping its own copy, so a size, a format or a message is written once.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr
from PIL import Image

import collage_core as cc
from collage_core.palette import COLOUR_CHOICES
from collage_core.presets import Preset

from .. import callbacks, inputs, user_presets
from ..session import Session

NO_PRESET = "(none)"
SIZES = ["128×128", "256×256", "384×384", "512×512", "640×360", "768×768", "1024×1024"]
FORMATS = ["GIF", "MP4", "WebP"]
VIEW_BUTTONS = ["download", "fullscreen"]  # no "share": nothing leaves this machine
EASINGS = ["ease-in-out", "linear", "ease-in", "ease-out", "sine"]
# Tone of deep frames: true keeps the photo's colours (levels on luma), vivid stretches each
# channel; then the palettes (gradient maps: collage_core.palette), e.g. ice, ember.
COLOURS = list(COLOUR_CHOICES)
COLOUR_INFO = "true: the photo's colours; vivid: each channel stretched; ice, ember, ink, gold, neon: palettes"
# Copies per cell: sharp keeps the photo recognisable inside itself at every depth.
COPIES = [("1 · sharp", "1"), ("2", "2"), ("3", "3"), ("soft · all 8", "soft")]
# Cells: hard squares, cosine-blended overlaps (no seams), auto (blends where the grid
# allows), or adaptive: a quadtree with the same number of cells as the hard grid, big
# cells (whole copies) where the photo is calm and small ones where it is busy, blended
# like the grid (no seams) or hard.
CELLS = [
    ("hard grid", "hard"),
    ("blended", "blended"),
    ("auto", "auto"),
    ("adaptive", "adaptive"),
    ("adaptive (hard)", "adaptive-hard"),
]
_CELLS_BLEND = {"hard": False, "blended": True, "auto": None, "adaptive": None, "adaptive-hard": False}
START_CHOICES = ["noise", "gray", "photo"]
# Copy colours: one weight per copy for every channel (copies keep the photo's colours at
# every depth) or a weight per channel (a little closer at 1x, tinted copies in a dive).
COPY_COLOURS = [("the photo's", "shared"), ("per channel", "per-channel")]
_SHARED = {"shared": True, "per-channel": False}


def copy_colours_value(shared_weights: bool) -> str:
    """The Copy colours control's value for a config's ``shared_weights``."""
    return "shared" if shared_weights else "per-channel"


def parse_copy_colours(value) -> bool:
    """The ``shared_weights`` setting of a Copy colours value ("shared" or "per-channel")."""
    if value not in _SHARED:
        raise ValueError(f"Copy colours must be one of {', '.join(_SHARED)}, got {value!r}.")
    return _SHARED[value]


def cells_value(blend: bool | None, adaptive: bool = False) -> str:
    """The Cells control's value for a config's ``blend`` (so the control follows the library default)."""
    if adaptive:
        return "adaptive-hard" if blend is False else "adaptive"
    return next(k for k, v in _CELLS_BLEND.items() if v is blend)


def parse_cells(value) -> bool | None:
    """The ``blend`` setting of a Cells value ("hard", "blended", "auto", "adaptive" or "adaptive-hard")."""
    if value not in _CELLS_BLEND:
        raise ValueError(f"Cells must be one of {', '.join(_CELLS_BLEND)}, got {value!r}.")
    return _CELLS_BLEND[value]


def cells_settings(value, grid: int) -> dict:
    """The fit settings of a Cells value with the Grid slider at ``grid`` cells a side.

    "adaptive" keeps the grid's cell budget (``grid**2`` cells) and starts the quadtree
    from the largest power of two at most ``grid / 4`` (2 levels of splits to spend it);
    its leaves are blended (the library default), "adaptive-hard" keeps them hard.
    """
    blend = parse_cells(value)
    if not value.startswith("adaptive"):
        return {"blend": blend, "adaptive": False, "max_cells": None}
    root = max(2, 1 << (max(int(grid) // 4, 1).bit_length() - 1))
    return {"blend": blend, "adaptive": True, "grid": root, "max_cells": int(grid) ** 2}


def shown_grid(config) -> int:
    """The Grid slider's value for a config: an adaptive fit shows its cell budget's side."""
    return round(config.cells_budget**0.5) if config.adaptive else config.grid


# ---------------------------------------------------------------------- typed values
def parse_target(text: str | None) -> tuple[float, float] | None:
    """``"x, y"`` in 0..1 (fractions of width and height) or empty for the auto loop point."""
    return inputs.point(text)


def parse_size(text: str) -> tuple[int, int]:
    """``"512×512"`` or ``"640x360"`` as ``(width, height)`` within the animation limits."""
    return inputs.size(text)


def suffix(fmt: str) -> str:
    """The file suffix of an animation format ("GIF", "MP4", "WebP")."""
    out = {"GIF": ".gif", "MP4": ".mp4", "WEBP": ".webp"}.get(str(fmt).upper())
    if out is None:
        raise ValueError(f"Format must be one of {FORMATS}, got {fmt!r}.")
    return out


def find_preset(preset, session: Session | None) -> Preset | None:
    """The chosen preset for this visitor: built-ins, then their own (never a path)."""
    return None if preset in (None, "", NO_PRESET) else user_presets.find(session, preset)


def preset_choices(session: Session | None) -> list[str]:
    return [NO_PRESET, *user_presets.names(session)]


# ------------------------------------------------------------------ Gradio adapters
def on_device(fn, device: str | None):
    """``fn`` with this server's torch device bound: Gradio passes only the controls' values."""
    if device in (None, "", "auto"):
        return fn
    cc.pick_device(device)  # raises ValueError for an unavailable device, at start
    bound = functools.partial(fn, device=device)
    bound.__name__ = fn.__name__  # Gradio names events after their function
    return bound


def notify(notes) -> None:
    for note in notes:
        gr.Warning(note)


def progress_fn(progress: gr.Progress | None):
    """A plain ``(fraction, text)`` hook for the actions, reporting to Gradio's progress bar."""
    if progress is None:
        return None

    def report(fraction: float, desc: str) -> None:
        progress(fraction, desc=desc)

    return report


def count_progress(progress: gr.Progress, unit: str):
    """A ``(done, total)`` hook that shows "unit done/total" on Gradio's progress bar."""

    def report(done: int, total: int) -> None:
        progress(done / total, desc=f"{unit} {done}/{total}")

    return report


def save_png(image: Image.Image, session: Session, stem: str) -> str:
    path = session.new_path(stem, ".png")
    image.save(path, "PNG", compress_level=1)  # level 1: 3x faster than the default, ~10% larger
    return str(path)


def save_jpeg(image: Image.Image, session: Session, stem: str) -> str:
    path = session.new_path(stem, ".jpg")
    image.convert("RGB").save(path, "JPEG", quality=90)
    return str(path)


def display_original(source: str, loaded: callbacks.Photo, session: Session) -> str:
    """The upload itself when browsers show it as is; otherwise the normalised photo as PNG."""
    if not loaded.notes and Path(source).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        return source
    return save_png(loaded.image, session, loaded.name)


def animation_outputs(path: Path):
    """(image player, video player, download): MP4 plays in the video player, GIF/WebP in the image."""
    if path.suffix == ".mp4":
        return gr.update(value=None, visible=False), gr.update(value=str(path), visible=True), str(path)
    return gr.update(value=str(path), visible=True), gr.update(value=None, visible=False), str(path)


def cancel(session: Session | None):
    """The Cancel button: long work in this session stops at its next check."""
    if session is not None:
        session.cancel_all()
    gr.Info("Cancelling…")


def action_bar(label: str, elem_id: str):
    """The tab's main button and its Cancel, placed above the results so both stay in view."""
    with gr.Row(elem_classes="studio-actions"):
        go = gr.Button(label, variant="primary", elem_id=elem_id, scale=3)
        stop = gr.Button("Cancel", variant="stop", elem_id=elem_id.replace("-btn", "-cancel"), scale=1)
    return go, stop
