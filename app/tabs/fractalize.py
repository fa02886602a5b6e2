"""The Fractalize tab: a photo in, its collage (attractor), the original and bicubic beside it.

Handlers are thin: they pack the controls into a :class:`FractalizeRequest`, call the
plain functions in :mod:`app.callbacks`, write the files Gradio serves, and turn
``ValueError`` into a message on the page. Named API endpoints: ``fractalize`` (image in,
image out first), ``fractalize_panels`` (undocumented: the page's button) and ``load_code``.
The Watch-it-converge and save-a-preset panels live in :mod:`.converge` and :mod:`.presets`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import gradio as gr
from PIL import Image

from collage_core import FractalizeConfig
from collage_core.image_io import MIN_SIDE

from .. import callbacks, inputs, limits
from ..guard import SafeImage, SafeNumber
from ..guard import friendly as _friendly
from ..session import Session
from . import converge, presets
from .common import (
    CELLS,
    COLOUR_INFO,
    COLOURS,
    COPIES,
    COPY_COLOURS,
    NO_PRESET,
    START_CHOICES,
    VIEW_BUTTONS,
    action_bar,
    cancel,
    display_original,
    notify,
    on_device,
    progress_fn,
    save_jpeg,
    save_png,
)
from .fractalize_request import FractalizeRequest

R = FractalizeRequest  # the controls' defaults, written once


# ------------------------------------------------------------------------ handlers
def _request(controls: dict) -> FractalizeRequest:
    """The endpoints' named controls (Gradio's API needs them named) as one request."""
    return FractalizeRequest(**{f.name: controls[f.name] for f in dataclasses.fields(FractalizeRequest)})


def _fractalize(request: FractalizeRequest, session: Session, progress, device: str | None):
    """Fit and render; the session remembers the collage. Returns (photo, code, views, attractor png, code file)."""
    loaded = callbacks.load_photo(request.photo)
    notify(loaded.notes)
    config = request.config(session)
    progress(0.05, desc="fitting")
    code = callbacks.fit(
        loaded, config, style=request.style, device=device, progress=progress_fn(progress), cancel=session.cancel
    )
    progress(0.8, desc="rendering")
    views = callbacks.render_views(
        code,
        loaded.image,
        request.magnify,
        request.iterations,
        request.start_value(),
        request.seed,
        device,
        request.colour,
    )
    notify(views.notes)
    stem = f"{loaded.name}-collage"
    attractor_path = save_png(views.attractor, session, stem)
    code_path = session.new_path(stem, ".collage")
    code.save(code_path)
    session.code, session.original, session.config, session.name = code, loaded.image, config, loaded.name
    return loaded, code, views, attractor_path, str(code_path)


@_friendly
def fractalize(
    photo: str,
    preset: str = R.preset,
    grid: float = R.grid,
    symmetries: str = R.symmetries,
    strength: float = R.strength,
    style: str | None = None,
    refine_steps: float = R.refine_steps,
    iterations: float = R.iterations,
    start: str = R.start,
    start_image: str | None = None,
    magnify: float = R.magnify,
    seed: float = R.seed,
    copies: str = R.copies,
    cells: str = R.cells,
    colour: str = R.colour,
    copy_colours: str = R.copy_colours,
    session: Session | None = None,
    progress=gr.Progress(),  # noqa: B008 - Gradio's progress hook
    device: str | None = None,
):
    """The ``fractalize`` API: a photo in; the attractor (PNG), a readout (PSNR, code size) and the code file out."""
    request = _request(locals())
    session = session if session is not None else Session()
    _, code, views, attractor_path, code_path = _fractalize(request, session, progress, device)
    session.attractor_digest = None  # no Zoom-tab image was shown for this one
    return attractor_path, callbacks.readout(views, code), code_path


@_friendly
def fractalize_panels(
    photo: str,
    preset: str = R.preset,
    grid: float = R.grid,
    symmetries: str = R.symmetries,
    strength: float = R.strength,
    style: str | None = None,
    refine_steps: float = R.refine_steps,
    iterations: float = R.iterations,
    start: str = R.start,
    start_image: str | None = None,
    magnify: float = R.magnify,
    seed: float = R.seed,
    copies: str = R.copies,
    cells: str = R.cells,
    colour: str = R.colour,
    copy_colours: str = R.copy_colours,
    session: Session | None = None,
    progress=gr.Progress(),  # noqa: B008
    device: str | None = None,
):
    """The Fractalize button: attractor, original, bicubic, readout, PNG, code file, Zoom-tab image."""
    request = _request(locals())
    session = session if session is not None else Session()
    loaded, code, views, attractor_path, code_path = _fractalize(request, session, progress, device)
    original_path = display_original(photo, loaded, session)
    bicubic_path = save_jpeg(views.bicubic, session, f"{loaded.name}-bicubic")
    zoom_path = _zoom_image(code, views, attractor_path, session, f"{loaded.name}-collage")
    return (
        attractor_path,
        original_path,
        bicubic_path,
        callbacks.readout(views, code),
        attractor_path,
        code_path,
        zoom_path,
    )


def _zoom_image(code, views: callbacks.Views, attractor_path: str, session: Session, stem: str) -> str:
    """The 1x attractor the Zoom tab shows (remembered by digest, so the Zoom tab knows it came from here)."""
    one = callbacks.studio_magnify(code, 1.0)
    zoom_path = attractor_path if views.magnify == one else save_png(code.render(one), session, f"{stem}-1x")
    session.attractor_digest = callbacks.digest(zoom_path)
    return zoom_path


@_friendly
def check_upload(photo) -> None:
    """On upload: say at once what is wrong with (or was changed in) the photo."""
    if photo is not None:
        notify(callbacks.load_photo(photo).notes)


def live_preview(
    photo,
    preset,
    grid,
    symmetries,
    strength,
    iterations,
    start,
    start_image,
    enabled,
    session=None,
    copies="1",
    cells=R.cells,
    colour=R.colour,
    copy_colours=R.copy_colours,
):
    """A fast preview as the sliders move (no refinement, at most PREVIEW_SIDE px); silent on errors,
    which the upload check and the Fractalize button report."""
    if not enabled or photo is None:
        return gr.skip()
    request = FractalizeRequest(
        photo,
        preset,
        grid,
        symmetries,
        strength,
        iterations=iterations,
        start=start,
        start_image=start_image,
        copies=copies,
        cells=cells,
        copy_colours=copy_colours,
    )
    try:
        loaded = _preview_photo(photo)
        start_value = "noise" if start == "photo" and start_image is None else request.start_value()
        iterations = inputs.whole(iterations, "Iterations", 0, 50)
        return callbacks.preview(loaded, request.config(session), iterations, start_value, colour=colour)
    except ValueError:
        return gr.skip()


def _preview_photo(source) -> callbacks.Photo:
    """The photo at the preview's size; a file is read once while it is unchanged, not at
    every slider step (a 12 MP upload takes half a second to open and downscale)."""
    if not isinstance(source, str):
        return callbacks.load_photo(source)
    try:
        stat = os.stat(source)
    except OSError:
        return callbacks.load_photo(source)  # says what is wrong with it
    return _small_photo(source, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)  # a few previews' thumbnails: <= 4 x 256^2 RGBA
def _small_photo(path: str, _mtime_ns: int, _size: int) -> callbacks.Photo:
    loaded = callbacks.load_photo(path)
    small = loaded.image.copy()
    small.thumbnail((limits.PREVIEW_SIDE, limits.PREVIEW_SIDE), Image.Resampling.BILINEAR)
    if min(small.size) < MIN_SIDE:  # a sliver: callbacks.preview sizes it from the whole photo
        return loaded
    return dataclasses.replace(loaded, image=small)


@_friendly
def load_code_file(
    code_file: str,
    magnify: float = R.magnify,
    iterations: float = R.iterations,
    start: str = R.start,
    start_image: str | None = None,
    session: Session | None = None,
    device: str | None = None,
):
    """Load a ``.collage`` file back: it becomes the current collage of this session."""
    session = session if session is not None else Session()
    code = callbacks.load_code(code_file)
    views = callbacks.render_views(
        code, None, magnify, iterations, callbacks.start_image(start, start_image), device=device
    )
    notify(views.notes)
    name = callbacks.safe_stem(Path(code_file).stem)
    attractor_path = save_png(views.attractor, session, f"{name}")
    session.code, session.original, session.config, session.name = code, None, None, name
    zoom_path = _zoom_image(code, views, attractor_path, session, name)
    bicubic_path = save_jpeg(views.bicubic, session, f"{name}-bicubic")
    return attractor_path, None, bicubic_path, callbacks.readout(views, code), attractor_path, zoom_path, session


# -------------------------------------------------------------------------- layout
def build(session, zoom_source, examples, choices, device: str | None = None):
    """The tab's components and events. Returns ``(preset dropdown, save button, save inputs)``."""
    heavy = {"concurrency_id": limits.HEAVY_WORK, "concurrency_limit": limits.CONCURRENCY_LIMIT}
    with gr.Row(elem_classes="studio-row"):
        with gr.Column(scale=1, min_width=300, elem_classes="studio-controls", elem_id="fractalize-controls"):
            photo = SafeImage(
                label="Photo",
                type="filepath",
                sources=["upload", "clipboard", "webcam"],
                elem_id="photo",
                height=240,
            )
            if examples:
                gr.Examples(examples=[[p] for p in examples], inputs=[photo], label="Examples (one click)")
            preset = gr.Dropdown(choices, value=NO_PRESET, label="Preset", elem_id="preset")
            grid = gr.Slider(2, 128, value=R.grid, step=1, label="Grid (cells a side)", elem_id="grid")
            symmetries = gr.Radio(["none", "rot", "d4"], value=R.symmetries, label="Symmetries", elem_id="symmetries")
            copies = gr.Radio(
                COPIES,
                value=R.copies,
                label="Copies per cell",
                info="1: the photo stays sharp inside itself at every depth; soft: closest at 1×",
                elem_id="copies",
            )
            cells = gr.Radio(
                CELLS,
                value=R.cells,
                label="Cells",
                info="hard grid: crisp square tiles; blended: no seams at 1× or at depth, one sharp copy per cell; "
                "auto: blended where the grid allows; adaptive: big cells where the photo is calm (hard, same cell count)",
                elem_id="cells",
            )
            copy_colours = gr.Radio(
                COPY_COLOURS,
                value=R.copy_colours,
                label="Copy colours",
                info="the photo's: every copy keeps the photo's colours at any depth; "
                "per channel: up to 0.6 dB closer at 1× (soft copies most), tinted copies when you zoom",
                elem_id="copy-colours",
            )
            strength = gr.Slider(
                0.0,
                FractalizeConfig.s_max,  # the contraction bound: the same range as `collage --strength`
                value=R.strength,
                step=0.05,
                label="Self-similarity strength",
                elem_id="strength",
            )
            magnify = gr.Slider(
                1, limits.MAX_MAGNIFY, value=R.magnify, step=0.5, label="Magnification", elem_id="magnify"
            )
            colour = gr.Dropdown(
                COLOURS,
                value=R.colour,
                label="Colour",
                info=COLOUR_INFO,
                allow_custom_value=True,  # a saved preset's "ice:0.7"; the engine checks the name
                elem_id="colour",
            )
            with gr.Accordion("More: style, refinement, iterations", open=False):
                style = SafeImage(
                    label="Style source (optional)", type="filepath", sources=["upload", "clipboard"], height=160
                )
                refine = gr.Slider(0, limits.MAX_REFINE_STEPS, value=R.refine_steps, step=10, label="Refinement steps")
                iterations = gr.Slider(
                    0,
                    50,
                    value=R.iterations,
                    step=1,
                    label="Iterations from the start image",
                    info="0 = the exact attractor",
                )
                start = gr.Radio(START_CHOICES, value=R.start, label="Start image")
                start_image = SafeImage(
                    label="Start photo", type="filepath", sources=["upload", "clipboard"], height=160
                )
                seed = SafeNumber(R.seed, precision=0, label="Seed")
            live = gr.Checkbox(True, label="Live preview as sliders move")
            preview = gr.Image(
                label="Live preview (fast settings)",
                interactive=False,
                height=200,
                format="png",
                elem_id="preview",
                buttons=["fullscreen"],
            )
            with gr.Accordion("Load a code file", open=False):
                load_file = gr.File(label=".collage file", file_types=[".collage"], elem_id="load-code")
            preset_name, preset_desc, preset_save = presets.build_save_panel()
        with gr.Column(scale=2, elem_classes="studio-results", elem_id="fractalize-results"):
            run, stop = action_bar("Fractalize", "fractalize-btn")
            readout = gr.Markdown("Drop a photo or click an example, then press **Fractalize**.", elem_id="readout")
            with gr.Row(equal_height=True, elem_classes="studio-panels"):
                attractor = gr.Image(
                    label="Attractor (collage)",
                    interactive=False,
                    elem_id="attractor",
                    buttons=VIEW_BUTTONS,
                    height=280,
                )
                original = gr.Image(
                    label="Original", interactive=False, elem_id="original", buttons=VIEW_BUTTONS, height=280
                )
                bicubic = gr.Image(
                    label="Bicubic upscaling",
                    interactive=False,
                    elem_id="bicubic",
                    buttons=VIEW_BUTTONS,
                    height=280,
                )
            with gr.Row():
                png_file = gr.File(label="PNG", interactive=False, elem_id="png-file", height=100)
                code_file = gr.File(label="Fractal code (.collage)", interactive=False, elem_id="code-file", height=100)
            converge.build(session, start, start_image)

    fractalize_inputs = [
        photo,
        preset,
        grid,
        symmetries,
        strength,
        style,
        refine,
        iterations,
        start,
        start_image,
        magnify,
        seed,
        copies,
        cells,
        colour,
        copy_colours,
        session,
    ]
    run.click(
        on_device(fractalize_panels, device),
        inputs=fractalize_inputs,
        outputs=[attractor, original, bicubic, readout, png_file, code_file, zoom_source],
        api_name="fractalize_panels",
        api_visibility="undocumented",
        **heavy,
    )
    # The lean API endpoint (no panels to fill): image in, image out first, then readout and code.
    api_trigger = gr.Button(visible=False)
    api_trigger.click(
        on_device(fractalize, device),
        inputs=fractalize_inputs,
        outputs=[attractor, readout, code_file],
        api_name="fractalize",
        **heavy,
    )
    preset.change(
        presets.apply_preset,
        inputs=[preset, session],
        outputs=[grid, symmetries, strength, refine, iterations, start, magnify, seed, copies, cells, copy_colours],
        api_visibility="private",
    )
    preset.change(presets.preset_colour, inputs=[preset, session], outputs=[colour], api_visibility="private")
    preview_inputs = [
        photo,
        preset,
        grid,
        symmetries,
        strength,
        iterations,
        start,
        start_image,
        live,
        session,
        copies,
        cells,
        colour,
        copy_colours,
    ]
    light = {"concurrency_id": limits.PREVIEW_WORK, "concurrency_limit": limits.PREVIEW_CONCURRENCY}
    photo.upload(check_upload, inputs=[photo], api_visibility="private", **light)
    photo.clear(lambda: None, outputs=[preview], api_visibility="private", queue=False)
    # Every control the preview reads triggers it, except the preset (which moves the
    # controls), the on/off box and the session.
    for control in (c for c in preview_inputs if all(c is not other for other in (preset, live, session))):
        control.change(
            live_preview,
            inputs=preview_inputs,
            outputs=[preview],
            trigger_mode="always_last",
            show_progress="hidden",
            api_visibility="private",
            **light,
        )
    stop.click(cancel, inputs=[session], api_visibility="private", queue=False)
    load_file.upload(
        on_device(load_code_file, device),
        inputs=[load_file, magnify, iterations, start, start_image, session],
        outputs=[attractor, original, bicubic, readout, png_file, zoom_source, session],
        api_name="load_code",
        **heavy,
    )
    save_inputs = [
        preset_name,
        preset_desc,
        grid,
        symmetries,
        strength,
        refine,
        iterations,
        start,
        magnify,
        session,
        copies,
        cells,
        colour,
        copy_colours,
    ]
    return preset, preset_save, save_inputs
