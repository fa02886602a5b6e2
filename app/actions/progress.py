"""The progress hook the actions report to: ``(fraction in 0..1, what is happening)``."""

from collections.abc import Callable

ProgressFn = Callable[[float, str], None]
