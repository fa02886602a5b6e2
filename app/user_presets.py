"""Presets saved in the studio, and which presets each visitor sees.

A studio may serve several people, so a preset saved from the page belongs to the browser
session that saved it. Only when the server listens on this machine alone (localhost, the
default) is the visitor the local user: then the preset is also written to the user's
preset folder and is there after a restart. Built-in presets are never shadowed: a saved
preset may not take a built-in's name, and lookups try the built-ins first, so one
visitor can never change what ``natural`` means for another. Everything is bounded:
names, descriptions (no control characters), and how many presets a session or the
local folder holds. A preset is reported saved only after it has been read back.
"""

from __future__ import annotations

import functools
import tomllib
import unicodedata
from pathlib import Path

from collage_core.atomic import write_text_atomic
from collage_core.presets import NAME_PATTERN, Preset, list_presets, read_preset, user_dir

from . import limits
from .session import Session

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_local = [False]


def configure(host: str | None) -> None:
    """Share saved presets with the local user's folder only when ``host`` is local."""
    _local[0] = host is not None and host in LOCAL_HOSTS


def shared_with_local_user() -> bool:
    return _local[0]


def builtins() -> dict[str, Preset]:
    """The shipped presets (package data: read once, not at every preview step)."""
    return dict(_builtins())


@functools.lru_cache(maxsize=1)
def _builtins() -> tuple[tuple[str, Preset], ...]:
    return tuple((p.name, p) for p in list_presets(include_user=False))


def local_presets() -> dict[str, Preset]:
    """The local user's presets (localhost servers only), minus any built-in names."""
    if not _local[0]:
        return {}
    directory, taken = user_dir(), builtins()
    found: dict[str, Preset] = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.toml"))[: limits.MAX_LOCAL_PRESETS]:
            if path.stem in taken:
                continue
            try:
                found[path.stem] = read_preset(path)
            except ValueError:
                continue  # one bad file must not hide the others
    return found


def available(session: Session | None) -> dict[str, Preset]:
    """Every preset this visitor may use: built-ins win over their own of the same name."""
    own = dict(local_presets())
    if session is not None:
        own.update(session.presets)
    return {**own, **builtins()}


def names(session: Session | None) -> list[str]:
    return sorted(available(session))


def find(session: Session | None, name: str) -> Preset:
    """The preset called ``name`` for this visitor (never a path: names only)."""
    presets = available(session)
    if not isinstance(name, str) or name not in presets:
        raise ValueError(f"Unknown preset {name!r}; available: {', '.join(sorted(presets))}.")
    return presets[name]


def clean_name(name) -> str:
    text = str(name or "").strip().lower().replace(" ", "-")
    if not text:
        raise ValueError("Give the preset a name (letters, digits, '-' or '_').")
    if not NAME_PATTERN.match(text):
        raise ValueError(
            f"A preset name is 1 to 40 lowercase letters, digits, '-' or '_', starting with a letter "
            f"or digit; got {_shown(text)}."
        )
    return text


def clean_description(text) -> str:
    text = str(text or "").strip()
    if len(text) > limits.MAX_PRESET_DESCRIPTION:
        raise ValueError(
            f"The description is {len(text)} characters; at most {limits.MAX_PRESET_DESCRIPTION} (one line)."
        )
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise ValueError("The description may not contain control characters (tabs, line breaks, ...).")
    return text


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def save(session: Session, name, description, fractalize: dict, render: dict) -> Preset:
    """Save a preset for this session (and, on localhost, for the local user).

    Raises:
        ValueError: a bad or built-in name, a bad description, too many presets, or a
            preset that does not read back as written.
    """
    name = clean_name(name)
    if name in builtins():
        raise ValueError(f"'{name}' is a built-in preset; choose another name.")
    preset = Preset(name=name, description=clean_description(description), fractalize=fractalize, render=render)
    if name not in session.presets and len(session.presets) >= limits.MAX_SESSION_PRESETS:
        raise ValueError(f"This session already holds {limits.MAX_SESSION_PRESETS} presets; reuse a name.")
    if _reread(preset) != _fields(preset):
        raise ValueError(f"Preset '{name}' does not read back as written; it was not saved.")
    if _local[0]:
        _save_local(preset)
    session.presets[name] = preset
    return preset


def _fields(p: Preset) -> tuple:
    return (p.name, p.description, p.fractalize, p.render, p.zoom)


def _reread(preset: Preset) -> tuple:
    data = tomllib.loads(preset.to_toml())
    sections = {s: data.get(s, {}) for s in ("fractalize", "render", "zoom")}
    return _fields(Preset(name=preset.name, description=data.get("description", ""), **sections))


def _save_local(preset: Preset) -> Path:
    directory = user_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{preset.name}.toml"
    if not path.exists() and len(list(directory.glob("*.toml"))) >= limits.MAX_LOCAL_PRESETS:
        raise ValueError(f"Your preset folder {directory} already holds {limits.MAX_LOCAL_PRESETS} presets.")
    write_text_atomic(path, preset.to_toml())
    try:
        same = _fields(read_preset(path)) == _fields(preset)
    except ValueError:
        same = False
    if not same:
        path.unlink(missing_ok=True)
        raise ValueError(f"Preset '{preset.name}' does not read back from {path}; it was not saved.")
    return path
