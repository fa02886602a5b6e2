"""Reading images into tensors, with limits and clear errors.

Everything Pillow reads is accepted: EXIF orientation is applied, palette and CMYK
images become RGB(A), 16- and 32-bit grayscale is rescaled to 8 bits. What cannot be
used raises ``ValueError`` with a message meant for a person.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

# Inputs larger than this are refused; the studio downsamples before it gets here.
MAX_INPUT_PIXELS = 50_000_000
MIN_SIDE = 8
# A collage covers a square: rendering W x H decodes a square of side max(W, H), so the
# work is aspect times the output. Beyond 16:1 that is mostly waste (a 20000x8 strip
# would decode 32768^2 pixels, 12 GiB a tensor): such strips are refused.
MAX_ASPECT = 16
MAX_FILE_BYTES = 200 * 1024 * 1024
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}

ImageLike = Image.Image | np.ndarray | str | os.PathLike | bytes | torch.Tensor


def open_image(source: ImageLike, max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Open and normalise an image to mode L, LA, RGB or RGBA.

    Args:
        source: a PIL image, a path, encoded bytes, or an ``(H, W)`` / ``(H, W, C)``
            array (uint8 in 0..255 or float in 0..1).
    Raises:
        ValueError: unreadable, truncated, too small or too large input.
    """
    if isinstance(source, Image.Image):
        img = source
    elif isinstance(source, torch.Tensor):
        return _from_array(source.detach().cpu().numpy())
    elif isinstance(source, np.ndarray):
        return _from_array(source)
    else:
        img = _open_encoded(source, max_pixels)
    _check_size(img.size, max_pixels)
    try:
        img = ImageOps.exif_transpose(img)
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        img = _normalise_mode(img)
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"could not decode the image: {exc}") from None
    return img


def _open_encoded(source, max_pixels: int) -> Image.Image:
    if isinstance(source, bytes):
        data = source
        name = "the uploaded data"
    else:
        path = Path(source)
        name = path.name
        if not path.is_file():
            raise ValueError(f"no such image file: {path}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MB")
        data = path.read_bytes()
    if not data:
        raise ValueError(f"{name} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            _check_size(img.size, max_pixels)
            img.load()
    except UnidentifiedImageError:
        raise ValueError(f"{name} is not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{name} is too large to decode safely") from None
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"{name} is truncated or corrupt ({exc})") from None
    return img


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if min(w, h) < MIN_SIDE:
        raise ValueError(f"image is {w}x{h}; both sides must be at least {MIN_SIDE} px")
    if w * h > max_pixels:
        raise ValueError(f"image is {w}x{h} = {w * h / 1e6:.1f} MP; the limit is {max_pixels / 1e6:.0f} MP")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ValueError(
            f"image is {w}x{h}, a {max(w, h) / min(w, h):.0f}:1 strip; the longer side may be at most "
            f"{MAX_ASPECT} times the shorter (crop it first)"
        )


def _normalise_mode(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode in MODES.values():
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if mode == "F":
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / max(hi - lo, 1e-12) * 255
        else:
            arr = arr / hi * 255
        return Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8), "L")
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA"):
        has_alpha = "transparency" in img.info or mode == "PA"
        return img.convert("RGBA" if has_alpha else "RGB")
    if mode == "La":
        return img.convert("LA")
    if mode == "RGBa":
        return img.convert("RGBA")
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def _from_array(arr: np.ndarray) -> Image.Image:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[0] in (1, 2, 3, 4) and arr.shape[-1] not in (1, 2, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # (C, H, W) tensors
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in MODES):
        raise ValueError(f"an image array must be (H, W) or (H, W, 1..4), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError("the image array contains NaN or infinity")
        arr = np.clip(arr, 0, 1) * 255
    elif arr.dtype.kind not in "ui" and arr.dtype != bool:
        raise ValueError(f"unsupported image array dtype {arr.dtype}")
    elif arr.dtype == np.uint16:
        arr = arr / 257.0
    arr = np.clip(arr, 0, 255).round().astype(np.uint8)
    _check_size((arr.shape[1], arr.shape[0]), MAX_INPUT_PIXELS)
    channels = 1 if arr.ndim == 2 else arr.shape[-1]
    return Image.fromarray(arr, MODES[channels])


def to_tensor(img: Image.Image) -> torch.Tensor:
    """``(C, H, W)`` float32 in [0, 1] from a normalised PIL image."""
    arr = np.asarray(img, dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[..., None]
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_image(x: torch.Tensor, prescaled: bool = False) -> Image.Image:
    """A PIL image (mode from the channel count) from ``(C, H, W)`` values in [0, 1].

    Args:
        prescaled: ``x`` already holds ``255 * value + 0.5``; it is then clamped in
            place, which saves two passes over a large render.
    """
    planes = []
    # One channel at a time: float temporaries stay a fraction of the image, and PIL
    # interleaves the planes faster than a strided copy would.
    for ch in x.detach().cpu():
        q = ch.clamp_(0, 255) if prescaled else (ch * 255 + 0.5).clamp_(0, 255)
        planes.append(Image.fromarray(q.to(torch.uint8).numpy(), "L"))
    return planes[0] if len(planes) == 1 else Image.merge(MODES[len(planes)], planes)
