"""The data shipped with the package: built-in presets, example photos and the VAE weights.

The repository keeps them at the top level (``presets/``, ``assets/photos/``, ``assets/vae/``).
``collage_core/_data/`` holds relative symlinks to those three folders, and ``pyproject.toml``
declares them package data, so a checkout, an editable install and an installed wheel (where
setuptools copies the files in) all find them at the same place through
:mod:`importlib.resources`, whatever the working directory. This module is the only one that
knows where that place is.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

KINDS = ("presets", "photos", "vae")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def data_dir(kind: str) -> Path:
    """The folder of shipped ``kind`` data (``"presets"``, ``"photos"`` or ``"vae"``) on disk."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    folder = resources.files(__package__) / "_data" / kind
    # Callers hand these paths to Gradio, safetensors and Pillow, which need real files: a package
    # imported from a zip archive would need extracting first, and pip never installs one that way.
    if not isinstance(folder, Path):
        raise ValueError(f"{__package__} is not installed as files on disk; reinstall it with pip")
    if not folder.is_dir():
        raise ValueError(f"the shipped {kind} folder {folder} is missing; reinstall neural-collage-studio")
    return folder


def builtin_presets_dir() -> Path:
    """The folder of built-in presets (``presets/*.toml`` in the repository)."""
    return data_dir("presets")


def example_photos() -> list[Path]:
    """The example photos (``assets/photos`` in the repository; licences in its ``LICENSES.md``), by name."""
    return sorted(p for p in data_dir("photos").iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def example_photo(name: str) -> Path:
    """One example photo by file name, e.g. ``"astronaut.jpg"``."""
    path = data_dir("photos") / name
    if path.suffix.lower() not in PHOTO_SUFFIXES or not path.is_file():
        known = ", ".join(p.name for p in example_photos())
        raise ValueError(f"no example photo {name!r}; shipped: {known}")
    return path


def vae_weights(filename: str) -> Path:
    """A shipped weights file (``assets/vae/<filename>`` in the repository)."""
    path = data_dir("vae") / filename
    if not path.is_file():
        raise ValueError(f"shipped weights {filename} are missing from {path.parent}; reinstall neural-collage-studio")
    return path
