"""What the studio's buttons do, as typed plain functions (no Gradio here): the table of contents.

Every function raises ``ValueError`` with a message meant for a person when the input
cannot be used; the tabs (:mod:`app.tabs`) turn those into ``gr.Error`` and files into
downloads. One module per action in :mod:`app.actions`; they are tested directly, without
a server (``tests/test_app_callbacks.py``). Tabs call them through this module, so a test
can replace one (``monkeypatch.setattr(callbacks, "fit", ...)``) for every tab at once.
"""

from __future__ import annotations

from .actions.converge import Convergence, converge_frames, write_frames
from .actions.digits import Digits, contact_sheet, gray_image, load_vae, sample_digits
from .actions.fractalize import (
    Views,
    fit,
    load_code,
    loop_config,
    preview,
    psnr,
    readout,
    render_views,
    resolve_config,
)
from .actions.photos import Photo, digest, load_photo, mark_point, safe_stem, start_image
from .actions.progress import ProgressFn
from .actions.zoom import check_animation, export_zoom, zoom_settings
from .budget import effective_magnify, largest_exact_side, studio_magnify

__all__ = [
    "Convergence",
    "Digits",
    "Photo",
    "ProgressFn",
    "Views",
    "check_animation",
    "contact_sheet",
    "converge_frames",
    "digest",
    "effective_magnify",
    "export_zoom",
    "fit",
    "gray_image",
    "largest_exact_side",
    "load_code",
    "load_photo",
    "load_vae",
    "loop_config",
    "mark_point",
    "preview",
    "psnr",
    "readout",
    "render_views",
    "resolve_config",
    "safe_stem",
    "sample_digits",
    "start_image",
    "studio_magnify",
    "write_frames",
    "zoom_settings",
]
