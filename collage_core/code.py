"""FractalCode: a fitted collage, its rendering, and its file format.

File format (``.collage``): a safetensors file (a little-endian u64 header length, a
JSON header, raw little-endian tensors; no pickle). Tensors: ``a`` float32
``(C, K, N)``, ``b`` float32 ``(C, K)``, optional ``aux`` uint8 ``(C, A, h, w)``.
The header's ``__metadata__`` holds ``format`` = ``"neural-collage-code"``,
``version``, ``grid``, ``symmetries``, ``source_size`` ("W,H"), ``mode``,
``work_side`` and ``s_max``; version 2 adds ``layout``, the cell layout as JSON
(``{"kind": "grid" | "blend", "grid": g, "window": ...}``; adaptive cells are
``{"kind": "quadtree", "grid": g, "splits": base64 preorder split bits}``, plus
``"frame": "mirror", "window", "band", "ramp"`` when the leaves are blended (files
without ``frame`` are hard quadtrees), and ``K`` is then the number of leaves).
Version 1 files (no
layout) are hard grids and load and render exactly as before. Loading validates all
of it, including contractivity.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .atomic import write_bytes_atomic
from .autocontrast import autocontrast
from .config import MAX_GRID, MIN_GRID
from .decode import decode_exact, decode_iterative, nearest_exact_side
from .device import pick_device
from .image_io import MAX_ASPECT, MODES, ImageLike, open_image, to_image, to_tensor
from .layout import BlendedLayout, GridLayout, Layout, layout_from_meta
from .operator import domain_count
from .palette import parse_colour
from .quadtree import MAX_UNIT, QuadtreeLayout
from .resample import area_resize
from .symmetry import SYMMETRIES

FORMAT_NAME = "neural-collage-code"
FORMAT_VERSION = 2
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
# The longest side of a 50 MP input at the 16:1 aspect limit is 28284 px.
MAX_SOURCE_SIDE = 32768
MAX_WORK_SIDE = 8192
MAX_AUX = 4
MAX_OUTPUT_PIXELS = 100_000_000
# Every render decodes a square of side >= its longer side (decode.nearest_exact_side):
# this bounds that square (12288^2 float32 is 604 MB a channel), whatever the aspect.
MAX_DECODE_SIDE = 12288
# The free-form "extra" metadata: small, and nested at most this deep.
MAX_EXTRA_BYTES = 4096
MAX_EXTRA_DEPTH = 8
# A quadtree layout's split bits: 65536 leaves need about 15 kB of base64.
MAX_LAYOUT_BYTES = 48 * 1024
# Every decode of a quadtree code steps at a multiple of grid * 2**depth: bound it.
# Slack for float32 rounding when checking a loaded file's contraction bound.
CONTRACTION_SLACK = 1e-5


@dataclass(frozen=True, eq=False)
class FractalCode:
    """A collage operator fitted to an image; its attractor is the picture.

    Attributes:
        a: ``(C, K, N)`` mixing weights, ``K = grid**2`` row-major cells, ``N`` domains
            (the self domains first, then each auxiliary image's symmetric copies).
        b: ``(C, K)`` offsets.
        aux: ``(C, A, h, w)`` auxiliary "style source" images in [0, 1], or ``None``.
        source_size: ``(W, H)`` of the image it was fitted to; renders keep this aspect.
        work_side: the square side the fit ran at.
        layout: the cell layout (:mod:`~collage_core.layout`); ``None`` means the hard
            grid of ``grid`` cells a side.
    """

    a: torch.Tensor
    b: torch.Tensor
    grid: int
    symmetries: str
    source_size: tuple[int, int]
    mode: str
    work_side: int
    s_max: float = 0.9
    aux: torch.Tensor | None = None
    version: int = FORMAT_VERSION
    meta: dict = field(default_factory=dict)
    layout: Layout | None = None

    def __post_init__(self) -> None:
        if self.layout is None:
            object.__setattr__(self, "layout", GridLayout(self.grid))
        _validate(self)

    # ----------------------------------------------------------------- rendering
    @property
    def channels(self) -> int:
        return self.a.shape[0]

    def output_size(self, magnify: float = 1.0) -> tuple[int, int]:
        """``(W, H)`` of :meth:`render` at ``magnify``."""
        if not (isinstance(magnify, int | float) and magnify == magnify and 0 < magnify < float("inf")):
            raise ValueError(f"magnify must be a positive finite number, got {magnify!r}")
        w, h = self.source_size
        out = (max(1, round(w * magnify)), max(1, round(h * magnify)))
        if out[0] * out[1] > MAX_OUTPUT_PIXELS:
            raise ValueError(
                f"magnify {magnify} gives {out[0]}x{out[1]}, over the {MAX_OUTPUT_PIXELS / 1e6:.0f} MP output limit"
            )
        side = max(nearest_exact_side(max(out), self.layout), max(out))
        if side > MAX_DECODE_SIDE:
            raise ValueError(
                f"magnify {magnify} gives {out[0]}x{out[1]}, which decodes a {side}x{side} square; "
                f"the limit is {MAX_DECODE_SIDE} px a side"
            )
        return out

    def render_tensor(
        self,
        magnify: float = 1.0,
        iterations: int | None = None,
        start: str | ImageLike = "noise",
        seed: int = 0,
        device: str | torch.device | None = None,
        levels: tuple[float, float] = (1.0, 0.0),
    ) -> torch.Tensor:
        """The attractor (or a partial decode) as ``(C, H, W)`` float values.

        Args:
            magnify: output scale relative to the source size.
            iterations: ``None`` renders the exact attractor; an integer applies that
                many collage steps to ``start`` (the paper's iterative decoder).
            start: ``"noise"``, ``"gray"``, or an image to morph from.
            levels: ``(scale, offset)``: returns ``scale * z + offset``, computed by
                decoding the equivalent affine-conjugated code, so a display scaling
                costs no extra pass over a huge output.
        """
        out_w, out_h = self.output_size(magnify)
        dev = pick_device(device)
        a, b = self._conjugated(*levels)
        a, b = a[None].to(dev), b[None].to(dev)
        aux = None if self.aux is None else self.aux[None].to(dev)
        if iterations is None:
            z = decode_exact(a, b, self.layout, self.symmetries, (out_h, out_w), aux)
        else:
            if not isinstance(iterations, int) or not 0 <= iterations <= 10_000:
                raise ValueError(f"iterations must be an integer in [0, 10000] or None, got {iterations!r}")
            unit = self.layout.unit
            side = -(-max(out_w, out_h) // unit) * unit
            z0 = self._start_image(start, side, seed).to(dev) * levels[0] + levels[1]
            z = decode_iterative(a, b, self.layout, self.symmetries, z0, iterations, aux)
            z = area_resize(z, (out_h, out_w))
        return z[0]

    def _conjugated(self, scale: float, offset: float) -> tuple[torch.Tensor, torch.Tensor]:
        # z' = scale * z + offset is the attractor of the same self weights with
        # b' = scale * b + offset * (1 - sum_self a) and auxiliary weights times scale,
        # because pooling and symmetries are linear and keep constants.
        if (scale, offset) == (1.0, 0.0):
            return self.a, self.b
        n_self, _ = domain_count(self.symmetries, 0 if self.aux is None else self.aux.shape[1])
        a = torch.cat([self.a[..., :n_self], self.a[..., n_self:] * scale], dim=-1)
        b = scale * self.b + offset * (1 - self.a[..., :n_self].sum(-1))
        return a, b

    def render(self, magnify: float = 1.0, colour: bool | str = "true", **kwargs) -> Image.Image:
        """The attractor as a PIL image of size ``(round(W * magnify), round(H * magnify))``.

        Keyword arguments are those of :meth:`render_tensor`. ``colour``: ``"true"`` (the
        default) or ``"off"``, the collage's own colours untouched; ``"vivid"`` each channel
        stretched; a palette (``"ice"``, ``"ice:0.7"``: :mod:`~collage_core.palette`)
        paints the picture's colour-true levels. The mode is the input's, or colour
        (RGB, RGBA) when a palette paints a grey picture.
        """
        look, palette = parse_colour(colour)
        if palette is not None or look == "vivid":
            return to_image(autocontrast(self.render_tensor(magnify, **kwargs).cpu(), colour))
        # Decode straight into 0..255 (+0.5 for rounding): quantising is then a clamp.
        return to_image(self.render_tensor(magnify, levels=(255.0, 0.5), **kwargs).cpu(), prescaled=True)

    def render_view(
        self,
        center: tuple[float, float] = (0.5, 0.5),
        zoom: float = 1.0,
        size: tuple[int, int] = (512, 512),
        autocontrast: bool | str = False,
        device: str | torch.device | None = None,
        **kw,
    ) -> Image.Image:
        """A view of the attractor at any depth, without decoding the magnified image.

        Args:
            center: normalised ``(x, y)`` of the view centre (x right, y down).
            zoom: ``1 <= zoom <= 1e15``; the view spans ``1 / zoom`` of the image width
                (and keeps square pixels on the source's aspect).
            size: ``(w, h)`` output pixels, each side at most 2048.
            autocontrast: a tone look, for deep views are otherwise nearly flat
                (DESIGN.md sections 4 and 9): ``True``/``"colour"`` levels on luma that keep
                the hue and the photo's colours, ``"vivid"`` each colour channel stretched
                between its own robust percentiles, ``False``/``"off"`` none; or a
                palette (:mod:`~collage_core.palette`), e.g. ``"ice"`` or ``"ice:0.7"``.
            kw: passed to :class:`~collage_core.viewport.ViewRenderer` (``dense_max``).
        Returns:
            a PIL image of ``size`` in this code's mode; it equals the matching crop of
            ``render(size[0] * zoom / W)``.
        """
        from .viewport import render_view  # the viewport module imports this one

        return render_view(self, center, zoom, size, autocontrast=autocontrast, device=device, **kw)

    def _start_image(self, start, side: int, seed: int) -> torch.Tensor:
        C = self.channels
        if isinstance(start, str) and start in ("noise", "gray", "grey"):
            if start == "noise":
                gen = torch.Generator().manual_seed(seed)
                return torch.rand(1, C, side, side, generator=gen)
            return torch.full((1, C, side, side), 0.5)
        img = open_image(start).convert(self.mode)
        return area_resize(to_tensor(img)[None], (side, side))

    # ------------------------------------------------------------------ file I/O
    def to_bytes(self) -> bytes:
        """The serialised code (see the module docstring for the format)."""
        tensors = {"a": self.a.detach().cpu().float().contiguous(), "b": self.b.detach().cpu().float().contiguous()}
        if self.aux is not None:
            tensors["aux"] = (self.aux.detach().cpu() * 255).round().clamp(0, 255).to(torch.uint8).contiguous()
        meta = {
            "format": FORMAT_NAME,
            "version": str(self.version),
            "grid": str(self.grid),
            "symmetries": self.symmetries,
            "source_size": f"{self.source_size[0]},{self.source_size[1]}",
            "mode": self.mode,
            "work_side": str(self.work_side),
            "s_max": repr(float(self.s_max)),
            "extra": json.dumps(self.meta, sort_keys=True, separators=(",", ":")),
        }
        if self.version >= 2:
            meta["layout"] = json.dumps(self.layout.to_meta(), sort_keys=True, separators=(",", ":"))
        return _canonical(st_save(tensors, metadata=meta))

    @property
    def nbytes(self) -> int:
        """Size in bytes of the saved file."""
        return len(self.to_bytes())

    def save(self, path: str | os.PathLike) -> Path:
        """Write the code to ``path`` atomically; returns the path."""
        return write_bytes_atomic(path, self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike) -> FractalCode:
        """Read and validate a code file; any defect raises ``ValueError``."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no such code file: {path}")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{path.name} is {size} bytes; a fractal code file is at most {MAX_FILE_BYTES}")
        return cls.from_bytes(path.read_bytes(), name=path.name)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "code") -> FractalCode:
        """Parse and validate serialised bytes; any defect raises ``ValueError``."""
        meta = _read_metadata(data, name)
        try:
            tensors = st_load(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise ValueError(f"{name} is not a valid fractal code file: {exc}") from None
        unknown = set(tensors) - {"a", "b", "aux"}
        if unknown or not {"a", "b"} <= set(tensors):
            raise ValueError(f"{name}: expected tensors a, b[, aux], found {sorted(tensors)}")
        if tensors["a"].dtype != torch.float32 or tensors["b"].dtype != torch.float32:
            raise ValueError(f"{name}: coefficients must be float32")
        aux = tensors.get("aux")
        if aux is not None:
            if aux.dtype != torch.uint8:
                raise ValueError(f"{name}: aux images must be uint8")
            aux = aux.float() / 255.0
        try:
            version = int(meta["version"])
            if version > FORMAT_VERSION or version < 1:
                raise ValueError(f"{name}: format version {version} is not supported (this reads {FORMAT_VERSION})")
            w, h = (int(v) for v in meta["source_size"].split(","))
            extra = _read_extra(meta.get("extra", "{}"))
            layout = layout_from_meta(_read_extra(meta["layout"], MAX_LAYOUT_BYTES)) if version >= 2 else None
            return cls(
                a=tensors["a"],
                b=tensors["b"],
                grid=int(meta["grid"]),
                symmetries=meta["symmetries"],
                source_size=(w, h),
                mode=meta["mode"],
                work_side=int(meta["work_side"]),
                s_max=float(meta["s_max"]),
                aux=aux,
                version=version,
                meta=extra if isinstance(extra, dict) else {},
                layout=layout,
            )
        except KeyError as exc:
            raise ValueError(f"{name}: metadata field {exc} is missing") from None
        except (TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{name}: malformed metadata ({exc})") from None
        except ValueError as exc:
            msg = str(exc)
            raise ValueError(msg if msg.startswith(name) else f"{name}: {msg}") from None


def _read_metadata(data: bytes, name: str) -> dict:
    if len(data) < 8:
        raise ValueError(f"{name} is truncated: {len(data)} bytes")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > MAX_HEADER_BYTES or 8 + header_len > len(data):
        raise ValueError(f"{name} is truncated or not a fractal code file (header length {header_len})")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError(f"{name} is not a fractal code file (unreadable header)") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{name} is not a fractal code file (format tag missing)")
    if not all(isinstance(v, str) for v in meta.values()):
        raise ValueError(f"{name}: metadata values must be strings")
    return meta


def _read_extra(text: str, limit: int = MAX_EXTRA_BYTES) -> dict:
    """The free-form ``extra`` metadata (or the layout): a small JSON object of shallow depth."""
    if len(text) > limit:
        raise ValueError(f"the extra metadata is {len(text)} bytes; at most {limit}")
    # Measure the nesting before parsing: deep JSON would exhaust Python's recursion.
    # Brackets inside strings count too, which only errs on the side of refusing.
    depth = deepest = 0
    for char in text:
        depth += (char in "[{") - (char in "]}")
        deepest = max(deepest, depth)
    if deepest > MAX_EXTRA_DEPTH:
        raise ValueError(f"the extra metadata is nested {deepest} deep; at most {MAX_EXTRA_DEPTH}")
    extra = json.loads(text)
    return extra if isinstance(extra, dict) else {}


def _canonical(data: bytes) -> bytes:
    """The same safetensors bytes with the header written in one fixed order.

    The safetensors writer emits the metadata in hash-map order, which varies between
    runs; sorting the keys makes equal codes give equal files. Tensor offsets are
    relative to the data section, so only the header is rewritten (padded with spaces
    to 8 bytes, as the format expects).
    """
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + header_len :]


def _validate(code: FractalCode) -> None:
    if not isinstance(code.grid, int) or not MIN_GRID <= code.grid <= MAX_GRID:
        raise ValueError(f"grid must be an integer in [{MIN_GRID}, {MAX_GRID}], got {code.grid!r}")
    if not isinstance(code.layout, GridLayout | BlendedLayout | QuadtreeLayout) or code.layout.grid != code.grid:
        raise ValueError(f"layout {code.layout!r} does not match the grid {code.grid}")
    if code.symmetries not in SYMMETRIES:
        raise ValueError(f"unknown symmetries {code.symmetries!r}")
    if code.mode not in MODES.values():
        raise ValueError(f"mode must be one of {sorted(MODES.values())}, got {code.mode!r}")
    if not 0.0 < code.s_max < 1.0:
        raise ValueError(f"s_max must lie in (0, 1), got {code.s_max}")
    w, h = code.source_size
    if not (1 <= w <= MAX_SOURCE_SIDE and 1 <= h <= MAX_SOURCE_SIDE):
        raise ValueError(f"source size {w}x{h} is out of range (at most {MAX_SOURCE_SIDE} px a side)")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ValueError(
            f"source size {w}x{h} is a {max(w, h) / min(w, h):.0f}:1 strip; codes cover at most {MAX_ASPECT}:1"
        )
    if code.work_side % code.grid or not code.grid <= code.work_side <= MAX_WORK_SIDE:
        raise ValueError(
            f"work side {code.work_side} must be a multiple of the grid {code.grid}, at most {MAX_WORK_SIDE}"
        )
    if isinstance(code.layout, QuadtreeLayout) and code.layout.unit > MAX_UNIT:
        raise ValueError(
            f"quadtree cells {code.layout.depth} levels below grid {code.grid} need sides of {code.layout.unit} px; "
            f"at most {MAX_UNIT}"
        )
    C = len(code.mode)
    n_aux = 0 if code.aux is None else code.aux.shape[1] if code.aux.dim() == 4 else -1
    if code.aux is not None and (code.aux.dim() != 4 or code.aux.shape[0] != C or not 0 < n_aux <= MAX_AUX):
        raise ValueError(f"aux images must be (C={C}, A<={MAX_AUX}, h, w), got {tuple(code.aux.shape)}")
    if code.aux is not None and not (min(code.aux.shape[-2:]) >= 8 and max(code.aux.shape[-2:]) <= 1024):
        raise ValueError(f"aux image size {tuple(code.aux.shape[-2:])} is out of range")
    n_self, n_total = domain_count(code.symmetries, n_aux)
    K = code.layout.cells
    if tuple(code.a.shape) != (C, K, n_total) or tuple(code.b.shape) != (C, K):
        raise ValueError(
            f"coefficient shapes a{tuple(code.a.shape)} b{tuple(code.b.shape)} do not match "
            f"mode {code.mode} (C={C}), {code.layout.kind} cells of grid {code.grid} (K={K}) and {n_total} domains"
        )
    if not (torch.isfinite(code.a).all() and torch.isfinite(code.b).all()):
        raise ValueError("coefficients contain NaN or infinity")
    if code.b.abs().max() > 1e3 or (n_total > n_self and code.a[..., n_self:].abs().max() > 1e3):
        raise ValueError("offsets or auxiliary weights are absurdly large (> 1e3)")
    worst = code.a[..., :n_self].abs().sum(-1).max().item()
    if worst > code.s_max + CONTRACTION_SLACK:
        raise ValueError(f"code is not contractive: a cell's weights sum to {worst:.6f} > s_max {code.s_max}")
