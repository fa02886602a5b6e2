"""The Digits tab: digits sampled from the shipped Collage VAE, at any resolution.

Named API endpoint: ``sample``. The samples come as one contact sheet (fitted whole into
its panel, sharp at any count up to 64), beside one of them magnified (digit #1 at 40x
unless the close-up controls say otherwise, up to 64x) and its bicubic upscaling from
28x28: the close-up pair is where the resolution shows, so the sheet has no magnification
control of its own (a box of fixed size would show every magnification alike).
"""

from __future__ import annotations

import gradio as gr

from .. import callbacks, inputs, limits
from ..guard import SafeNumber
from ..guard import friendly as _friendly
from .common import VIEW_BUTTONS, notify

SHEET_MAGNIFY = 4  # 112 px a digit: 16 make a 448 px sheet, 64 an 896 px one, sharp when fitted
COUNT = 16  # digits on the first sheet


@_friendly
def sample(
    seed: float = 0,
    temperature: float = 1.0,
    count: float = COUNT,
    magnify: float = 40,
    digit: float = 1,
    progress=gr.Progress(),  # noqa: B008 - Gradio's progress hook
):
    """Sample digits from the Collage VAE: a contact sheet, and digit ``digit`` at ``magnify``× vs bicubic."""
    progress(0.1, desc="sampling")
    digits = callbacks.sample_digits(count, SHEET_MAGNIFY, temperature, seed, closeup=magnify, digit=digit)
    notify(digits.notes)
    return digits.sheet, digits.closeup, digits.bicubic, digits.summary


def digit_range(count: float, digit: float):
    """The close-up digit slider for ``count`` samples: numbered 1 to ``count``, the pick kept if it fits."""
    try:
        n = inputs.whole(count, "Count", 1, limits.MAX_DIGITS)
        pick = inputs.whole(digit, "Close-up digit", 1, limits.MAX_DIGITS)
    except ValueError:  # a half-typed number: leave the slider as it is until Count reads
        return gr.skip()
    return gr.Slider(maximum=n, value=min(pick, n))


def build() -> None:
    with gr.Row(elem_classes="studio-row"):
        with gr.Column(scale=1, min_width=260, elem_classes="studio-controls", elem_id="digits-controls"):
            gr.Markdown(
                "Digits sampled from a **Collage VAE**: its decoder outputs a collage, so every digit "
                "renders at any resolution. Compare a close-up (40× by default, up to "
                f"{limits.MAX_CLOSEUP_MAGNIFY}×) with bicubic upscaling of the same 1× digit. "
                "A seed gives the same digits whatever the count."
            )
            seed = SafeNumber(0, precision=0, label="Seed", elem_id="digits-seed")
            temperature = gr.Slider(0.1, 1.5, value=1.0, step=0.05, label="Temperature")
            count = gr.Slider(1, limits.MAX_DIGITS, value=COUNT, step=1, label="Count", elem_id="digits-count")
            magnify = gr.Slider(
                2,
                limits.MAX_CLOSEUP_MAGNIFY,
                value=40,
                step=1,
                label="Close-up magnification",
                info="28 px × this; the Collage renders every pixel, bicubic can only interpolate",
                elem_id="digits-magnify",
            )
            digit = gr.Slider(  # numbered on the sheet: its range follows Count (digit_range)
                1, COUNT, value=1, step=1, label="Close-up digit (# on the sheet)", elem_id="digits-digit"
            )
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
                closeup = gr.Image(
                    label="Close-up: Collage",
                    interactive=False,
                    format="png",
                    buttons=VIEW_BUTTONS,
                    elem_id="digits-closeup",
                    height=300,
                )
                bicubic = gr.Image(
                    label="Close-up: bicubic",
                    interactive=False,
                    format="png",
                    buttons=VIEW_BUTTONS,
                    elem_id="digits-bicubic",
                    height=300,
                )
            summary = gr.Markdown(elem_id="digits-summary")
    count.change(digit_range, inputs=[count, digit], outputs=[digit], api_visibility="private", queue=False)
    go.click(
        sample,
        inputs=[seed, temperature, count, magnify, digit],
        outputs=[sheet, closeup, bicubic, summary],
        api_name="sample",
        concurrency_id=limits.HEAVY_WORK,
        concurrency_limit=limits.CONCURRENCY_LIMIT,
    )
