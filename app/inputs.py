"""Request values checked the way a person reads them: every bad value gets a sentence.

Values reach the studio's callbacks as JSON numbers or strings from the page or from any
API client, so NaN, infinities, 2.5 for a count and 2**70 for a seed all arrive. These
helpers refuse them with a message naming the field, instead of letting ``int()`` or
torch fail with a technical one (or silently truncate 2.5 to 2).
"""

from __future__ import annotations

import math
import numbers

from . import limits


def number(value, what: str, low: float, high: float) -> float:
    """``value`` as a finite float in ``[low, high]``; otherwise ``ValueError`` naming ``what``."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{what} must be a number, got {value!r}.") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value}.")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low:g} and {high:g}, got {value:g}.")
    return value


def whole(value, what: str, low: int, high: int) -> int:
    """``value`` as an int in ``[low, high]``; 2.5 is refused, 3.0 is 3."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        x = int(value)
    else:
        f = number(value, what, -math.inf, math.inf)
        if not f.is_integer():
            raise ValueError(f"{what} must be a whole number, got {f:g}.")
        x = int(f)
    if not low <= x <= high:
        raise ValueError(f"{what} must be a whole number between {low} and {high}, got {x}.")
    return x


def seed(value) -> int:
    """A random seed: a whole number in ``[0, MAX_SEED]`` (``None`` or empty means 0)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    return whole(value, "Seed", 0, limits.MAX_SEED)


def size(text, low: int = 16, high: int = limits.MAX_ANIMATION_SIDE) -> tuple[int, int]:
    """``"512×512"`` or ``"640x360"`` as ``(width, height)``, both sides in ``[low, high]``."""
    try:
        w, h = (int(v) for v in str(text).lower().replace("×", "x").split("x"))
    except ValueError:
        raise ValueError(f"Size must look like 512x512, got {text!r}.") from None
    if not (low <= w <= high and low <= h <= high):
        raise ValueError(f"Sides must be between {low} and {high} px, got {w}×{h}.")
    return w, h


def point(text) -> tuple[float, float] | None:
    """``"x, y"`` with both in 0..1 (fractions of width and height); empty or "auto..." is ``None``."""
    if text is None or not str(text).strip() or str(text).strip().lower().startswith("auto"):
        return None
    try:
        x, y = (float(v) for v in str(text).replace(";", ",").split(","))
    except ValueError:
        raise ValueError(
            f"Target must be 'x, y' with numbers in 0..1, or empty for the auto loop point; got {text!r}."
        ) from None
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise ValueError(f"Target coordinates must lie in 0..1, got {x}, {y}.")
    return (x, y)
