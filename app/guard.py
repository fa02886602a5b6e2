"""The studio's guard around every request: clear messages, calm cancels, one log line.

* Expected failures (bad input, limits, Cancel) reach the page as a sentence and the
  server log as one line; only unexpected ones keep their traceback in the log.
* Cancel is not a failure: the outputs keep the previous result and a notice says so.
* Work started for a session runs inside its cancel scope, so Cancel stops a render at
  the decoder's next level, a refinement at its next step and an export at its next frame.
* Components whose preprocessing fails on hostile payloads (a number that is not one, a
  file that is not an image) raise a message for a person instead of Gradio's
  "Could not preprocess input component at index N".
"""

from __future__ import annotations

import functools
import logging

import gradio as gr

import collage_core as cc

from .session import Session

ERROR_SECONDS = 12  # long enough to read, then the message gets out of the way
log = logging.getLogger("neural_collage.app")


def configure_logging() -> None:
    """One line per event on stderr for the studio's own logger (the server calls this)."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def user_error(message: str, title: str = "Error") -> gr.Error:
    """A ``gr.Error`` for an expected failure: shown in the page, no traceback in the log."""
    return gr.Error(message, title=title, duration=ERROR_SECONDS, print_exception=False)


def _session_of(args, kwargs) -> Session | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, Session):
            return value
    return None


def friendly(fn):
    """Turn expected failures into messages in the page; the server keeps serving."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        session = _session_of(args, kwargs)
        try:
            if session is None:
                return fn(*args, **kwargs)
            with session.job() as switch, cc.cancel_scope(switch):
                return fn(*args, **kwargs)
        except cc.Cancelled:
            log.info("%s: cancelled", fn.__name__)
            gr.Info("Cancelled: nothing was written; the previous result stays.")
            return gr.skip()
        except gr.Error as exc:
            log.info("%s: %s", fn.__name__, exc.message)
            exc.print_exception = False
            raise
        except ValueError as exc:
            log.info("%s: %s", fn.__name__, exc)
            raise user_error(str(exc)) from None
        except MemoryError:
            log.warning("%s: out of memory", fn.__name__)
            raise user_error("Out of memory: try a smaller magnification, size or count.") from None
        except Exception as exc:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(
                f"Something went wrong ({type(exc).__name__}). The server is still running.",
                duration=ERROR_SECONDS,
                print_exception=False,
            ) from None

    return wrapper


def SafeImage(**kwargs) -> gr.Image:  # noqa: N802 - reads like the component it builds
    """A ``gr.Image`` that hands the file over in its own mode, and explains unreadable uploads.

    ``image_mode=None``: Gradio's default ("RGB") would convert every upload before the
    studio sees it, blowing out 16-bit grays and dropping alpha; the studio normalises
    modes itself, as the CLI does, with the same notices. Built by wrapping the instance's
    ``preprocess``: subclassing a component would make Gradio write a ``.pyi`` stub.
    """
    kwargs.setdefault("image_mode", None)
    image = gr.Image(**kwargs)
    stock = image.preprocess

    def preprocess(payload):
        try:
            return stock(payload)
        except gr.Error as exc:
            exc.print_exception = False
            raise
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "not an image"
            name = getattr(payload, "orig_name", None) or "this file"
            raise user_error(
                f"Cannot use {name}: it is not an image this studio can read ({type(exc).__name__})."
            ) from None

    image.preprocess = preprocess
    return image


def SafeNumber(value=None, **kwargs) -> gr.Number:  # noqa: N802
    """A ``gr.Number`` whose non-numbers (text, NaN, infinities) get a message naming the field."""
    number = gr.Number(value, **kwargs)
    stock = number.preprocess
    label = kwargs.get("label") or "This number"

    def preprocess(payload):
        try:
            if isinstance(payload, float) and payload != payload or payload in (float("inf"), float("-inf")):
                raise ValueError
            return stock(payload)
        except gr.Error as exc:
            exc.print_exception = False
            raise
        except Exception:  # noqa: BLE001 - what Gradio could not convert is not a number
            shown = repr(payload) if len(repr(payload)) <= 40 else repr(payload)[:37] + "..."
            raise user_error(f"{label} must be a finite number, got {shown}.") from None

    number.preprocess = preprocess
    return number


def quiet_preprocess(demo: gr.Blocks) -> gr.Blocks:
    """Gradio's own refusals of a payload (a slider value out of range, a dropdown value
    not offered) are expected user errors too: keep their message, drop their traceback."""
    for block in demo.blocks.values():
        stock = getattr(block, "preprocess", None)
        if stock is None or getattr(stock, "quiet", False):
            continue

        def preprocess(payload, _stock=stock):
            try:
                return _stock(payload)
            except gr.Error as exc:
                exc.print_exception = False
                raise

        preprocess.quiet = True
        block.preprocess = preprocess
    return demo
