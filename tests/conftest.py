"""Shared test setup: Gradio's files and user presets go to a temporary folder, never $HOME or ./.gradio.

The environment is set at import time because Gradio reads it when it is first imported.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

_TMP = Path(tempfile.mkdtemp(prefix="collage-tests-"))
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("GRADIO_TEMP_DIR", str(_TMP / "gradio"))
os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(_TMP / "examples-cache"))
os.environ.setdefault("NEURAL_COLLAGE_PRESETS", str(_TMP / "user-presets"))
os.environ.setdefault("MPLCONFIGDIR", str(_TMP / "mpl"))

REPO = Path(__file__).resolve().parent.parent


def textured(width=96, height=96, seed=0, mode="RGB"):
    """A deterministic textured PIL image (smooth waves plus a little noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    layers = [0.5 + 0.4 * np.sin(7 * x + 3 * y + c + seed) * np.cos(5 * y - 2 * c * x) for c in range(3)]
    arr = np.clip(np.stack(layers, -1) + 0.04 * rng.standard_normal((height, width, 3)), 0, 1)
    return Image.fromarray((arr * 255).astype(np.uint8), "RGB").convert(mode)


def panel_controls(**values) -> list:
    """The Fractalize controls in page order (the undocumented ``/fractalize_panels`` endpoint's
    positional inputs after the photo): the page's initial values with ``values`` on top."""
    import dataclasses

    from app.tabs.fractalize_request import FractalizeRequest

    request = dataclasses.replace(FractalizeRequest(photo=None), **values)
    return [getattr(request, f.name) for f in dataclasses.fields(request)][1:]


@pytest.fixture
def photo_path(tmp_path):
    """A 96x96 textured RGB PNG on disk."""
    path = tmp_path / "photo.png"
    textured().save(path)
    return path


@pytest.fixture(scope="session")
def example_photo():
    """A real photo shipped with the package (``assets/photos`` in the repository, 512x512)."""
    from collage_core.resources import example_photo

    return example_photo("astronaut.jpg")


@pytest.fixture(scope="session")
def bad_uploads(tmp_path_factory):
    """Files a user might drop that are not plain 8-bit RGB photos, by name."""
    d = tmp_path_factory.mktemp("bad-uploads")
    files = {}
    files["text"] = d / "notes.png"
    files["text"].write_text("this is a text file renamed to .png\n")
    full = d / "full.jpg"
    textured(200, 150).save(full, quality=90)
    files["truncated"] = d / "truncated.jpg"
    files["truncated"].write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    files["tiny"] = d / "one-pixel.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(files["tiny"])
    files["animated"] = d / "animated.gif"
    frames = [textured(64, 64, seed=s).convert("P") for s in range(3)]
    frames[0].save(files["animated"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["cmyk"] = d / "cmyk.jpg"
    textured(80, 60).convert("CMYK").save(files["cmyk"], quality=90)
    files["16bit"] = d / "deep.png"
    arr16 = (np.asarray(textured(64, 48).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(arr16).save(files["16bit"])  # uint16 -> mode I;16
    return files


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # Test tensors are small: on a shared CPU, OpenMP threads spin-waiting on each other
    # made the zoom tests 10x slower. One thread for the session, restored afterwards.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
