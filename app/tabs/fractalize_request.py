"""The Fractalize tab's controls as one value: built once from the page (or an API call), read everywhere.

The Gradio endpoints keep their named, positional inputs (the API documented in
``docs/studio.md``); they pack them into a :class:`FractalizeRequest` at once, so the
steps behind them take one object instead of fourteen arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from collage_core import FractalizeConfig

from .. import callbacks
from ..session import Session
from .common import NO_PRESET, cells_settings, cells_value, copy_colours_value, find_preset, parse_copy_colours


@dataclass(frozen=True)
class FractalizeRequest:
    """What the Fractalize tab's controls say; the defaults are the page's initial values.

    Attributes:
        photo: path of the upload.
        preset: a preset name (built-in or this visitor's), or ``NO_PRESET``.
        style: path of an optional style source.
        iterations: 0 renders the exact attractor; n shows n steps from ``start``.
        start, start_image: "noise", "gray" or "photo" (then ``start_image``).
        cells: "hard", "blended" or "auto" (the library's ``blend`` False / True / None),
            or "adaptive" / "adaptive-hard" (a quadtree with ``grid**2`` cells, blended or
            hard, see ``common.cells_settings``).
        colour: "true", "vivid", "off" or a palette such as "ice" (``collage_core.palette``).
        copy_colours: "shared" (one weight per copy for every channel) or "per-channel"
            (the library's ``shared_weights`` True / False).
    """

    photo: str | None
    preset: str = NO_PRESET
    grid: float = FractalizeConfig.grid
    symmetries: str = FractalizeConfig.symmetries
    strength: float = FractalizeConfig.strength
    style: str | None = None
    refine_steps: float = 0
    iterations: float = 0
    start: str = "noise"
    start_image: str | None = None
    magnify: float = 1.0
    seed: float = 0
    copies: str = "1"
    cells: str = cells_value(FractalizeConfig.blend)
    colour: str = "true"
    copy_colours: str = copy_colours_value(FractalizeConfig.shared_weights)

    def config(self, session: Session | None = None, **overrides) -> FractalizeConfig:
        """The fit's settings: the preset (or the defaults) with these controls on top."""
        config = callbacks.resolve_config(
            find_preset(self.preset, session),
            clamp_strength=True,
            grid=self.grid,
            symmetries=self.symmetries,
            strength=self.strength,
            refine_steps=self.refine_steps,
            copies=self.copies,
            shared_weights=parse_copy_colours(self.copy_colours),
            **overrides,
        )
        # After the preset: the Cells control shows the preset's choice, and "auto" is None,
        # which resolve_config would read as "not set".
        return config.override(**cells_settings(self.cells, config.grid))

    def start_value(self):
        """What iterations start from ("noise", "gray" or the start photo)."""
        return callbacks.start_image(self.start, self.start_image)
