"""Atomic file writes: a reader sees the old file or the whole new one, never a half.

Everything is written under a temporary name in the target's folder (the same file
system, so the final rename is atomic) and renamed over the target only on success; an
error, a cancellation or Ctrl-C deletes the temporary file and leaves the old one as it
was. The temporary name keeps the target's suffix, which tools that pick a format by
suffix (ffmpeg, ``numpy.savez``) need.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s new contents to; renamed over ``path`` on success.

    Example::

        with atomic_path("out.gif") as tmp:
            write_everything_to(tmp)  # raises: out.gif is untouched, tmp is gone
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))
