"""The Digits tab: digits sampled from the shipped Collage VAE, at any resolution.

Named API endpoint: ``sample``. The samples come as one contact sheet (fitted whole into
its panel, sharp at any count up to 64), beside digit #1 at 40x and its bicubic upscaling
from 28x28: the 40x pair is where the resolution shows, so the page has no separate
magnification control for the sheet (a box of fixed size would show every magnification alike).
"""

from __future__ import annotations

import gradio as gr

from .. import callbacks, limits
from ..guard import SafeNumber
from ..guard import friendly as _friendly
from .common import VIEW_BUTTONS, notify

SHEET_MAGNIFY = 4  # 112 px a digit: 16 make a 448 px sheet, 64 an 896 px one, sharp when fitted


@_friendly
def sample(seed: float = 0, temperature: float = 1.0, count: float = 16, progress=gr.Progress()):  # noqa: B008
    """Sample digits from the Collage VAE: a contact sheet, and digit #1 at 40× vs bicubic."""
    progress(0.1, desc="sampling")
    digits = callbacks.sample_digits(count, SHEET_MAGNIFY, temperature, seed)
    notify(digits.notes)
    return digits.sheet, digits.collage40, digits.bicubic40, digits.summary


def build() -> None:
    with gr.Row(elem_classes="studio-row"):
        with gr.Column(scale=1, min_width=260, elem_classes="studio-controls", elem_id="digits-controls"):
            gr.Markdown(
                "Digits sampled from a **Collage VAE**: its decoder outputs a collage, so every digit "
                "renders at any resolution. Compare 40× with bicubic upscaling of the 1× sample. "
                "A seed gives the same digits whatever the count."
            )
            seed = SafeNumber(0, precision=0, label="Seed", elem_id="digits-seed")
            temperature = gr.Slider(0.1, 1.5, value=1.0, step=0.05, label="Temperature")
            count = gr.Slider(1, limits.MAX_DIGITS, value=16, step=1, label="Count", elem_id="digits-count")
        with gr.Column(scale=2, elem_classes="studio-results", elem_id="digits-results"):
            go = gr.Button("Sample", variant="primary", elem_id="digits-btn")
            with gr.Row(equal_height=True):
                sheet = gr.Image(
                    label="Samples",
                    show_label=False,  # the badge would cover the first digit; the summary below names it
                    interactive=False,
                    format="png",
                    elem_id="digits-gallery",
                    buttons=VIEW_BUTTONS,
                    height=300,
                )
                collage40 = gr.Image(
                    label="#1 at 40×: Collage",
                    interactive=False,
                    format="png",
                    buttons=VIEW_BUTTONS,
                    elem_id="digits-collage40",
                    height=300,
                )
                bicubic40 = gr.Image(
                    label="#1 at 40×: bicubic",
                    interactive=False,
                    format="png",
                    buttons=VIEW_BUTTONS,
                    elem_id="digits-bicubic40",
                    height=300,
                )
            summary = gr.Markdown(elem_id="digits-summary")
    go.click(
        sample,
        inputs=[seed, temperature, count],
        outputs=[sheet, collage40, bicubic40, summary],
        api_name="sample",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
    )
