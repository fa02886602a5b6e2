"""A streaming PNG writer: rows in, a valid PNG out, memory independent of the image size.

Pillow and imageio encode a whole image held in memory; a 16384^2 poster is 805 MB of
RGB before any copy. Here rows arrive in bands, are filtered (PNG filter "Up": each byte
minus the one above, which suits photographic content and costs one subtraction) and
fed to one zlib stream whose output goes out in ``IDAT`` chunks as it is produced.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (gray, gray+alpha, RGB, RGBA)
CHUNK_BYTES = 1 << 20
FILTER_UP = 2


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


class PngWriter:
    """Write an 8-bit PNG of ``width x height`` with ``channels`` (1-4), a band of rows at a time.

    Args:
        path: the file to write (opened now; call :meth:`close` or :meth:`abort`).
        level: zlib level (1 fast .. 9 small).
    """

    def __init__(self, path: str | Path, width: int, height: int, channels: int, level: int = 4):
        if channels not in COLOR_TYPES:
            raise ValueError(f"a PNG has 1 to 4 channels, got {channels}")
        if not (0 < width < 2**31 and 0 < height < 2**31):
            raise ValueError(f"bad PNG size {width}x{height}")
        self.width, self.height, self.channels = width, height, channels
        self.rows = 0
        self._prev = np.zeros(width * channels, dtype=np.uint8)
        self._zip = zlib.compressobj(level)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.f = open(path, "wb")  # noqa: SIM115 - closed in close/abort
        header = struct.pack(">IIBBBBB", width, height, 8, COLOR_TYPES[channels], 0, 0, 0)
        self.f.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header))

    def write_rows(self, rows: np.ndarray) -> None:
        """Append rows ``(n, width, channels)`` (or ``(n, width)`` for gray), uint8."""
        rows = np.asarray(rows)
        if rows.ndim == 2:
            rows = rows[..., None]
        if rows.dtype != np.uint8 or rows.shape[1:] != (self.width, self.channels):
            raise ValueError(
                f"rows must be uint8 (n, {self.width}, {self.channels}), got {rows.dtype} {tuple(rows.shape)}"
            )
        n = rows.shape[0]
        if self.rows + n > self.height:
            raise ValueError(f"{self.rows + n} rows written to a PNG of height {self.height}")
        flat = rows.reshape(n, -1)
        out = np.empty((n, flat.shape[1] + 1), dtype=np.uint8)
        out[:, 0] = FILTER_UP
        np.subtract(flat[0], self._prev, out=out[0, 1:])  # uint8 arithmetic wraps mod 256, as PNG wants
        if n > 1:
            np.subtract(flat[1:], flat[:-1], out=out[1:, 1:])
        self._prev = flat[-1].copy()
        self._push(self._zip.compress(out.tobytes()))
        self.rows += n

    def _push(self, data: bytes) -> None:
        if data:
            self._pending.append(data)
            self._pending_bytes += len(data)
        if self._pending_bytes >= CHUNK_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.f.write(_chunk(b"IDAT", b"".join(self._pending)))
            self._pending, self._pending_bytes = [], 0

    def close(self) -> None:
        """Finish the file; every row must have been written."""
        if self.rows != self.height:
            raise ValueError(f"only {self.rows} of {self.height} rows were written")
        self._pending.append(self._zip.flush())
        self._flush()
        self.f.write(_chunk(b"IEND", b""))
        self.f.close()

    def abort(self) -> None:
        """Close without finishing (the caller deletes the partial file)."""
        self.f.close()
