"""Watch it converge (a panel of the Fractalize tab): the iterations from the start image to the attractor.

The animation stops where the picture stops changing (``app.actions.converge.STILL``), so
the default shows the few steps that matter instead of seconds of a still image.
"""

from __future__ import annotations

import gradio as gr

from .. import callbacks, inputs, limits
from ..actions.converge import DEFAULT_STEPS
from ..guard import friendly as _friendly
from ..session import Session
from .common import FORMATS, VIEW_BUTTONS, animation_outputs, progress_fn, suffix


@_friendly
def converge(
    steps: float = DEFAULT_STEPS,
    start: str = "noise",
    start_image: str | None = None,
    fps: float = 4,
    fmt: str = "GIF",
    session: Session | None = None,
    progress=gr.Progress(),  # noqa: B008
):
    """Watch it converge: the iterations from the start image to the attractor, as an animation."""
    if session is None or session.code is None:
        raise ValueError("Fractalize a photo (or load a code file) first.")
    ext = suffix(fmt)
    fps = inputs.number(fps, "Frames per second", 1, limits.MAX_FPS)
    result = callbacks.converge_frames(
        session.code,
        steps=steps,
        start=callbacks.start_image(start, start_image),
        cancel=session.cancel,
        progress=progress_fn(progress),
    )
    path = session.new_path(f"{session.name}-converge", ext)
    callbacks.write_frames(result.frames, path, fps=fps)
    errors = ", ".join(f"{e:.0f}" for e in result.errors[:: max(1, len(result.errors) // 8)])
    info = f"Max difference to the attractor (0–255) along the way: {errors} … {result.errors[-1]:.0f}"
    if result.converged_at is not None:
        info += f". It looks like the attractor after {result.converged_at} iterations: the animation stops there."
    return (*animation_outputs(path), info)


def build(session, start, start_image) -> None:
    """The panel (an accordion) and its button; ``start``/``start_image`` are the tab's controls."""
    with gr.Accordion("Watch it converge", open=False):
        with gr.Row():
            steps = gr.Slider(
                1,
                limits.MAX_CONVERGE_FRAMES,
                value=DEFAULT_STEPS,
                step=1,
                label="Iterations (at most)",
                info="stops earlier once the picture stops changing",
                elem_id="converge-steps",
            )
            fps = gr.Slider(1, 30, value=4, step=1, label="Frames per second")
        fmt = gr.Radio(FORMATS, value="GIF", label="Format")
        go = gr.Button("Make the animation", elem_id="converge-btn")
        anim = gr.Image(label="Convergence", type="filepath", format="gif", interactive=False, buttons=VIEW_BUTTONS)
        video = gr.Video(label="Convergence (MP4)", interactive=False, visible=False)
        download = gr.File(label="Download", interactive=False, elem_id="converge-file")
        info = gr.Markdown()
    go.click(
        converge,
        inputs=[steps, start, start_image, fps, fmt, session],
        outputs=[anim, video, download, info],
        api_name="converge",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
    )
