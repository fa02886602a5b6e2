"""A shareable view: which code, where, how deep and how toned, as JSON or a URL fragment.

The same ``.collage`` file restores the same view anywhere: the code is named by the
SHA-256 of its bytes, the centre and zoom are exact decimals (a float cannot place a view
at 1e15x: its ulp near 0.5 is a tenth of a 256-pixel view), and the tone settings say how
the picture was stretched.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction

import torch

from .autocontrast import HIGH, LOW
from .viewport import MAX_ZOOM

FORMAT = "neural-collage-view"
FRAGMENT_KEY = "view="
MAX_TEXT = 4096  # a view is a few hundred characters; refuse pasted novels early


def code_hash(code) -> str:
    """SHA-256 (hex) of what a code file stores, in a canonical order.

    Not of the file's bytes: safetensors writes its metadata in hash-map order, so
    saving the same code twice can give different bytes. The coefficients as saved
    (float32; style images as 8-bit) and the sorted metadata give the same hash for a
    code and for the file it was saved to and loaded from, on any machine.
    """
    h = hashlib.sha256()
    fields = {
        "grid": code.grid,
        "symmetries": code.symmetries,
        "source_size": list(code.source_size),
        "mode": code.mode,
        "work_side": code.work_side,
        "s_max": float(code.s_max),
        "version": code.version,
        "meta": code.meta,
    }
    h.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for t in (code.a, code.b):
        t = t.detach().cpu().float().contiguous()
        h.update(str(tuple(t.shape)).encode() + t.numpy().tobytes())
    if code.aux is not None:
        aux = (code.aux.detach().cpu() * 255).round().clamp(0, 255).to(torch.uint8).contiguous()
        h.update(str(tuple(aux.shape)).encode() + aux.numpy().tobytes())
    return h.hexdigest()


def _default_tone() -> dict:
    return {"method": "levels-per-depth", "low": LOW, "high": HIGH}


def decimal_text(value: Fraction, digits: int) -> str:
    """``value`` as a plain decimal with ``digits`` significant digits."""
    with localcontext() as ctx:
        ctx.prec = digits
        d = Decimal(value.numerator) / Decimal(value.denominator)
    return format(d, "f")


@dataclass(frozen=True)
class ViewSpec:
    """A view of one code.

    Attributes:
        code: SHA-256 hex of the code file (see :func:`code_hash`).
        center: normalised ``(x, y)``, exact.
        zoom: the view spans ``1 / zoom`` of the image width.
        tone: how the view was tone-mapped (method and percentiles).
    """

    code: str
    center: tuple[Fraction, Fraction]
    zoom: Fraction
    tone: dict = field(default_factory=_default_tone)

    def __post_init__(self) -> None:
        if not (
            isinstance(self.code, str) and len(self.code) == 64 and all(c in "0123456789abcdef" for c in self.code)
        ):
            raise ValueError("a view's code hash must be 64 lowercase hex digits")
        if not (1 <= self.zoom <= MAX_ZOOM):
            raise ValueError(f"a view's zoom must be in [1, {MAX_ZOOM:.0e}], got {float(self.zoom):.3g}")
        if not all(-1 <= c <= 2 for c in self.center):
            raise ValueError("a view's centre must lie near the image (0..1)")

    def _digits(self) -> int:
        # Enough for a hundredth of a pixel of a 4096-wide view at this zoom.
        return len(str(int(self.zoom))) + 8

    def to_dict(self) -> dict:
        d = self._digits()
        return {
            "format": FORMAT,
            "version": 1,
            "code": self.code,
            "center": [decimal_text(self.center[0], d), decimal_text(self.center[1], d)],
            "zoom": decimal_text(self.zoom, 17),
            "tone": self.tone,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def to_fragment(self) -> str:
        """``#view=...``: the JSON, base64url-encoded, to append to the studio's URL."""
        raw = json.dumps(self.to_dict(), separators=(",", ":")).encode()
        return "#" + FRAGMENT_KEY + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(cls, text: str) -> ViewSpec:
        """A view from its JSON, its fragment, or a URL ending in the fragment.

        Raises:
            ValueError: not a view, or a malformed one (the message says what is wrong).
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("paste a view: its JSON or a link ending in #view=...")
        text = text.strip()
        if len(text) > MAX_TEXT:
            raise ValueError(f"a view is at most {MAX_TEXT} characters; this is {len(text)}")
        if FRAGMENT_KEY in text and not text.startswith("{"):
            encoded = text.split(FRAGMENT_KEY, 1)[1].split("&")[0]
            try:
                text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (ValueError, UnicodeDecodeError):
                raise ValueError("the #view= part of this link is damaged") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"this is not a view's JSON ({exc.msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"this JSON is not a view (its 'format' must be {FORMAT!r})")
        try:
            cx, cy = (Fraction(str(v)) for v in data["center"])
            zoom = Fraction(str(data["zoom"]))
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            raise ValueError("a view needs 'center': [x, y] and 'zoom' as numbers") from None
        tone = data.get("tone", _default_tone())
        if not isinstance(tone, dict):
            raise ValueError("a view's 'tone' must be an object")
        return cls(code=str(data.get("code", "")).lower(), center=(cx, cy), zoom=zoom, tone=tone)

    def check_code(self, code) -> None:
        """Raise ``ValueError`` unless ``code`` is the code this view was made of."""
        if code_hash(code) != self.code:
            raise ValueError(
                "this view belongs to another collage (its code hash differs): load the .collage it was made from"
            )
