"""The Zoom tab: an infinite zoom into the collage (or a photo dropped here), as GIF, MP4 or WebP.

Named API endpoint: ``zoom``. Clicking the picture picks the dive target; a look (a preset
with ``[zoom]`` settings) refits the photo for zooming and moves the controls.
"""

from __future__ import annotations

import math

import gradio as gr
from PIL import Image

from collage_core.palette import studio_colour

from .. import callbacks, inputs, limits
from ..guard import friendly as _friendly
from ..session import Session
from .common import (
    COLOUR_INFO,
    COLOURS,
    EASINGS,
    FORMATS,
    NO_PRESET,
    SIZES,
    VIEW_BUTTONS,
    action_bar,
    animation_outputs,
    cancel,
    find_preset,
    notify,
    on_device,
    parse_size,
    parse_target,
    progress_fn,
    suffix,
)


# ------------------------------------------------------------------------ handlers
def pick_target(evt: gr.SelectData, source):
    """Clicking the image sets the zoom target to the clicked point."""
    if source is None or evt is None or evt.index is None:
        return gr.skip()
    with Image.open(source) as img:
        w, h = img.size
    x, y = evt.index[:2]
    return f"{(x + 0.5) / w:.4f}, {(y + 0.5) / h:.4f}"


def _zoom_code(source, preset, loop: bool, session: Session, progress, device: str | None):
    """The collage to zoom into: the photo refitted with the chosen look.

    One look everywhere: the photo behind the Fractalize tab's attractor and a photo
    dropped here are fitted alike (as ``collage zoom --preset LOOK`` does), so the same
    photo and look give the same zoom. With no look, the Fractalize tab's collage is
    used as it is (a loop through hard cells plants its loop cell in a refit).
    """
    look = find_preset(preset, session)
    for_loop = callbacks.loop_config if loop else (lambda config: config)
    from_session = session.code is not None and source is not None
    if from_session and callbacks.digest(source) == session.attractor_digest:
        code, photo, name = session.code, session.original, session.name
        if photo is None:
            return code, name  # a loaded code file has no photo to refit
        if look is None and ("loop_cell" in code.meta or not for_loop(session.config).plant_loop):
            return code, name  # the tab's collage as it is: blended cells loop without a planted cell
        config = for_loop(callbacks.resolve_config(look) if look else session.config)
    else:
        if source is None:
            raise ValueError("No image to zoom into: fractalize a photo first, or drop one here.")
        loaded = callbacks.load_photo(source)
        notify(loaded.notes)
        photo, name = loaded.image, loaded.name
        config = for_loop(callbacks.resolve_config(look))
    key = (callbacks.digest(photo), photo.mode, photo.size, config)
    if session.zoom_code is not None and session.zoom_code[0] == key:
        return session.zoom_code[1], name
    progress(0.02, desc="fitting the zoom look")
    code = callbacks.fit(photo, config, device=device, cancel=session.cancel)
    session.zoom_code = (key, code)
    return code, name


@_friendly
def zoom(
    source: str | None,
    preset: str = "deep-zoom",
    target: str = "",
    depth: float = 3.0,
    seconds: float = 4.0,
    fps: float = 12,
    easing: str = "ease-in-out",
    loop: bool = False,
    pingpong: bool = False,
    fmt: str = "GIF",
    size: str = "256×256",
    session: Session | None = None,
    progress=gr.Progress(),  # noqa: B008
    colour: str = "true",
    device: str | None = None,
):
    """Export an infinite zoom; returns (animation for the page, video for the page, download)."""
    session = session if session is not None else Session()
    ext = suffix(fmt)  # fail fast, before any fitting
    depth = inputs.number(depth, "Depth", 0.0, math.log10(limits.MAX_ZOOM))
    settings = callbacks.zoom_settings(
        zoom=10**depth,
        seconds=inputs.number(seconds, "Duration", 0.0, limits.MAX_SECONDS),
        fps=inputs.whole(fps, "Frames per second", 1, limits.MAX_FPS),
        size=parse_size(size),
        center=parse_target(target),
        loop=bool(loop),
        pingpong=bool(pingpong),
        easing=easing,
        colour=colour,
    )
    code, name = _zoom_code(source, preset, settings.loop, session, progress, device)
    path = session.new_path(f"{name}-zoom", ext)
    callbacks.export_zoom(code, path, settings, progress=progress_fn(progress), cancel=session.cancel, device=device)
    return animation_outputs(path)


def mark_target(source, target_text):
    """The Zoom tab's image with the dive target marked (a ring and cross hairs); empty without one."""
    try:
        center = parse_target(target_text)
    except ValueError:
        return gr.skip()
    if source is None or center is None:
        return None
    try:
        return callbacks.mark_point(source, center)
    except ValueError:
        return gr.skip()


@_friendly
def apply_zoom_look(look, session: Session | None = None):
    """A look's [zoom] settings move the Zoom tab's controls (settings it lacks stay as they are)."""
    preset = find_preset(look, session)
    if preset is None:
        return (gr.skip(),) * 7
    z = preset.zoom
    depth = math.log10(z["zoom"]) if "zoom" in z and z["zoom"] > 1 else None
    tone = studio_colour(z["autocontrast"]) if "autocontrast" in z else None
    values = (depth, z.get("seconds"), z.get("fps"), z.get("easing"), z.get("loop"), z.get("pingpong"), tone)
    return tuple(gr.skip() if v is None else v for v in values)


# -------------------------------------------------------------------------- layout
def build(session, zoom_source, choices, device: str | None = None):
    """The tab's components and events; returns the look dropdown (saved presets are offered there too)."""
    with gr.Row(elem_classes="studio-row"):
        with gr.Column(scale=1, min_width=300, elem_classes="studio-controls", elem_id="zoom-controls"):
            gr.Markdown(
                "Zooms into the collage from the **Fractalize** tab (or a photo dropped here). "
                "Click the image to pick the target, or leave the target empty for the auto loop point."
            )
            zoom_source.render()
            with gr.Row():
                target = gr.Textbox(
                    "", label="Target x, y (0..1)", info="empty = the auto loop point", elem_id="zoom-target", scale=3
                )
                auto = gr.Button("Auto loop point", scale=1, size="sm")
            look = gr.Dropdown(
                choices,
                value="deep-zoom" if "deep-zoom" in choices else NO_PRESET,
                label="Look",
                info="the photo is refitted with it for zooming; (none): the Fractalize tab's collage",
            )
            target_mark = gr.Image(
                label="Dive target", interactive=False, height=160, format="png", elem_id="zoom-target-mark"
            )
            depth = gr.Slider(
                0.5,
                math.log10(limits.MAX_ZOOM),
                value=3,
                step=0.1,
                label="Depth (zoom = 10^depth)",
                elem_id="zoom-depth",
            )
            with gr.Row():
                seconds = gr.Slider(
                    1, limits.MAX_SECONDS, value=4, step=1, label="Duration (s)", elem_id="zoom-seconds"
                )
                fps = gr.Slider(2, limits.MAX_FPS, value=12, step=1, label="Frames per second", elem_id="zoom-fps")
            with gr.Row():
                easing = gr.Dropdown(EASINGS, value="ease-in-out", label="Easing")
                colour = gr.Dropdown(
                    COLOURS,
                    value="true",
                    label="Colour",
                    info=COLOUR_INFO,
                    allow_custom_value=True,  # a look's "ice:0.7"; the engine checks the name
                    elem_id="zoom-colour",
                )
            with gr.Row():
                loop = gr.Checkbox(False, label="Seamless loop")
                pingpong = gr.Checkbox(False, label="Ping-pong (zoom in, then out)")
            with gr.Row():
                fmt = gr.Radio(FORMATS, value="GIF", label="Format", elem_id="zoom-format")
                size = gr.Dropdown(SIZES, value="256×256", label="Size", elem_id="zoom-size")
        with gr.Column(scale=1, elem_classes="studio-results", elem_id="zoom-results"):
            go, stop = action_bar("Export zoom", "zoom-btn")
            anim = gr.Image(
                label="Zoom",
                type="filepath",
                format="gif",
                interactive=False,
                elem_id="zoom-anim",
                buttons=VIEW_BUTTONS,
                height=420,
            )
            video = gr.Video(label="Zoom (MP4)", interactive=False, visible=False, elem_id="zoom-video")
            download = gr.File(label="Download", interactive=False, elem_id="zoom-file")

    zoom_source.select(pick_target, inputs=[zoom_source], outputs=[target], api_visibility="private")
    target.change(mark_target, inputs=[zoom_source, target], outputs=[target_mark], api_visibility="private")
    zoom_source.change(mark_target, inputs=[zoom_source, target], outputs=[target_mark], api_visibility="private")
    look.change(
        apply_zoom_look,
        inputs=[look, session],
        outputs=[depth, seconds, fps, easing, loop, pingpong, colour],
        api_visibility="private",
        queue=False,
    )
    auto.click(lambda: "", outputs=[target], api_visibility="private", queue=False)
    go.click(
        on_device(zoom, device),
        inputs=[zoom_source, look, target, depth, seconds, fps, easing, loop, pingpong, fmt, size, session, colour],
        outputs=[anim, video, download],
        api_name="zoom",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
    )
    stop.click(cancel, inputs=[session], api_visibility="private", queue=False)
    return look
