"""One browser session's work: its current collage, its cancel switch and its temporary files.

The studio keeps no module-level results: every session owns a :class:`Session` (held in a
``gr.State``), so two users at once never see each other's images. Files handed to Gradio
are written under a per-process folder, one subfolder per session; a session's folder is
removed when Gradio drops the session (an hour after its tab closes), folders untouched for
an hour are swept when new sessions start, and the whole folder goes when the process exits.
Folders of servers that were killed are swept when the next server starts (``app.sweep``).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from collage_core import FractalCode, FractalizeConfig
from collage_core.presets import Preset

from .limits import TEMP_MAX_AGE_S
from .sweep import PREFIX, mark_owner

_root_lock = threading.Lock()
_root: Path | None = None
_counter = itertools.count()


def temp_root() -> Path:
    """This process's folder for files handed to Gradio (created on first use, removed at exit)."""
    global _root
    with _root_lock:
        if _root is None or not _root.is_dir():
            _root = Path(tempfile.mkdtemp(prefix=PREFIX))
            mark_owner(_root)
            atexit.register(shutil.rmtree, _root, True)
        return _root


def sweep(max_age_s: float = TEMP_MAX_AGE_S) -> int:
    """Delete session folders untouched for ``max_age_s`` (sessions whose tab never closed cleanly)."""
    removed = 0
    now = time.time()
    for folder in temp_root().iterdir():
        if not folder.is_dir():
            continue  # the owner file
        try:
            if now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


@dataclass
class Session:
    """What one user is working on.

    Attributes:
        code: the current collage (from Fractalize, or a loaded code file).
        original: the photo it was fitted to (``None`` for a loaded code).
        config: the settings it was fitted with.
        name: a file-name stem for downloads.
        attractor_digest: bytes digest of the 1x render shown in the Zoom tab, to recognise it.
        zoom_code: the Zoom tab's last refit with its look, and what it was fitted from.
        cancel: the cancel switch of the work running in the calling thread (see
            :meth:`job`); the Cancel button sets every running job's (:meth:`cancel_all`).
        presets: presets saved in this browser session, by name (``app.user_presets``).
    """

    code: FractalCode | None = None
    original: Image.Image | None = None
    config: FractalizeConfig | None = None
    name: str = "collage"
    attractor_digest: str | None = None
    # The last zoom-look fit, keyed by (photo digest, mode, size, config): exports reuse it.
    zoom_code: tuple | None = None
    # One cancel switch per running job, by thread: a job that starts later cannot undo a
    # Cancel pressed for one already running (a single shared switch, cleared at each
    # start, lost the click whenever queued work started after it).
    _jobs: dict = field(default_factory=dict, repr=False)
    _idle: threading.Event = field(default_factory=threading.Event, repr=False)
    folder: Path | None = None
    presets: dict[str, Preset] = field(default_factory=dict)
    exploration: object | None = None  # the Explore tab's map (app.explore_server.Exploration)
    keyframes: list = field(default_factory=list)  # the Explore tab's recorded views

    @property
    def cancel(self) -> threading.Event:
        """The calling thread's job switch (a spare one outside any job)."""
        return self._jobs.get(threading.get_ident(), self._idle)

    @contextlib.contextmanager
    def job(self):
        """Run one piece of work under a fresh cancel switch of its own; yields the switch."""
        switch, key = threading.Event(), threading.get_ident()
        outer = self._jobs.get(key)
        self._jobs[key] = switch
        try:
            yield switch
        finally:
            if outer is None:
                self._jobs.pop(key, None)
            else:  # a job nested in another on the same thread: the outer one's switch again
                self._jobs[key] = outer

    def cancel_all(self) -> None:
        """The Cancel button: every job of this session running now stops at its next check."""
        for switch in list(self._jobs.values()):
            switch.set()

    def new_path(self, stem: str, suffix: str) -> Path:
        """A fresh file path in this session's folder (files of earlier requests stay until the session ends)."""
        if self.folder is None or not self.folder.is_dir():
            self.folder = Path(tempfile.mkdtemp(prefix="session-", dir=temp_root()))
        self.folder.touch()  # keeps an active session out of sweep()
        return self.folder / f"{stem}-{next(_counter)}{suffix}"

    def close(self) -> None:
        """Remove this session's files and forget its map (Gradio calls this when the tab closes)."""
        if self.exploration is not None:
            from . import explore_server  # here: the studio's sessions need no tile server otherwise

            explore_server.SERVICE.forget(self.exploration.token)
            self.exploration = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __deepcopy__(self, memo) -> Session:
        # gr.State deep-copies initial values; a session is never shared, so start afresh.
        return Session()


_last_sweep = [0.0]
SWEEP_EVERY_S = 600


def new_session() -> Session:
    """A fresh session (``gr.State`` calls this for every page load); sweeps old folders now and then."""
    now = time.time()
    if now - _last_sweep[0] > SWEEP_EVERY_S:
        _last_sweep[0] = now
        sweep()
    return Session()
