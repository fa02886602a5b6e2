"""Named looks: small TOML files that override a few settings of the defaults.

A preset file (``presets/<name>.toml``)::

    description = "Crystalline six-fold detail, strong self-similarity"

    [fractalize]          # fields of FractalizeConfig
    grid = 8
    strength = 0.8

    [render]              # magnify, iterations, start ("noise" or "gray"), colour ("true", "ice", ...)
    magnify = 4

    [zoom]                # zoom, seconds, fps, easing, loop, pingpong, size, format, autocontrast
    autocontrast = "ice"  # a tone look or a palette, as [render] colour
    zoom = 1e6

Built-in presets ship with the package (``presets/`` in the repository, read through
:mod:`collage_core.resources`); users save their own to
``$NEURAL_COLLAGE_PRESETS`` or ``~/.config/neural-collage/presets`` (a user preset with a
built-in's name takes precedence).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomli_w

from .atomic import write_text_atomic
from .config import FractalizeConfig
from .palette import check_colour
from .resources import builtin_presets_dir

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_FILE_BYTES = 16 * 1024

_FRACTALIZE_KEYS = {f.name for f in fields(FractalizeConfig)}
# Allowed render and zoom keys and their types; values are checked again where they are used.
_RENDER_KEYS: dict[str, tuple[type, ...]] = {
    "magnify": (int, float),
    "iterations": (int,),
    "start": (str,),
    "colour": (str,),  # "true", "vivid", "off" or a palette: "ice", "ice:0.7"
}
_ZOOM_KEYS: dict[str, tuple[type, ...]] = {
    "zoom": (int, float),
    "seconds": (int, float),
    "fps": (int,),
    "easing": (str,),
    "loop": (bool,),
    "pingpong": (bool,),
    "size": (int, str),
    "format": (str,),
    "autocontrast": (bool, str),  # true/false, a look ("colour", "vivid", "off") or a palette ("ice")
}


@dataclass(frozen=True)
class Preset:
    """A named look.

    Attributes:
        fractalize: overrides of :class:`FractalizeConfig` fields.
        render: ``magnify``, ``iterations`` and ``start`` for renders.
        zoom: settings of zoom exports.
        path: the file it was read from (``None`` when built in code).
    """

    name: str
    description: str = ""
    fractalize: dict = field(default_factory=dict)
    render: dict = field(default_factory=dict)
    zoom: dict = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"preset name {self.name!r} must be lowercase letters, digits, '-' or '_' (max 40)")
        unknown = set(self.fractalize) - _FRACTALIZE_KEYS
        if unknown:
            raise ValueError(f"preset {self.name}: unknown [fractalize] settings {sorted(unknown)}")
        self.config()  # FractalizeConfig validates the values
        _check_section(self.name, "render", self.render, _RENDER_KEYS)
        _check_section(self.name, "zoom", self.zoom, _ZOOM_KEYS)
        for section, key in (("zoom", "autocontrast"), ("render", "colour")):
            if key in getattr(self, section):
                try:
                    check_colour(getattr(self, section)[key], key)
                except ValueError as exc:
                    raise ValueError(f"preset {self.name}: [{section}] {exc}") from None
        start = self.render.get("start", "noise")
        if start not in ("noise", "gray"):
            raise ValueError(f"preset {self.name}: [render] start must be 'noise' or 'gray', got {start!r}")

    def config(self, base: FractalizeConfig | None = None) -> FractalizeConfig:
        """``base`` (default: the defaults) with this preset's fractalize overrides applied."""
        return (base or FractalizeConfig()).override(**self.fractalize)

    def to_toml(self) -> str:
        """The preset as a small TOML document (what :func:`save_preset` writes)."""
        sections = {s: dict(getattr(self, s)) for s in ("fractalize", "render", "zoom") if getattr(self, s)}
        for values in sections.values():
            for key, value in values.items():
                _check_storable(key, value)
        doc = {"description": self.description} | sections
        try:
            return tomli_w.dumps(doc)
        except TypeError as exc:  # tomli-w names the type it cannot write
            raise ValueError(f"preset {self.name}: {exc}") from None


def _check_section(name: str, section: str, values: dict, allowed: dict[str, tuple[type, ...]]) -> None:
    for key, value in values.items():
        if key not in allowed:
            raise ValueError(f"preset {name}: unknown [{section}] setting {key!r}; known: {sorted(allowed)}")
        types = allowed[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            kinds = " or ".join(t.__name__ for t in types)
            raise ValueError(f"preset {name}: [{section}] {key} must be {kinds}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"preset {name}: [{section}] {key} must be finite")


def _check_storable(key: str, value) -> None:
    """TOML has no null, and presets never hold infinities: a clear message instead."""
    if value is None:
        raise ValueError(f"presets cannot store None ({key}); leave the setting out instead")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot write {key} = {value} to a preset")


def user_dir() -> Path:
    """Where users' own presets live: ``$NEURAL_COLLAGE_PRESETS`` or ``~/.config/neural-collage/presets``."""
    env = os.environ.get("NEURAL_COLLAGE_PRESETS")
    if env:
        return Path(env).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "neural-collage" / "presets"


def read_preset(path: str | os.PathLike) -> Preset:
    """Parse one preset file; any defect raises ``ValueError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such preset file: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes; presets are small files")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid TOML: {exc}") from None
    unknown = set(data) - {"description", "fractalize", "render", "zoom"}
    if unknown:
        raise ValueError(f"{path.name}: unknown top-level keys {sorted(unknown)}")
    sections = {s: data.get(s, {}) for s in ("fractalize", "render", "zoom")}
    for section, values in sections.items():
        if not isinstance(values, dict):
            raise ValueError(f"{path.name}: [{section}] must be a table")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{path.name}: description must be a string")
    try:
        return Preset(name=path.stem, description=description, path=path, **sections)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path.name}: {exc}") from None


def list_presets(include_user: bool = True) -> list[Preset]:
    """All presets, sorted by name; a user preset replaces a built-in of the same name.

    Unreadable user files are skipped (one bad file must not hide the others).
    """
    found: dict[str, Preset] = {}
    builtin = builtin_presets_dir()
    dirs = [builtin] + ([user_dir()] if include_user else [])
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                found[path.stem] = read_preset(path)
            except ValueError:
                if directory == builtin:
                    raise
    return [found[k] for k in sorted(found)]


def preset_names() -> list[str]:
    return [p.name for p in list_presets()]


def load_preset(name_or_path: str | os.PathLike) -> Preset:
    """A preset by name (user presets first, then built-ins) or by path to a ``.toml`` file."""
    text = str(name_or_path)
    if text.endswith(".toml") or os.sep in text:
        return read_preset(text)
    for directory in (user_dir(), builtin_presets_dir()):
        path = directory / f"{text}.toml"
        if path.is_file():
            return read_preset(path)
    known = ", ".join(preset_names()) or "none"
    raise ValueError(f"unknown preset {text!r}; available: {known}")


def save_preset(preset: Preset, directory: str | os.PathLike | None = None, overwrite: bool = True) -> Path:
    """Write ``preset`` as ``<directory>/<name>.toml`` (default: :func:`user_dir`) and return the path."""
    directory = Path(directory) if directory is not None else user_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{preset.name}.toml"
    if path.exists() and not overwrite:
        raise ValueError(f"preset {preset.name!r} already exists in {directory}")
    return write_text_atomic(path, preset.to_toml())
