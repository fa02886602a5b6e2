"""Presets on the page: a preset moves the Fractalize controls; the current controls save as one."""

from __future__ import annotations

import gradio as gr

from collage_core import FractalizeConfig
from collage_core.config import MAX_GRID, MIN_GRID
from collage_core.copies import parse_copies
from collage_core.palette import studio_colour
from collage_core.presets import Preset, user_dir

from .. import inputs, limits, user_presets
from ..guard import friendly as _friendly
from ..session import Session
from .common import (
    cells_settings,
    cells_value,
    copy_colours_value,
    find_preset,
    parse_copy_colours,
    preset_choices,
    shown_grid,
)


@_friendly
def apply_preset(preset, session: Session | None = None):
    """Move the controls to a preset's values (fields it does not set go back to defaults).

    Returns grid, symmetries, strength, refinement, iterations, start, magnification, seed,
    copies, cells and copy colours, in the order of the Fractalize tab's outputs.
    """
    p = find_preset(preset, session) or Preset(name="defaults")
    cfg = p.config()
    render = p.render
    if p.description:
        gr.Info(p.description)
    return (
        shown_grid(cfg),
        cfg.symmetries,
        cfg.strength,
        cfg.refine_steps,
        render.get("iterations", 0),
        render.get("start", "noise"),
        render.get("magnify", 1),
        gr.update(value=0),  # the noise start's seed: presets do not set it
        "soft" if cfg.copies is None else str(cfg.copies),
        cells_value(cfg.blend, cfg.adaptive),
        copy_colours_value(cfg.shared_weights),
    )


def preset_colour(preset, session: Session | None = None) -> str:
    """The Colour control's value for a preset (its ``[render] colour``; "true" without one)."""
    p = find_preset(preset, session)
    return studio_colour(p.render.get("colour", "true") if p is not None else "true")


@_friendly
def save_user_preset(
    name,
    description,
    grid,
    symmetries,
    strength,
    refine_steps,
    iterations,
    start,
    magnify,
    session=None,
    copies="1",
    cells=cells_value(FractalizeConfig.blend),
    colour="true",
    copy_colours=copy_colours_value(FractalizeConfig.shared_weights),
):
    """Save the current controls as a preset of this session (and the local user's, on localhost)."""
    if not isinstance(session, Session):
        raise ValueError("Presets are saved from the studio's page.")
    fractalize_values = {
        "grid": inputs.whole(grid, "Grid", MIN_GRID, MAX_GRID),
        "symmetries": symmetries,
        "strength": inputs.number(strength, "Strength", 0.0, 1.0),
        "copies": "soft" if parse_copies(copies) is None else parse_copies(copies),
    }
    # TOML has no None: "auto" is a preset without the field, hard/blended/adaptive set theirs.
    fractalize_values.update(
        {k: v for k, v in cells_settings(cells, fractalize_values["grid"]).items() if v is not None}
    )
    if not fractalize_values["adaptive"]:
        del fractalize_values["adaptive"]
    shared_weights = parse_copy_colours(copy_colours)
    if shared_weights != FractalizeConfig.shared_weights:  # a preset holds what differs from the defaults
        fractalize_values["shared_weights"] = shared_weights
    refine_steps = inputs.whole(refine_steps, "Refinement steps", 0, limits.MAX_REFINE_STEPS)
    if refine_steps:
        fractalize_values["refine_steps"] = refine_steps
    render = {"magnify": inputs.number(magnify, "Magnification", 1, limits.MAX_MAGNIFY)}
    colour = studio_colour(colour)
    if colour != "true":
        render["colour"] = colour
    iterations = inputs.whole(iterations, "Iterations", 0, 50)
    if iterations:
        render.update(iterations=iterations, start=start if start in ("noise", "gray") else "noise")
    preset = user_presets.save(session, name, description, fractalize_values, render)
    where = f"this session and {user_dir()}" if user_presets.shared_with_local_user() else "this browser session"
    gr.Info(f"Saved preset '{preset.name}' for {where}.")
    choices = preset_choices(session)
    return gr.update(choices=choices, value=preset.name), gr.update(choices=choices)


def refresh_presets(session: Session | None = None):
    """On page load: this visitor's presets (the local user's may have changed since start)."""
    choices = preset_choices(session)
    return gr.update(choices=choices), gr.update(choices=choices)


def build_save_panel():
    """The "Save these settings as a preset" accordion: ``(name, description, save button)``."""
    with gr.Accordion("Save these settings as a preset", open=False):
        with gr.Row():
            name = gr.Textbox(label="Name", placeholder="my-look")
            description = gr.Textbox(label="Description", placeholder="What it looks like")
        gr.Markdown(
            f"Saved for this browser session and to `{user_dir()}` (set `NEURAL_COLLAGE_PRESETS` to change)."
            if user_presets.shared_with_local_user()
            else "Saved for this browser session only (this server is shared)."
        )
        save = gr.Button("Save preset")
    return name, description, save
