"""The studio's page: three tabs (Fractalize, Zoom, Digits) and their event wiring.

Handlers here are thin: they adapt Gradio values (file paths, ``gr.State``, progress)
to the plain functions in :mod:`app.callbacks`, write the files Gradio serves, and turn
``ValueError`` into a ``gr.Error`` the page shows. Named API endpoints: ``fractalize``
(image in, image out first), ``zoom`` and ``sample``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

import collage_core as cc  # noqa: E402
from collage_core.copies import parse_copies  # noqa: E402
from collage_core.presets import Preset, user_dir  # noqa: E402
from collage_core.resources import example_photos  # noqa: E402
from collage_core.tone import check_look  # noqa: E402

from . import callbacks, inputs, limits, user_presets  # noqa: E402
from .explore_server import routes as explore_routes  # noqa: E402
from .guard import (  # noqa: E402, F401 - re-exported
    ERROR_SECONDS,
    SafeImage,
    SafeNumber,
    log,
    quiet_preprocess,  # noqa: E402
    user_error,
)
from .guard import friendly as _friendly  # noqa: E402
from .session import Session, new_session, sweep  # noqa: E402
from .sweep import sweep_stale  # noqa: E402

NO_PRESET = "(none)"
SIZES = ["128×128", "256×256", "384×384", "512×512", "640×360", "768×768", "1024×1024"]
FORMATS = ["GIF", "MP4", "WebP"]
VIEW_BUTTONS = ["download", "fullscreen"]  # no "share": nothing leaves this machine
EASINGS = ["ease-in-out", "linear", "ease-in", "ease-out", "sine"]
# Tone of deep frames: true keeps the photo's colours (levels on luma), vivid stretches each channel.
COLOURS = ["true", "vivid", "off"]
# Copies per cell: sharp keeps the photo recognisable inside itself at every depth.
COPIES = [("1 · sharp", "1"), ("2", "2"), ("3", "3"), ("soft · all 8", "soft")]
CSS = """
#readout {min-height: 2.2em}
footer {display: none !important}
"""


def _device() -> str | None:
    """The torch device for this server (``--device`` sets ``NEURAL_COLLAGE_DEVICE``); None = auto."""
    return os.environ.get("NEURAL_COLLAGE_DEVICE") or None


def _notify(notes) -> None:
    for note in notes:
        gr.Warning(note)


def _progress_fn(progress: gr.Progress | None):
    if progress is None:
        return None

    def report(fraction: float, desc: str) -> None:
        progress(fraction, desc=desc)

    return report


def _save_png(image: Image.Image, session: Session, stem: str) -> str:
    path = session.new_path(stem, ".png")
    image.save(path, "PNG", compress_level=1)  # level 1: 3x faster than the default, ~10% larger
    return str(path)


def _save_jpeg(image: Image.Image, session: Session, stem: str) -> str:
    path = session.new_path(stem, ".jpg")
    image.convert("RGB").save(path, "JPEG", quality=90)
    return str(path)


def _display_original(source: str, loaded: callbacks.Photo, session: Session) -> str:
    """The upload itself when browsers show it as is; otherwise the normalised photo as PNG."""
    if not loaded.notes and Path(source).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        return source
    return _save_png(loaded.image, session, loaded.name)


# =============================================================== Fractalize handlers
def _preset(preset, session: Session | None) -> Preset | None:
    """The chosen preset for this visitor: built-ins, then their own (never a path)."""
    return None if preset in (None, "", NO_PRESET) else user_presets.find(session, preset)


def _config_from_controls(preset, grid, symmetries, strength, refine_steps, seed, session=None, copies=None, **extra):
    return callbacks.resolve_config(
        _preset(preset, session),
        clamp_strength=True,
        grid=grid,
        symmetries=symmetries,
        strength=strength,
        refine_steps=refine_steps,
        seed=seed,
        copies=copies,
        **extra,
    )


def _start_value(start: str, start_image):
    if start == "photo":
        if start_image is None:
            raise ValueError("Start is 'photo': upload a start photo, or choose noise or gray.")
        return start_image
    return start


def _fractalize(
    photo,
    preset,
    grid,
    symmetries,
    strength,
    style,
    refine_steps,
    iterations,
    start,
    start_image,
    magnify,
    seed,
    copies,
    session: Session,
    progress,
):
    """Fit and render; the session remembers the collage. Returns (photo, code, views, attractor png, code file)."""
    loaded = callbacks.load_photo(photo)
    _notify(loaded.notes)
    config = _config_from_controls(preset, grid, symmetries, strength, refine_steps, seed, session, copies)
    progress(0.05, desc="fitting")
    code = callbacks.fit(
        loaded, config, style=style, device=_device(), progress=_progress_fn(progress), cancel=session.cancel
    )
    progress(0.8, desc="rendering")
    start_value = _start_value(start, start_image)
    views = callbacks.render_views(code, loaded.image, magnify, iterations, start_value, seed, _device())
    _notify(views.notes)
    stem = f"{loaded.name}-collage"
    attractor_path = _save_png(views.attractor, session, stem)
    code_path = session.new_path(stem, ".collage")
    code.save(code_path)
    session.code, session.original, session.config, session.name = code, loaded.image, config, loaded.name
    return loaded, code, views, attractor_path, str(code_path)


@_friendly
def fractalize(
    photo: str,
    preset: str = NO_PRESET,
    grid: float = 32,
    symmetries: str = "d4",
    strength: float = cc.FractalizeConfig.strength,
    style: str | None = None,
    refine_steps: float = 0,
    iterations: float = 0,
    start: str = "noise",
    start_image: str | None = None,
    magnify: float = 1.0,
    seed: float = 0,
    copies: str = "1",
    session: Session | None = None,
    progress=gr.Progress(),  # noqa: B008 - Gradio's progress hook
):
    """The ``fractalize`` API: a photo in; the attractor (PNG), a readout (PSNR, code size) and the code file out."""
    session = session if session is not None else Session()
    _, code, views, attractor_path, code_path = _fractalize(
        photo,
        preset,
        grid,
        symmetries,
        strength,
        style,
        refine_steps,
        iterations,
        start,
        start_image,
        magnify,
        seed,
        copies,
        session,
        progress,
    )
    session.attractor_digest = None  # no Zoom-tab image was shown for this one
    return attractor_path, callbacks.readout(views, code), code_path


@_friendly
def fractalize_panels(
    photo: str,
    preset: str = NO_PRESET,
    grid: float = 32,
    symmetries: str = "d4",
    strength: float = cc.FractalizeConfig.strength,
    style: str | None = None,
    refine_steps: float = 0,
    iterations: float = 0,
    start: str = "noise",
    start_image: str | None = None,
    magnify: float = 1.0,
    seed: float = 0,
    copies: str = "1",
    session: Session | None = None,
    progress=gr.Progress(),  # noqa: B008
):
    """The Fractalize button: attractor, original, bicubic, readout, PNG, code file, Zoom-tab image."""
    session = session if session is not None else Session()
    loaded, code, views, attractor_path, code_path = _fractalize(
        photo,
        preset,
        grid,
        symmetries,
        strength,
        style,
        refine_steps,
        iterations,
        start,
        start_image,
        magnify,
        seed,
        copies,
        session,
        progress,
    )
    original_path = _display_original(photo, loaded, session)
    bicubic_path = _save_jpeg(views.bicubic, session, f"{loaded.name}-bicubic")
    stem = f"{loaded.name}-collage"
    one = callbacks.studio_magnify(code, 1.0)
    zoom_path = attractor_path if views.magnify == one else _save_png(code.render(one), session, f"{stem}-1x")
    session.attractor_digest = callbacks.digest(zoom_path)
    return (
        attractor_path,
        original_path,
        bicubic_path,
        callbacks.readout(views, code),
        attractor_path,
        code_path,
        zoom_path,
    )


def _preview(photo, preset, grid, symmetries, strength, iterations, start, start_image, session=None, copies="1"):
    loaded = callbacks.load_photo(photo)
    config = _config_from_controls(preset, grid, symmetries, strength, 0, 0, session, copies)
    start_value = start_image if start == "photo" and start_image is not None else start
    if start_value == "photo":
        start_value = "noise"
    return loaded, callbacks.preview(loaded, config, inputs.whole(iterations, "Iterations", 0, 50), start_value)


@_friendly
def check_upload(photo) -> None:
    """On upload: say at once what is wrong with (or was changed in) the photo."""
    if photo is not None:
        _notify(callbacks.load_photo(photo).notes)


def live_preview(
    photo, preset, grid, symmetries, strength, iterations, start, start_image, enabled, session=None, copies="1"
):
    """A fast preview as the sliders move (no refinement, at most PREVIEW_SIDE px); silent on errors,
    which the upload check and the Fractalize button report."""
    if not enabled or photo is None:
        return gr.skip()
    try:
        return _preview(photo, preset, grid, symmetries, strength, iterations, start, start_image, session, copies)[1]
    except ValueError:
        return gr.skip()


@_friendly
def apply_preset(preset, session: Session | None = None):
    """Move the controls to a preset's values (fields it does not set go back to defaults)."""
    defaults = cc.FractalizeConfig()
    p = _preset(preset, session) or Preset(name="defaults")
    cfg = p.config()
    render = p.render
    if p.description:
        gr.Info(p.description)
    return (
        cfg.grid,
        cfg.symmetries,
        cfg.strength,
        cfg.refine_steps,
        render.get("iterations", 0),
        render.get("start", "noise"),
        render.get("magnify", 1),
        gr.update(value=defaults.seed),
        "soft" if cfg.copies is None else str(cfg.copies),
    )


def _suffix(fmt: str) -> str:
    suffix = {"GIF": ".gif", "MP4": ".mp4", "WEBP": ".webp"}.get(str(fmt).upper())
    if suffix is None:
        raise ValueError(f"Format must be one of {FORMATS}, got {fmt!r}.")
    return suffix


def _animation_outputs(path: Path):
    """(image player, video player, download): MP4 plays in the video player, GIF/WebP in the image."""
    if path.suffix == ".mp4":
        return gr.update(value=None, visible=False), gr.update(value=str(path), visible=True), str(path)
    return gr.update(value=str(path), visible=True), gr.update(value=None, visible=False), str(path)


@_friendly
def converge(
    steps: float = 20,
    start: str = "noise",
    start_image: str | None = None,
    fps: float = 6,
    fmt: str = "GIF",
    session: Session | None = None,
    progress=gr.Progress(),  # noqa: B008
):
    """Watch it converge: the iterations from the start image to the attractor, as an animation."""
    if session is None or session.code is None:
        raise ValueError("Fractalize a photo (or load a code file) first.")
    suffix = _suffix(fmt)
    fps = inputs.number(fps, "Frames per second", 1, limits.MAX_FPS)
    result = callbacks.converge_frames(
        session.code,
        steps=steps,
        start=_start_value(start, start_image),
        cancel=session.cancel,
        progress=_progress_fn(progress),
    )
    path = session.new_path(f"{session.name}-converge", suffix)
    callbacks.write_frames(result.frames, path, fps=fps)
    errors = ", ".join(f"{e:.0f}" for e in result.errors[:: max(1, len(result.errors) // 8)])
    info = f"Max difference to the attractor (0–255) along the way: {errors} … {result.errors[-1]:.0f}"
    return (*_animation_outputs(path), info)


@_friendly
def load_code_file(
    code_file: str,
    magnify: float = 1.0,
    iterations: float = 0,
    start: str = "noise",
    start_image: str | None = None,
    session: Session | None = None,
):
    """Load a ``.collage`` file back: it becomes the current collage of this session."""
    session = session if session is not None else Session()
    code = callbacks.load_code(code_file)
    views = callbacks.render_views(code, None, magnify, iterations, _start_value(start, start_image))
    _notify(views.notes)
    name = callbacks.safe_stem(Path(code_file).stem)
    attractor_path = _save_png(views.attractor, session, f"{name}")
    one = callbacks.studio_magnify(code, 1.0)
    zoom_path = attractor_path if views.magnify == one else _save_png(code.render(one), session, f"{name}-1x")
    session.code, session.original, session.config, session.name = code, None, None, name
    session.attractor_digest = callbacks.digest(zoom_path)
    bicubic_path = _save_jpeg(views.bicubic, session, f"{name}-bicubic")
    return attractor_path, None, bicubic_path, callbacks.readout(views, code), attractor_path, zoom_path, session


@_friendly
def save_user_preset(
    name, description, grid, symmetries, strength, refine_steps, iterations, start, magnify, session=None, copies="1"
):
    """Save the current controls as a preset of this session (and the local user's, on localhost)."""
    if not isinstance(session, Session):
        raise ValueError("Presets are saved from the studio's page.")
    fractalize_values = {
        "grid": inputs.whole(grid, "Grid", cc.config.MIN_GRID, cc.config.MAX_GRID),
        "symmetries": symmetries,
        "strength": inputs.number(strength, "Strength", 0.0, 1.0),
        "copies": "soft" if parse_copies(copies) is None else parse_copies(copies),
    }
    refine_steps = inputs.whole(refine_steps, "Refinement steps", 0, limits.MAX_REFINE_STEPS)
    if refine_steps:
        fractalize_values["refine_steps"] = refine_steps
    render = {"magnify": inputs.number(magnify, "Magnification", 1, limits.MAX_MAGNIFY)}
    iterations = inputs.whole(iterations, "Iterations", 0, 50)
    if iterations:
        render.update(iterations=iterations, start=start if start in ("noise", "gray") else "noise")
    preset = user_presets.save(session, name, description, fractalize_values, render)
    where = f"this session and {user_dir()}" if user_presets.shared_with_local_user() else "this browser session"
    gr.Info(f"Saved preset '{preset.name}' for {where}.")
    choices = _preset_choices(session)
    return gr.update(choices=choices, value=preset.name), gr.update(choices=choices)


def _preset_choices(session: Session | None) -> list[str]:
    return [NO_PRESET, *user_presets.names(session)]


def refresh_presets(session: Session | None = None):
    """On page load: this visitor's presets (the local user's may have changed since start)."""
    choices = _preset_choices(session)
    return gr.update(choices=choices), gr.update(choices=choices)


# ===================================================================== Zoom handlers
def parse_target(text: str | None) -> tuple[float, float] | None:
    """``"x, y"`` in 0..1 (fractions of width and height) or empty for the auto loop point."""
    if text is None or not str(text).strip() or str(text).strip().lower().startswith("auto"):
        return None
    try:
        x, y = (float(v) for v in str(text).replace(";", ",").split(","))
    except ValueError:
        raise ValueError(
            f"Target must be 'x, y' with numbers in 0..1, or empty for the auto loop point; got {text!r}."
        ) from None
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise ValueError(f"Target coordinates must lie in 0..1, got {x}, {y}.")
    return (x, y)


def pick_target(evt: gr.SelectData, source):
    """Clicking the image sets the zoom target to the clicked point."""
    if source is None or evt is None or evt.index is None:
        return gr.skip()
    with Image.open(source) as img:
        w, h = img.size
    x, y = evt.index[:2]
    return f"{(x + 0.5) / w:.4f}, {(y + 0.5) / h:.4f}"


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in str(text).lower().replace("×", "x").split("x"))
    except ValueError:
        raise ValueError(f"Size must look like 512x512, got {text!r}.") from None
    if not (16 <= w <= limits.MAX_ANIMATION_SIDE and 16 <= h <= limits.MAX_ANIMATION_SIDE):
        raise ValueError(f"Animation sides must be between 16 and {limits.MAX_ANIMATION_SIDE} px, got {w}×{h}.")
    return w, h


def _zoom_code(source, preset, loop: bool, session: Session, progress):
    """The collage to zoom into: the photo refitted with the chosen look.

    One look everywhere: the photo behind the Fractalize tab's attractor and a photo
    dropped here are fitted alike (as ``collage zoom --preset LOOK`` does), so the same
    photo and look give the same zoom. With no look, the Fractalize tab's collage is
    used as it is (a loop plants its loop cell in a refit).
    """
    look = _preset(preset, session)
    extra = {"plant_loop": True} if loop else {}
    from_session = session.code is not None and source is not None
    if from_session and callbacks.digest(source) == session.attractor_digest:
        code, photo, name = session.code, session.original, session.name
        if photo is None or (look is None and (not loop or "loop_cell" in code.meta)):
            return code, name  # a loaded code file has no photo to refit
        config = callbacks.resolve_config(look, **extra) if look else session.config.override(**extra)
    else:
        if source is None:
            raise ValueError("No image to zoom into: fractalize a photo first, or drop one here.")
        loaded = callbacks.load_photo(source)
        _notify(loaded.notes)
        photo, name = loaded.image, loaded.name
        config = callbacks.resolve_config(look, **extra)
    key = (callbacks.digest(photo), photo.mode, photo.size, config)
    if session.zoom_code is not None and session.zoom_code[0] == key:
        return session.zoom_code[1], name
    progress(0.02, desc="fitting the zoom look")
    code = callbacks.fit(photo, config, device=_device(), cancel=session.cancel)
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
):
    """Export an infinite zoom; returns (animation for the page, video for the page, download)."""
    session = session if session is not None else Session()
    center = parse_target(target)
    _suffix(fmt)  # fail fast, before any fitting
    depth = inputs.number(depth, "Depth", 0.0, math.log10(limits.MAX_ZOOM))
    seconds = inputs.number(seconds, "Duration", 0.0, limits.MAX_SECONDS)
    fps = inputs.whole(fps, "Frames per second", 1, limits.MAX_FPS)
    code, name = _zoom_code(source, preset, bool(loop), session, progress)
    path = session.new_path(f"{name}-zoom", _suffix(fmt))
    callbacks.export_zoom(
        code,
        path,
        zoom=10**depth,
        seconds=seconds,
        fps=fps,
        size=parse_size(size),
        center=center,
        loop=bool(loop),
        pingpong=bool(pingpong),
        easing=easing,
        progress=_progress_fn(progress),
        cancel=session.cancel,
        device=_device(),
        colour=colour,
    )
    return _animation_outputs(path)


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
    if look in (None, "", NO_PRESET):
        return (gr.skip(),) * 7
    z = user_presets.find(session, look).zoom
    depth = math.log10(z["zoom"]) if "zoom" in z and z["zoom"] > 1 else None
    tone = check_look(z["autocontrast"]).replace("colour", "true") if "autocontrast" in z else None
    values = (depth, z.get("seconds"), z.get("fps"), z.get("easing"), z.get("loop"), z.get("pingpong"), tone)
    return tuple(gr.skip() if v is None else v for v in values)


def cancel(session: Session | None):
    """The Cancel button: long work in this session stops at its next check."""
    if session is not None:
        session.cancel.set()
    gr.Info("Cancelling…")


# ==================================================================== Digits handler
@_friendly
def sample(seed: float = 0, temperature: float = 1.0, count: float = 16, magnify: float = 4, progress=gr.Progress()):  # noqa: B008
    """Sample digits from the Collage VAE: gallery at ``magnify``, one digit at 40× vs bicubic."""
    progress(0.1, desc="sampling")
    digits = callbacks.sample_digits(count, magnify, temperature, seed)
    _notify(digits.notes)
    gallery = [(img, f"#{i + 1}") for i, img in enumerate(digits.tiles)]
    return gallery, digits.collage40, digits.bicubic40, digits.summary


# ============================================================================ layout
def build_demo(device: str | None = None, host: str | None = None) -> gr.Blocks:
    """The studio's page.

    Args:
        device: torch device for fitting and rendering (``None``: ``$NEURAL_COLLAGE_DEVICE`` or auto).
        host: the interface the server will listen on; presets saved from the page are shared
            with the local user's folder only for a localhost server (``None``: per session only).
    """
    if device not in (None, "", "auto"):
        cc.pick_device(device)  # raises ValueError for an unavailable device
        os.environ["NEURAL_COLLAGE_DEVICE"] = device
    for folder in sweep_stale():
        log.info("removed the temporary folder of a server that is gone: %s", folder)
    sweep()
    user_presets.configure(host)
    examples = [str(p) for p in example_photos()]
    preset_choices = _preset_choices(None)
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
                height=420,
            )
            with gr.Tab("Fractalize", id="fractalize"):
                preset, preset_save, save_inputs = _fractalize_tab(session, zoom_source, examples, preset_choices)
            with gr.Tab("Zoom", id="zoom"):
                look = _zoom_tab(session, zoom_source, preset_choices)
            with gr.Tab("Explore", id="explore") as explore_tab:
                from .tabs import explore  # imports this module: only once it is complete

                explore.build(session, explore_tab)
            with gr.Tab("Digits", id="digits"):
                _digits_tab()
        # Wired here: a saved preset is offered at once in both tabs' dropdowns.
        preset_save.click(save_user_preset, inputs=save_inputs, outputs=[preset, look], api_visibility="private")
        demo.load(refresh_presets, inputs=[session], outputs=[preset, look], api_visibility="private", queue=False)
    quiet_preprocess(demo)
    return demo


def _fractalize_tab(session, zoom_source, examples, preset_choices):
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            photo = SafeImage(
                label="Photo",
                type="filepath",
                sources=["upload", "clipboard", "webcam"],
                elem_id="photo",
                height=280,
            )
            if examples:
                gr.Examples(examples=[[p] for p in examples], inputs=[photo], label="Examples (one click)")
            preset = gr.Dropdown(preset_choices, value=NO_PRESET, label="Preset", elem_id="preset")
            grid = gr.Slider(2, 128, value=32, step=1, label="Grid (cells a side)", elem_id="grid")
            symmetries = gr.Radio(["none", "rot", "d4"], value="d4", label="Symmetries", elem_id="symmetries")
            copies = gr.Radio(
                COPIES,
                value="1",
                label="Copies per cell (1: the photo stays sharp inside itself; soft: closest at 1×)",
                elem_id="copies",
            )
            strength = gr.Slider(
                0.0,
                0.95,
                value=cc.FractalizeConfig.strength,
                step=0.05,
                label="Self-similarity strength",
                elem_id="strength",
            )
            magnify = gr.Slider(1, limits.MAX_MAGNIFY, value=1, step=0.5, label="Magnification", elem_id="magnify")
            with gr.Row():
                run = gr.Button("Fractalize", variant="primary", elem_id="fractalize-btn", scale=3)
                stop = gr.Button("Cancel", variant="stop", elem_id="fractalize-cancel", scale=1)
            with gr.Accordion("More: style, refinement, iterations", open=False):
                style = SafeImage(
                    label="Style source (optional)", type="filepath", sources=["upload", "clipboard"], height=160
                )
                refine = gr.Slider(0, limits.MAX_REFINE_STEPS, value=0, step=10, label="Refinement steps")
                iterations = gr.Slider(
                    0, 50, value=0, step=1, label="Iterations from the start image (0 = exact attractor)"
                )
                start = gr.Radio(["noise", "gray", "photo"], value="noise", label="Start image")
                start_image = SafeImage(
                    label="Start photo", type="filepath", sources=["upload", "clipboard"], height=160
                )
                seed = SafeNumber(0, precision=0, label="Seed")
            live = gr.Checkbox(True, label="Live preview as sliders move")
            preview = gr.Image(
                label="Live preview (fast settings)",
                interactive=False,
                height=200,
                format="png",
                elem_id="preview",
                buttons=["fullscreen"],
            )
        with gr.Column(scale=2):
            with gr.Row(equal_height=True):
                original = gr.Image(label="Original", interactive=False, elem_id="original", buttons=VIEW_BUTTONS)
                attractor = gr.Image(
                    label="Attractor (collage)", interactive=False, elem_id="attractor", buttons=VIEW_BUTTONS
                )
                bicubic = gr.Image(
                    label="Bicubic, same magnification", interactive=False, elem_id="bicubic", buttons=VIEW_BUTTONS
                )
            readout = gr.Markdown("Drop a photo or click an example, then press **Fractalize**.", elem_id="readout")
            with gr.Row():
                png_file = gr.File(label="PNG", interactive=False, elem_id="png-file")
                code_file = gr.File(label="Fractal code (.collage)", interactive=False, elem_id="code-file")
            with gr.Accordion("Watch it converge", open=False):
                with gr.Row():
                    conv_steps = gr.Slider(1, limits.MAX_CONVERGE_FRAMES, value=20, step=1, label="Iterations")
                    conv_fps = gr.Slider(2, 30, value=6, step=1, label="Frames per second")
                conv_fmt = gr.Radio(FORMATS, value="GIF", label="Format")
                conv_run = gr.Button("Make the animation", elem_id="converge-btn")
                conv_anim = gr.Image(
                    label="Convergence", type="filepath", format="gif", interactive=False, buttons=VIEW_BUTTONS
                )
                conv_video = gr.Video(label="Convergence (MP4)", interactive=False, visible=False)
                conv_file = gr.File(label="Download", interactive=False, elem_id="converge-file")
                conv_info = gr.Markdown()
            with gr.Accordion("Load a code file", open=False):
                load_file = gr.File(label=".collage file", file_types=[".collage"], elem_id="load-code")
            with gr.Accordion("Save these settings as a preset", open=False):
                with gr.Row():
                    preset_name = gr.Textbox(label="Name", placeholder="my-look")
                    preset_desc = gr.Textbox(label="Description", placeholder="What it looks like")
                gr.Markdown(
                    f"Saved for this browser session and to `{user_dir()}` (set `NEURAL_COLLAGE_PRESETS` to change)."
                    if user_presets.shared_with_local_user()
                    else "Saved for this browser session only (this server is shared)."
                )
                preset_save = gr.Button("Save preset")

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
        session,
    ]
    run.click(
        fractalize_panels,
        inputs=fractalize_inputs,
        outputs=[attractor, original, bicubic, readout, png_file, code_file, zoom_source],
        api_name="fractalize_panels",
        api_visibility="undocumented",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
    )
    # The lean API endpoint (no panels to fill): image in, image out first, then readout and code.
    api_trigger = gr.Button(visible=False)
    api_trigger.click(
        fractalize,
        inputs=fractalize_inputs,
        outputs=[attractor, readout, code_file],
        api_name="fractalize",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
    )
    preset.change(
        apply_preset,
        inputs=[preset, session],
        outputs=[grid, symmetries, strength, refine, iterations, start, magnify, seed, copies],
        api_visibility="private",
    )
    preview_inputs = [photo, preset, grid, symmetries, strength, iterations, start, start_image, live, session, copies]
    light = {"concurrency_id": limits.PREVIEW_WORK, "concurrency_limit": limits.PREVIEW_CONCURRENCY}
    photo.upload(check_upload, inputs=[photo], api_visibility="private", **light)
    photo.clear(lambda: None, outputs=[preview], api_visibility="private", queue=False)
    for control in (photo, grid, symmetries, strength, iterations, start, start_image, copies):
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
    conv_run.click(
        converge,
        inputs=[conv_steps, start, start_image, conv_fps, conv_fmt, session],
        outputs=[conv_anim, conv_video, conv_file, conv_info],
        api_name="converge",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
    )
    load_file.upload(
        load_code_file,
        inputs=[load_file, magnify, iterations, start, start_image, session],
        outputs=[attractor, original, bicubic, readout, png_file, zoom_source, session],
        api_name="load_code",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
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
    ]
    return preset, preset_save, save_inputs


def _zoom_tab(session, zoom_source, preset_choices):
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            gr.Markdown(
                "Zooms into the collage from the **Fractalize** tab (or a photo dropped here). "
                "Click the image to pick the target, or leave the target empty for the auto loop point."
            )
            zoom_source.render()
            with gr.Row():
                target = gr.Textbox(
                    "", label="Target x, y (0..1; empty = auto loop point)", elem_id="zoom-target", scale=3
                )
                auto = gr.Button("Auto loop point", scale=1, size="sm")
            look = gr.Dropdown(
                preset_choices,
                value="deep-zoom" if "deep-zoom" in preset_choices else NO_PRESET,
                label="Look: the photo is refitted with it for zooming ((none): the Fractalize tab's collage)",
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
                    info="true: the photo's colours; vivid: each channel stretched",
                    elem_id="zoom-colour",
                )
            with gr.Row():
                loop = gr.Checkbox(False, label="Seamless loop")
                pingpong = gr.Checkbox(False, label="Ping-pong (zoom in, then out)")
            with gr.Row():
                fmt = gr.Radio(FORMATS, value="GIF", label="Format", elem_id="zoom-format")
                size = gr.Dropdown(SIZES, value="256×256", label="Size", elem_id="zoom-size")
            with gr.Row():
                go = gr.Button("Export zoom", variant="primary", elem_id="zoom-btn")
                stop = gr.Button("Cancel", variant="stop", elem_id="zoom-cancel")
        with gr.Column(scale=1):
            anim = gr.Image(
                label="Zoom",
                type="filepath",
                format="gif",
                interactive=False,
                elem_id="zoom-anim",
                buttons=VIEW_BUTTONS,
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
        zoom,
        inputs=[zoom_source, look, target, depth, seconds, fps, easing, loop, pingpong, fmt, size, session, colour],
        outputs=[anim, video, download],
        api_name="zoom",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
    )
    stop.click(cancel, inputs=[session], api_visibility="private", queue=False)
    return look


def _digits_tab():
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            gr.Markdown(
                "Digits sampled from a **Collage VAE**: its decoder outputs a collage, so every digit "
                "renders at any resolution. Compare 40× with bicubic upscaling of the 1× sample."
            )
            seed = SafeNumber(0, precision=0, label="Seed", elem_id="digits-seed")
            temperature = gr.Slider(0.1, 1.5, value=1.0, step=0.05, label="Temperature")
            count = gr.Slider(1, limits.MAX_DIGITS, value=16, step=1, label="Count", elem_id="digits-count")
            magnify = gr.Slider(1, limits.MAX_DIGIT_MAGNIFY, value=4, step=1, label="Magnification of the gallery")
            go = gr.Button("Sample", variant="primary", elem_id="digits-btn")
        with gr.Column(scale=2):
            gallery = gr.Gallery(
                label="Samples", columns=8, height=360, elem_id="digits-gallery", buttons=["download", "fullscreen"]
            )
            with gr.Row():
                collage40 = gr.Image(
                    label="Digit #1 at 40×: Collage",
                    interactive=False,
                    format="png",
                    buttons=VIEW_BUTTONS,
                    elem_id="digits-collage40",
                )
                bicubic40 = gr.Image(
                    label="Digit #1 at 40×: bicubic from 1×", interactive=False, format="png", buttons=VIEW_BUTTONS
                )
            summary = gr.Markdown()
    go.click(
        sample,
        inputs=[seed, temperature, count, magnify],
        outputs=[gallery, collage40, bicubic40, summary],
        api_name="sample",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
    )


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
