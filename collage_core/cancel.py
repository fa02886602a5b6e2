"""Cooperative cancellation of long renders, without threading an argument through every layer.

A caller that owns a ``threading.Event`` wraps its work in :func:`cancel_scope`; the
decoder calls :func:`check_cancelled` once per level (and per base iteration), so a
cancelled render stops within one level instead of finishing. The scope is a context
variable: each thread (each server request) sees only its own event.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

_event: ContextVar[threading.Event | None] = ContextVar("collage_cancel_event", default=None)


@contextlib.contextmanager
def cancel_scope(event: threading.Event | None) -> Iterator[None]:
    """Make ``event`` the cancel switch of every render started inside the ``with`` block."""
    token = _event.set(event)
    try:
        yield
    finally:
        _event.reset(token)


def check_cancelled() -> None:
    """Raise :class:`~collage_core.fit.Cancelled` when the current scope's event is set."""
    event = _event.get()
    if event is not None and event.is_set():
        from .fit import Cancelled  # fit imports decode, which imports this module

        raise Cancelled("cancelled")
