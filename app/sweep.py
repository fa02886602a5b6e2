"""Sweeping temporary folders left behind by studio servers that did not exit cleanly.

Each server writes its files under one ``neural-collage-*`` folder in the system's
temporary directory and removes it at exit; a killed server (out of memory, ``kill -9``,
a power cut) cannot. Each folder therefore carries an ``owner`` file with the server's
process id and start time, and a starting server removes the folders whose owner is gone
(or, without an owner file, that are older than ``TEMP_MAX_AGE_S``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from .limits import TEMP_MAX_AGE_S

PREFIX = "neural-collage-"
OWNER_FILE = "owner"


def _start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` (Linux ``/proc``), ``""`` where unknown.

    Together with the pid it names a process uniquely: pids are reused, start times not.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22, counted after the command name


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return not started or not _start_time(pid) or _start_time(pid) == started


def mark_owner(folder: Path) -> None:
    """Record this process as the owner of ``folder``."""
    (folder / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")


def stale(folder: Path, now: float | None = None, max_age_s: float = TEMP_MAX_AGE_S) -> bool:
    """Whether ``folder`` belongs to no running server."""
    now = time.time() if now is None else now
    try:
        fields = (folder / OWNER_FILE).read_text().split()
        pid, started = int(fields[0]), fields[1] if len(fields) > 1 else ""
    except (OSError, ValueError, IndexError):
        try:
            return now - folder.stat().st_mtime > max_age_s
        except OSError:
            return False
    return pid != os.getpid() and not _alive(pid, started)


def sweep_stale(parent: str | os.PathLike | None = None) -> list[Path]:
    """Remove the temporary folders of servers that are no longer running; returns them."""
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    for folder in parent.glob(f"{PREFIX}*"):
        # Only our own user's real folders: never follow a link, never touch another user's.
        if folder.is_dir() and not folder.is_symlink() and _mine(folder) and stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _mine(folder: Path) -> bool:
    getuid = getattr(os, "getuid", None)
    return getuid is None or folder.stat().st_uid == getuid()
