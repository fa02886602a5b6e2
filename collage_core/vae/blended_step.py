"""An inference kernel for the blended collage step: the VAE's 40x digits in a fraction of the time.

:meth:`BlendedLayout.assemble` (what training differentiates) builds every cell's frame,
``(B, C, K, 2c, 2c)``, then a weighted copy of it, then overlap-adds through a zeroed
tile grid: at 40x, 16 frames of 560 x 560 per channel and sample, 8.8 s for 16 samples.
Here the same sum is regrouped, for sampling only:

* Every frame shows the same domain stack, so all ``K`` frames (without offsets) are one
  matrix product ``(K, N) @ (N, 4c^2)`` per channel.
* Padded by half a cell, the image is a ``(g+1) x (g+1)`` grid of ``c``-tiles, and
  quadrant ``(qy, qx)`` of cell ``(i, j)``'s frame is tile ``(i + qy, j + qx)``
  (``overlap_add``'s observation): each quadrant of all frames is multiplied by its
  window weights and added onto its tiles in one pass (``addcmul_``).
* The offsets' share, ``sum_k w_k b_k``, is ``Wy^T b Wx`` (the windows are separable):
  two small products, which start the canvas instead of zeros.
* A linear head (``heads.LinearHead``) is folded into the last step: the logit is
  ``sum_k w_k (sum_{c,n} h_c a_ckn D_cn + sum_c h_c b_ck) + bias``, one ``(K, C*N)``
  product instead of ``C`` channel maps that the head would then mix.
* The symmetric copies are written into one buffer, each by at most one flip, and the
  buffers are reused across samples (:func:`reused_buffers`): fresh pages of the ~100 MB
  of scratch per 40x sample cost as much CPU time as the arithmetic.

Training keeps the einsum path: its backward is cheaper (a fused assemble measured 1.3x
slower per training step). The two agree to float round-off
(``tests/test_vae_blended_step.py``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass, fields

import torch
from einops import rearrange

from ..decode import blended_attractor
from ..layout import BlendedLayout, _mirror_index
from ..resample import area_resize
from ..symmetry import symmetry_elements


@dataclass(frozen=True)
class InferenceBlendedLayout(BlendedLayout):
    """A :class:`BlendedLayout` whose step is :func:`blended_step` (no autograd needed).

    Everything else (weights, bands, recursion, base solve) is the parent's, so
    ``decode_exact`` / ``blended_attractor`` with this layout render the same attractor.
    """

    @classmethod
    def of(cls, layout: BlendedLayout) -> InferenceBlendedLayout:
        return cls(**{f.name: getattr(layout, f.name) for f in fields(BlendedLayout)})

    def step(self, z, a, b, symmetries="d4", aux=None, size=None) -> torch.Tensor:
        if aux is not None and aux.shape[2] > 0:
            return super().step(z, a, b, symmetries, aux, size)  # style images: not needed here
        return blended_step(z, a, b, self, symmetries, size)


@torch.no_grad()
def blended_step(
    z: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    layout: BlendedLayout,
    symmetries: str = "d4",
    size: tuple[int, int] | None = None,
    head: torch.Tensor | None = None,
) -> torch.Tensor:
    """One blended collage step, equal to ``layout.step(z, a, b, symmetries, None, size)`` (no gradient).

    Args:
        z: ``(B, C, h, w)``, area-pooled to the child side (a no-op in the recursion).
        a: ``(B, C, K, N)``, b: ``(B, C, K)``.
        head: ``(1, C + 1)`` = a linear head's ``[weight | bias]``, or ``None``. Given, the
            step returns the head's logits ``(B, 1, S, S)`` of the step's output.
    Returns:
        ``(B, C, S, S)`` (or ``(B, 1, S, S)`` with ``head``), ``S = size`` or ``z``'s side.
    """
    S, W = size or z.shape[-2:]
    g = layout.grid
    if S != W or S % (2 * g):
        raise ValueError(f"the inference step renders square sides divisible by {2 * g}, got {S}x{W}")
    c = S // g
    z = area_resize(z, (layout.child_side(S),) * 2)
    B, C = z.shape[:2]
    stack = _frame_domains(z, layout, symmetries)  # (B, C, N, 2c, 2c)
    N = stack.shape[2]
    if a.shape != (B, C, g * g, N) or b.shape != (B, C, g * g):
        raise ValueError(f"coefficients a{tuple(a.shape)}, b{tuple(b.shape)} do not fit B={B}, C={C}, N={N}")
    if head is None:
        coef, offset = rearrange(a, "b c k n -> (b c) k n"), b.unflatten(-1, (g, g))
        stack = rearrange(stack, "b c n h w -> (b c) n (h w)")
    else:
        w = head[0, :C]
        coef = rearrange(a * w[:, None, None], "b c k n -> b k (c n)")
        offset = torch.einsum("bck,c->bk", b, w).unflatten(-1, (g, g))[:, None]
        stack = rearrange(stack, "b c n h w -> b (c n) (h w)")
    out_c = offset.shape[1]
    # Every cell's frame without its offset: the cost of the step, one matrix product.
    frames = torch.bmm(coef, stack, out=_buffer("frames", (coef.shape[0], g * g, 4 * c * c), z))
    quads = rearrange(frames, "(b o) (i j) (qy h qx w) -> qy qx b o i h j w", b=B, i=g, qy=2, h=c, qx=2)
    # The offsets' share, sum_k w_k b_k = Wy^T b Wx (separable windows), starts the canvas.
    rows = _padded_axis_weights(layout, S, z.dtype, z.device)  # (g, (g+1) c)
    padded = torch.matmul(rows.T, offset @ rows, out=_buffer("canvas", (B, out_c, (g + 1) * c, (g + 1) * c), z))
    tiles = rearrange(padded, "b o (i h) (j w) -> b o i h j w", h=c, w=c)
    weights = _quadrant_weights(layout, S, z.dtype, z.device)  # (2, 2, g, c, g, c)
    for qy in range(2):
        for qx in range(2):
            tiles[:, :, qy : qy + g, :, qx : qx + g, :].addcmul_(quads[qy, qx], weights[qy, qx])
    image = padded[..., c // 2 : c // 2 + S, c // 2 : c // 2 + S]
    return image.contiguous() if head is None else image + head[0, C]


def _frame_domains(z: torch.Tensor, layout: BlendedLayout, symmetries: str) -> torch.Tensor:
    """``layout.frame_domains`` of the child's symmetric copies: ``(B, C, f, f)`` -> ``(B, C, N, 2c, 2c)``.

    Written into one reused buffer, each copy by at most one flip (``apply_symmetries``
    rotates by flip + transpose, stacks, and allocates: 4x the time at 40x).
    """
    if layout.mirror:
        # Half-sample symmetric padding commutes with the dihedral maps, so mirroring
        # the child once before taking the copies is the same as mirroring every copy.
        idx = _mirror_index(z.shape[-1], z.device)
        z = z[..., idx, :][..., idx]
    B, C, f = z.shape[0], z.shape[1], z.shape[-1]
    forms = [_flips(element) for element in symmetry_elements(symmetries)]
    out = _buffer("stack", (B, C, len(forms), f, f), z)
    # The identity and the transpose are copied in first; every other copy is a flip of
    # one of them, read from the buffer (a transposed source would be a strided read).
    sources = {}
    for n, (dims, transpose) in enumerate(forms):
        if not dims:
            out[:, :, n].copy_(z.transpose(-2, -1) if transpose else z)
            sources[transpose] = out[:, :, n]
    for n, (dims, transpose) in enumerate(forms):
        if dims:
            src = sources.get(transpose)
            if src is None:  # a group without that plain copy (not one of ours, but cheap to allow)
                src = z.transpose(-2, -1) if transpose else z
            out[:, :, n].copy_(src.flip(dims))
    return out


@functools.lru_cache(maxsize=8)
def _flips(element: tuple[int, bool]) -> tuple[tuple[int, ...], bool]:
    # A dihedral element as one flip of the image or of its transpose, found by matching
    # apply_symmetries on a 3x3 ramp (the flip happens after the transpose).
    from ..symmetry import SYMMETRIES, apply_symmetries

    probe = torch.arange(9.0).reshape(3, 3)
    want = apply_symmetries(probe, "d4")[SYMMETRIES["d4"].index(element)]
    for transpose in (False, True):
        src = probe.T if transpose else probe
        for dims in ((), (-1,), (-2,), (-2, -1)):
            if torch.equal(src.flip(dims) if dims else src, want):
                return dims, transpose
    raise AssertionError(f"no flip/transpose form for {element}")  # the dihedral group has one


@functools.lru_cache(maxsize=64)  # a 40x render steps through 9 sides, its base 2 more
def _quadrant_weights(layout: BlendedLayout, side: int, dtype, device) -> torch.Tensor:
    """Window weights of quadrant ``(qy, qx)`` of every frame, as its tiles lie: ``(2, 2, g, c, g, c)``."""
    rows = layout.axis_weights(side).to(device=device, dtype=dtype)  # (g, 2c), as frame_weights
    quads = rearrange(rows, "i (q h) -> q i h", q=2)
    return (quads[:, None, :, :, None, None] * quads[None, :, None, None, :, :]).contiguous()


@functools.lru_cache(maxsize=64)  # a 40x render steps through 9 sides, its base 2 more
def _padded_axis_weights(layout: BlendedLayout, side: int, dtype, device) -> torch.Tensor:
    """``w_i`` along one axis of the half-cell-padded level: ``(g, (g + 1) c)``, frame ``i`` at ``i c``."""
    g, c = layout.grid, side // layout.grid
    rows = torch.zeros(g, (g + 1) * c, dtype=torch.float64)
    for i, w in enumerate(layout.axis_weights(side)):
        rows[i, i * c : i * c + 2 * c] = w
    return rows.to(device=device, dtype=dtype)


_BUFFERS = threading.local()


@contextlib.contextmanager
def reused_buffers():
    """Within this block, :func:`blended_step` keeps its work buffers between calls.

    A 40x render allocates about 100 MB of scratch per sample; fresh pages cost as much
    CPU time as the arithmetic (page faults), so a loop over samples reuses them. The
    buffers are dropped on leaving the block; per thread (the studio renders in threads).
    """
    outer = getattr(_BUFFERS, "pool", None)
    _BUFFERS.pool = {} if outer is None else outer
    try:
        yield
    finally:
        _BUFFERS.pool = outer


def _buffer(name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    pool = getattr(_BUFFERS, "pool", None)
    key = (name, shape, like.dtype, like.device)
    if pool is None:
        return like.new_empty(shape)
    if key not in pool:
        pool[key] = like.new_empty(shape)
    return pool[key]


@torch.no_grad()
def render_attractor(a, b, layout: BlendedLayout, symmetries: str, side: int, head=None) -> torch.Tensor:
    """``A(side)`` of a blended collage by the multiscale recursion, with the inference step.

    ``head`` (a linear head's ``(1, C + 1)`` ``[weight | bias]``) is folded into the last
    step: the result is then the head's logits ``(B, 1, side, side)``, else ``(B, C, side, side)``.
    Same recursion as :func:`~collage_core.decode.blended_attractor` (which renders every
    level below the last one here).
    """
    fast = InferenceBlendedLayout.of(layout)
    u = 2 * layout.grid
    if head is None or side <= u:
        z = blended_attractor(a, b, fast, symmetries, side)
        return z if head is None else torch.einsum("oc,bchw->bohw", head[:, :-1], z) + head[0, -1]
    if side % u:
        # A linear head commutes with area resampling (weights sum to 1).
        return area_resize(render_attractor(a, b, layout, symmetries, -(-side // u) * u, head), (side, side))
    child = blended_attractor(a, b, fast, symmetries, layout.child_side(side))
    return blended_step(child, a, b, fast, symmetries, (side, side), head)
