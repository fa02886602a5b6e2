"""The Explore tab: the current collage as a live map, keyframed dives, posters and shared views.

The map is a ``gr.HTML`` whose JavaScript (``app/static/explore.js``) runs the vendored
OpenSeadragon viewer; its tiles and re-rooting come from plain HTTP routes on the same
server (:mod:`app.explore_server`), and where the viewer settles is posted back there.
The buttons below it are ordinary Gradio events that read that settled view from the
session's exploration: "Add keyframe", "Export dive", "Save this view", "Share".
"""

from __future__ import annotations

import json
import secrets
from fractions import Fraction
from pathlib import Path

import gradio as gr

import collage_core as cc
from collage_core.palette import PALETTES, parse_colour
from collage_core.poster import MAX_POSTER_SIDE
from collage_core.view_spec import ViewSpec
from collage_core.zoom import keyframes_json

from .. import callbacks, limits
from ..explore_server import SERVICE, Exploration
from ..guard import friendly as _friendly
from ..session import Session
from .common import (
    EASINGS,
    FORMATS,
    VIEW_BUTTONS,
    animation_outputs,
    cancel,
    count_progress,
    notify,
    on_device,
    parse_size,
    suffix,
)

POSTER_SIDES = ["1024", "2048", "4096", "8192", "16384"]
DIVE_SIZES = ["256×256", "384×384", "512×512", "640×360", "768×768"]
HEAD = (
    '<link rel="stylesheet" href="explore/static/explore.css">'
    '<script src="explore/static/openseadragon.min.js"></script>'
    '<script src="explore/static/explore.js"></script>'
)
TEMPLATE = (
    '<div class="ce-root" id="explore-root">'
    '<div class="ce-viewer"></div>'
    '<div class="ce-hud"><span class="ce-depth" id="explore-depth">×1</span>'
    '<button class="ce-in" title="Zoom in (+)">+</button><button class="ce-out" title="Zoom out (-)">−</button>'
    '<button class="ce-home" title="The whole image">⌂</button></div>'
    '<div class="ce-empty">Fractalize a photo (or drop one, or a .collage, above), then press Explore.</div>'
    '<div class="ce-hint">scroll or pinch to zoom · drag to pan · double-click to dive · + / − keys</div>'
    "</div>"
)
MOUNT = "window.CollageExplore && window.CollageExplore.mount(element, props, watch);"


# ------------------------------------------------------------------------ handlers
def _exploration(session: Session | None) -> Exploration:
    exp = getattr(session, "exploration", None)
    if exp is None:
        raise ValueError("Press Explore first: there is no map yet.")
    return exp


def _viewer_value(exp: Exploration, center=None, zoom=None) -> str:
    config = exp.config(center, zoom)
    config["nonce"] = secrets.token_hex(4)  # a new value re-opens the viewer even at the same place
    return json.dumps(config)


def _start(session: Session, colour: str = "true") -> str:
    if session.code is None:
        raise ValueError("Nothing to explore yet: fractalize a photo, or drop a photo or a .collage above.")
    exploration = SERVICE.start(session.code, session.name, colour)  # checks the colour first
    old = getattr(session, "exploration", None)
    if old is not None:
        SERVICE.forget(old.token)
    session.exploration = exploration
    session.keyframes = []
    return _viewer_value(session.exploration)


def _colour(exp: Exploration) -> str:
    """The map's colour setting as the engine's calls take it."""
    return exp.palette.spec if exp.palette is not None else "true"


@_friendly
def explore(session: Session | None = None, colour: str = "true"):
    """The Explore button: a fresh map of the session's collage (and an empty keyframe list)."""
    session = session if session is not None else Session()
    return _start(session, colour), _keyframe_table([]), None


def explore_if_new(session: Session | None = None, colour: str = "true"):
    """Opening the tab: start a map when the session's collage changed since the last one."""
    exp = getattr(session, "exploration", None)
    if session is None or session.code is None or (exp is not None and exp.code is session.code):
        return gr.skip(), gr.skip(), gr.skip()
    return explore(session, colour)


@_friendly
def recolour(colour: str = "true", session: Session | None = None):
    """The Colour control: the same map, at the same view, painted anew (its tiles get new
    URLs, so the browser shows no stale ones); the keyframes are kept."""
    exp = getattr(session, "exploration", None)
    if exp is None or session.code is None:
        parse_colour(colour)  # still tell a person about a bad name
        return gr.skip()
    center, zoom = exp.current_view()
    keys = list(getattr(session, "keyframes", None) or [])
    _start(session, colour)
    session.keyframes = keys
    return (
        _viewer_value(session.exploration, center, zoom) if exp.view is not None else _viewer_value(session.exploration)
    )


@_friendly
def explore_upload(
    source: str | None,
    session: Session | None = None,
    colour: str = "true",
    progress=gr.Progress(),  # noqa: B008
    device: str | None = None,
):
    """A photo or a .collage dropped on the Explore tab becomes the session's collage, then a map."""
    session = session if session is not None else Session()
    if not source:
        return gr.skip(), gr.skip(), gr.skip()
    if Path(source).suffix.lower() == ".collage":
        code, name = callbacks.load_code(source), callbacks.safe_stem(Path(source).stem)
        session.original, session.config = None, None
    else:
        photo = callbacks.load_photo(source)
        notify(photo.notes)
        config = callbacks.resolve_config("deep-zoom")
        progress(0.1, desc="fitting")
        code, name = callbacks.fit(photo, config, device=device), photo.name
        session.original, session.config = photo.image, config
    session.code, session.name, session.attractor_digest = code, name, None
    return explore(session, colour)


def _keyframe_table(keys) -> str:
    if not keys:
        return "No keyframes yet: move the map, then press **Add keyframe** (at least two for a dive)."
    rows = [f"| {i} | {float(x):.6f}, {float(y):.6f} | ×{float(z):.3g} |" for i, ((x, y), z) in enumerate(keys, 1)]
    return "| # | centre | zoom |\n|---|---|---|\n" + "\n".join(rows)


@_friendly
def add_keyframe(session: Session | None = None):
    """Record where the map is now as the next keyframe; returns the table and a keyframes file."""
    exp = _exploration(session)
    keys = getattr(session, "keyframes", None) or []
    view = exp.current_view()
    if keys and keys[-1] == view:
        gr.Info("The map has not moved since the last keyframe.")
    else:
        keys.append(view)
    session.keyframes = keys
    path = session.new_path(f"{session.name}-keyframes", ".json")
    path.write_text(keyframes_json(keys), encoding="utf-8")
    return _keyframe_table(keys), str(path)


def clear_keyframes(session: Session | None = None):
    if session is not None:
        session.keyframes = []
    return _keyframe_table([]), None


@_friendly
def export_dive(
    seconds: float = 6,
    fps: float = 12,
    size: str = "256×256",
    fmt: str = "GIF",
    easing: str = "ease-in-out",
    session: Session | None = None,
    progress=gr.Progress(),  # noqa: B008
    device: str | None = None,
):
    """Render a dive through the keyframes (progress bar; the Cancel button stops it)."""
    exp = _exploration(session)
    keys = list(getattr(session, "keyframes", None) or [])
    if len(keys) < 2:
        raise ValueError("A dive needs at least two keyframes: move the map and press Add keyframe twice.")
    ext = suffix(fmt)
    # The per-request limits on time and size; depth costs only log(zoom), so keyframes
    # may go to the engine's 1e15 (the zoom argument here is a placeholder that passes).
    frames = callbacks.check_animation(float(seconds), float(fps), parse_size(size), 2.0)
    path = session.new_path(f"{exp.name}-dive", ext)
    progress(0.0, desc=f"frame 0/{frames}")
    cc.export_zoom(
        exp.code,
        path,
        keyframes=keys,
        seconds=float(seconds),
        fps=int(fps),
        size=parse_size(size),
        easing=easing,
        autocontrast=_colour(exp),  # the dive looks like the map
        progress=count_progress(progress, "frame"),
        cancel=session.cancel,
        device=device,
    )
    return animation_outputs(path)


def poster_size(side: str, viewer_size: tuple[int, int]) -> tuple[int, int]:
    """The poster's pixels: the map's shape with its long side ``side``."""
    try:
        long_side = int(side)
    except (TypeError, ValueError):
        raise ValueError(f"Poster size must be one of {POSTER_SIDES}, got {side!r}.") from None
    if not 16 <= long_side <= MAX_POSTER_SIDE:
        raise ValueError(f"Poster sides must be 16..{MAX_POSTER_SIDE} px, got {long_side}.")
    w, h = viewer_size
    scale = long_side / max(w, h)
    return max(16, round(w * scale)), max(16, round(h * scale))


@_friendly
def save_poster(side: str = "4096", session: Session | None = None, progress=gr.Progress()):  # noqa: B008
    """Save the map's current view as a PNG poster (progress bar; Cancel stops it)."""
    exp = _exploration(session)
    center, zoom = exp.current_view()
    size = poster_size(side, exp.viewer_size)
    # The map shows the view's width 1/zoom across the viewer; a poster of the same
    # shape shows the same region.
    zoom = max(Fraction(1), zoom)
    path = session.new_path(f"{exp.name}-poster-{size[0]}x{size[1]}", ".png")
    progress(0.0, desc="levels")
    report = count_progress(progress, "block")
    cc.render_poster(
        exp.code,
        path,
        size=size,
        center=center,
        zoom=zoom,
        progress=report,
        cancel=session.cancel,
        autocontrast=_colour(exp),
        device="cpu",
    )
    return str(path)


@_friendly
def share_view(session: Session | None = None):
    """The current view as JSON and as a link fragment (restores with the same .collage)."""
    exp = _exploration(session)
    center, zoom = exp.current_view()
    spec = ViewSpec(code=exp.hash, center=center, zoom=max(Fraction(1), zoom))
    return spec.to_json(), spec.to_fragment()


@_friendly
def restore_view(text: str, session: Session | None = None):
    """Open the map at a shared view (JSON or #view= link) of this session's collage."""
    spec = ViewSpec.parse(text)
    session = session if session is not None else Session()
    if session.code is None:
        raise ValueError("Load the .collage this view was made from first (Fractalize tab or drop it here).")
    spec.check_code(session.code)
    exp = getattr(session, "exploration", None)
    if exp is None or exp.code is not session.code:
        _start(session)
        exp = session.exploration
    return _viewer_value(exp, spec.center, spec.zoom)


# -------------------------------------------------------------------------- layout
def build(session: gr.State, tab: gr.Tab, device: str | None = None) -> None:
    """The Explore tab's contents (call inside ``with gr.Tab(...)``); ``device``: the server's torch device."""
    with gr.Row(equal_height=True):
        go = gr.Button("Explore", variant="primary", elem_id="explore-btn", scale=2)
        drop = gr.File(
            label="…or drop a photo or a .collage",
            file_types=["image", ".collage"],
            elem_id="explore-drop",
            height=90,
            scale=3,
        )
        colour = gr.Dropdown(
            ["true", *PALETTES],
            value="true",
            label="Colour",
            info="true: the photo's colours; or a palette",
            allow_custom_value=True,  # "ice:0.7"; the engine checks the name
            elem_id="explore-colour",
            scale=1,
        )
    viewer = gr.HTML("", html_template=TEMPLATE, js_on_load=MOUNT, head=HEAD, elem_id="explore-map", min_height=320)
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            gr.Markdown("**Dive**: record views as keyframes, then render a video through them.")
            with gr.Row():
                add = gr.Button("Add keyframe", elem_id="explore-add-keyframe")
                clear = gr.Button("Clear keyframes", size="sm")
            table = gr.Markdown(_keyframe_table([]), elem_id="explore-keyframes")
            with gr.Row():
                seconds = gr.Slider(1, 30, value=6, step=1, label="Duration (s)", elem_id="explore-seconds")
                fps = gr.Slider(2, 30, value=12, step=1, label="Frames per second", elem_id="explore-fps")
            with gr.Row():
                size = gr.Dropdown(DIVE_SIZES, value="256×256", label="Size", elem_id="explore-size")
                fmt = gr.Radio(FORMATS, value="GIF", label="Format", elem_id="explore-format")
                easing = gr.Dropdown(EASINGS, value="ease-in-out", label="Easing")
            with gr.Row():
                dive = gr.Button("Export dive", variant="primary", elem_id="explore-export")
                stop = gr.Button("Cancel", variant="stop", elem_id="explore-cancel")
            anim = gr.Image(
                label="Dive", type="filepath", format="gif", interactive=False, elem_id="explore-anim",
                buttons=VIEW_BUTTONS,
            )  # fmt: skip
            video = gr.Video(label="Dive (MP4)", interactive=False, visible=False, elem_id="explore-video")
            dive_file = gr.File(label="Download the dive", interactive=False, elem_id="explore-dive-file")
            keys_file = gr.File(label="Keyframes (for collage zoom --keyframes)", interactive=False)
        with gr.Column(scale=2, min_width=280):
            gr.Markdown("**Poster**: this view as a PNG, up to 16384 px.")
            side = gr.Dropdown(POSTER_SIDES, value="4096", label="Long side (px)", elem_id="explore-poster-size")
            with gr.Row():
                poster = gr.Button("Save this view", elem_id="explore-poster")
                stop2 = gr.Button("Cancel", variant="stop", size="sm")
            poster_file = gr.File(label="Poster", interactive=False, elem_id="explore-poster-file")
            gr.Markdown("**Share**: this view of this .collage, as JSON or a link fragment.")
            share = gr.Button("Share this view", elem_id="explore-share")
            share_json = gr.Code(label="View (JSON)", language="json", elem_id="explore-share-json", lines=6)
            share_link = gr.Textbox(label="Link fragment (append to the studio's URL)", elem_id="explore-share-link")
            restore_text = gr.Textbox(label="Paste a view (JSON or #view=…)", lines=2, elem_id="explore-restore-text")
            restore = gr.Button("Go to this view", elem_id="explore-restore")

    started = [viewer, table, keys_file]
    go.click(explore, inputs=[session, colour], outputs=started, api_visibility="private", queue=False)
    tab.select(explore_if_new, inputs=[session, colour], outputs=started, api_visibility="private", queue=False)
    colour.change(recolour, inputs=[colour, session], outputs=[viewer], api_visibility="private", queue=False)
    heavy = {"concurrency_id": limits.HEAVY_WORK, "concurrency_limit": limits.CONCURRENCY_LIMIT}
    drop.upload(
        on_device(explore_upload, device),
        inputs=[drop, session, colour],
        outputs=started,
        api_visibility="private",
        **heavy,
    )
    add.click(add_keyframe, inputs=[session], outputs=[table, keys_file], api_visibility="private", queue=False)
    clear.click(clear_keyframes, inputs=[session], outputs=[table, keys_file], api_visibility="private", queue=False)
    dive.click(
        on_device(export_dive, device),
        inputs=[seconds, fps, size, fmt, easing, session],
        outputs=[anim, video, dive_file],
        api_visibility="private",
        **heavy,
    )
    poster.click(save_poster, inputs=[side, session], outputs=[poster_file], api_visibility="private", **heavy)
    for button in (stop, stop2):
        button.click(cancel, inputs=[session], api_visibility="private", queue=False)
    share.click(share_view, inputs=[session], outputs=[share_json, share_link], api_visibility="private", queue=False)
    restore.click(restore_view, inputs=[restore_text, session], outputs=[viewer], api_visibility="private")
