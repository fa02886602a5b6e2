"""A wheel installed into a fresh folder works from anywhere: presets, the VAE, the studio's examples.

The wheel is built from a copy of the files a release needs (so no stale ``build/`` folder
leaks in), installed with ``pip install --target`` and run by ``python -S`` from an empty
working directory. ``-S`` skips the environment's ``.pth`` files, so the editable install
that points at this checkout cannot stand in for the wheel; the environment's
site-packages still provide the dependencies (torch, gradio, ...) through ``PYTHONPATH``.
"""

import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from einops import rearrange
from PIL import Image

pytestmark = pytest.mark.slow

# What a release is built from; tests/, docs/ and benchmarks/ stay out of the wheel.
SOURCES = ("pyproject.toml", "README.md", "app", "collage_core", "presets", "assets")
PRESETS = sorted(p.stem for p in (REPO / "presets").glob("*.toml"))
PHOTOS = sorted(p.name for p in (REPO / "assets" / "photos").glob("*.jpg"))
VAE_FILES = sorted(p.name for p in (REPO / "assets" / "vae").iterdir())


def _setuptools_is_recent() -> bool:
    try:
        version = tuple(int(part) for part in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    # pyproject.toml asks for >= 69; from 70.1 on setuptools builds wheels without the wheel package.
    return version >= (70, 1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(target folder, environment, empty working folder)`` of a wheel installed with ``--target``."""
    root = tmp_path_factory.mktemp("install")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            # symlinks=True keeps collage_core/_data's links relative, as a git checkout has them.
            shutil.copytree(path, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    # Building in this environment avoids fetching setuptools; without a recent one pip isolates the build.
    isolation = ["--no-build-isolation"] if _setuptools_is_recent() else []
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", *isolation, "-w", str(root / "dist"), str(src)], check=True, env=env
    )
    (wheel,) = (root / "dist").glob("*.whl")
    target = root / "target"
    subprocess.run([*pip, "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)], check=True)
    work = root / "elsewhere"
    work.mkdir()
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    run_env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(target), *deps]),
        NEURAL_COLLAGE_PRESETS=str(root / "user-presets"),  # empty: every preset listed is built in
        NEURAL_COLLAGE_DEVICE="cpu",
    )
    return target, run_env, work


def run(installed, *args: str, **env: str) -> str:
    """Run ``python -S ARGS`` from the empty working folder; returns its stdout."""
    _, base_env, work = installed
    result = subprocess.run(
        [sys.executable, "-S", *args], cwd=work, env=base_env | env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_wheel_carries_the_data(installed):
    data = installed[0] / "collage_core" / "_data"
    assert sorted(p.stem for p in (data / "presets").glob("*.toml")) == PRESETS
    assert sorted(p.name for p in (data / "photos").glob("*.jpg")) == PHOTOS
    assert (data / "photos" / "LICENSES.md").is_file()
    assert sorted(p.name for p in (data / "vae").iterdir()) == VAE_FILES  # weights and their README


def test_cli_lists_every_builtin_preset_and_uses_one(installed):
    target = installed[0]
    out = run(installed, str(target / "bin" / "collage"), "presets")
    listed = [line.split()[0] for line in out.splitlines() if line and not line.startswith("your presets folder")]
    assert listed == PRESETS
    photo = target / "collage_core" / "_data" / "photos" / "chelsea.jpg"
    png = installed[2] / "snowflake.png"
    run(installed, str(target / "bin" / "collage"), "fractalize", str(photo), "-o", str(png), "--preset", "snowflake")
    magnify = tomllib.loads((REPO / "presets" / "snowflake.toml").read_text())["render"]["magnify"]
    assert magnify != 1 and Image.open(png).size == tuple(magnify * s for s in Image.open(photo).size)


def test_cli_samples_digits_from_the_shipped_vae(installed):
    target, _, work = installed
    run(installed, str(target / "bin" / "collage"), "sample", "-o", "digits.png", "--n", "4", "--magnify", "2")
    sheet = np.asarray(Image.open(work / "digits.png").convert("L"))
    assert sheet.shape == (2 * 56, 2 * 56)
    tiles = rearrange(sheet, "(r h) (c w) -> (r c) h w", r=2, c=2)
    # Each tile a digit: some ink on a mostly dark background, not a blank or a flat page.
    assert all(tile.max() > 200 and (tile > 128).mean() < 0.5 for tile in tiles)


def test_studio_finds_its_examples_and_presets_in_the_installed_copy(installed):
    script = (
        "import json\n"
        "import gradio as gr\n"
        "import collage_core\n"
        "from collage_core import resources\n"
        "from app import ui\n"
        "blocks = list(ui.build_demo().blocks.values())\n"
        "examples = [s[0]['orig_name'] for b in blocks if isinstance(b, gr.Dataset) for s in b.samples]\n"
        "(preset,) = [b for b in blocks if b.elem_id == 'preset']\n"
        "names = [c[0] for c in preset.choices if c[0] != ui.NO_PRESET]\n"
        "paths = [collage_core.__file__, ui.__file__] + [str(resources.data_dir(k)) for k in resources.KINDS]\n"
        "print(json.dumps({'examples': examples, 'presets': names, 'paths': paths}))\n"
    )
    work = installed[2]
    out = run(installed, "-c", script, GRADIO_TEMP_DIR=str(work / "gradio"), GRADIO_EXAMPLES_CACHE=str(work / "cache"))
    found = json.loads(out.strip().splitlines()[-1])
    assert found["examples"] == PHOTOS
    assert found["presets"] == PRESETS
    for path in found["paths"]:  # code and data from the wheel, not from this checkout
        assert Path(path).is_relative_to(installed[0]), path
