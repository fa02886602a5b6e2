"""The studio's page: the Blocks, the CSS that keeps results in view, and the tabs.

Each tab lives in :mod:`app.tabs` with its layout, wiring and thin handlers; what the
buttons do is in :mod:`app.callbacks`. Named API endpoints: ``fractalize`` (image in,
image out first), ``zoom``, ``sample``, ``converge`` and ``load_code``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from collage_core.resources import example_photos  # noqa: E402

from . import limits, user_presets  # noqa: E402
from .explore_server import routes as explore_routes  # noqa: E402
from .guard import (  # noqa: E402, F401 - re-exported
    ERROR_SECONDS,
    SafeImage,
    SafeNumber,
    log,
    quiet_preprocess,
    user_error,
)
from .session import Session, new_session, sweep  # noqa: E402
from .sweep import sweep_stale  # noqa: E402
from .tabs import digits as digits_tab  # noqa: E402
from .tabs import explore as explore_tab  # noqa: E402
from .tabs import fractalize as fractalize_tab  # noqa: E402
from .tabs import zoom as zoom_tab  # noqa: E402
from .tabs.common import (  # noqa: E402, F401 - re-exported: the page's handlers and shared values
    EASINGS,
    FORMATS,
    NO_PRESET,
    VIEW_BUTTONS,
    parse_size,
    parse_target,
    preset_choices,
)
from .tabs.digits import sample  # noqa: E402, F401
from .tabs.fractalize import (  # noqa: E402, F401
    check_upload,
    fractalize,  # noqa: E402, F401
    fractalize_panels,
    live_preview,
    load_code_file,
)
from .tabs.presets import apply_preset, refresh_presets, save_user_preset  # noqa: E402, F401
from .tabs.zoom import (  # noqa: E402, F401
    apply_zoom_look,
    mark_target,
    pick_target,
    zoom,  # noqa: E402, F401
)

# Wide screens: the controls scroll in their own column and the results column (the tab's
# main button on top) fits beside them, so pressing the button shows its progress and result.
# Narrow screens: the columns stack and the results come first, the button right above them.
CSS = """
#readout {min-height: 2.2em}
footer {display: none !important}
.studio-actions {flex-wrap: nowrap !important}
@media (min-width: 768px) {
  .studio-row {align-items: flex-start !important}
  .studio-controls {max-height: calc(100vh - 24px); overflow-y: auto !important; flex-wrap: nowrap !important}
  .studio-controls > * {flex-shrink: 0}
}
@media (max-width: 767px) {
  .studio-results {order: -1}
}
/* Messages stack at the bottom right, so they never cover the action bar's Cancel above the
   results; the empty part of their strip lets clicks through. */
.toast-wrap {top: auto !important; bottom: var(--size-4) !important; pointer-events: none}
.toast-wrap > * {pointer-events: auto}
/* Labels and info lines wrap instead of being cut off with an ellipsis. */
[data-testid="block-info"], [data-testid="block-label"], .label-wrap span {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important
}
"""


def build_demo(device: str | None = None, host: str | None = None) -> gr.Blocks:
    """The studio's page.

    Args:
        device: torch device for fitting and rendering (``None`` or "auto": the best available).
        host: the interface the server will listen on; presets saved from the page are shared
            with the local user's folder only for a localhost server (``None``: per session only).
    """
    device = None if device in (None, "", "auto") else device
    for folder in sweep_stale():
        log.info("removed the temporary folder of a server that is gone: %s", folder)
    sweep()
    user_presets.configure(host)
    examples = [str(p) for p in example_photos()]
    choices = preset_choices(None)
    with gr.Blocks(title="Neural Collage Studio", delete_cache=(1800, limits.TEMP_MAX_AGE_S)) as demo:
        session = gr.State(new_session, delete_callback=lambda s: s.close() if isinstance(s, Session) else None)
        gr.Markdown(
            "# Neural Collage Studio\n"
            "Turn a photo into a collage of copies of itself, zoom into it forever, and sample "
            "digits at any resolution. Everything runs on this machine."
        )
        with gr.Tabs():
            # Fractalize sends its 1x attractor to the Zoom tab's image, which renders there.
            zoom_source = SafeImage(
                label="Click where to zoom (or drop a photo)",
                type="filepath",
                sources=["upload", "clipboard"],
                elem_id="zoom-source",
                render=False,
                height=360,
            )
            with gr.Tab("Fractalize", id="fractalize"):
                preset, preset_save, save_inputs = fractalize_tab.build(session, zoom_source, examples, choices, device)
            with gr.Tab("Zoom", id="zoom"):
                look = zoom_tab.build(session, zoom_source, choices, device)
            with gr.Tab("Explore", id="explore") as explore_page:
                explore_tab.build(session, explore_page, device)
            with gr.Tab("Digits", id="digits"):
                digits_tab.build()
        # Wired here: a saved preset is offered at once in both tabs' dropdowns.
        preset_save.click(save_user_preset, inputs=save_inputs, outputs=[preset, look], api_visibility="private")
        demo.load(refresh_presets, inputs=[session], outputs=[preset, look], api_visibility="private", queue=False)
    quiet_preprocess(demo)
    return demo


def theme() -> gr.themes.Base:
    """Gradio's Soft theme with locally bundled fonts only (the page must work offline)."""
    return gr.themes.Soft(primary_hue="violet", secondary_hue="indigo")


def launch_kwargs() -> dict:
    """What ``launch()`` needs besides host and port (shared by ``python -m app`` and the tests)."""
    return {
        "theme": theme(),
        "css": CSS,
        "share": False,
        "max_file_size": limits.MAX_UPLOAD_BYTES,
        "show_error": True,
        "footer_links": [],
        "app_kwargs": {"routes": explore_routes()},  # the Explore map's tiles (app/explore_server.py)
    }


def queued(demo: gr.Blocks) -> gr.Blocks:
    """The demo with the studio's queue: bounded concurrency and a maximum backlog."""
    return demo.queue(default_concurrency_limit=limits.CONCURRENCY_LIMIT, max_size=limits.QUEUE_MAX_SIZE)
