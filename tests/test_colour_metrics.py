"""The benchmarks' colour measures: a metric that cannot fail would hide a colour cast."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from colour_metrics import PhotoGamut, ab_distance  # noqa: E402

from collage_core.resources import example_photo  # noqa: E402


def _photo() -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(example_photo("astronaut.jpg")).convert("RGB"))


def test_foreign_colours_count_pixels_not_means():
    photo = _photo()
    gamut = PhotoGamut(photo)
    assert gamut.foreign_share(photo) < 0.01  # a photo holds its own colours
    teal = photo.copy()
    teal[:, : photo.shape[1] // 2] = (60, 140, 150)  # a hue the astronaut photo never has
    assert abs(gamut.foreign_share(teal) - 0.5) < 0.01
    grey = np.full_like(photo, 128)
    assert gamut.foreign_share(grey) == 0.0  # neutral greys are in every photo with a white wall


def test_a_cast_the_mean_hides_is_seen_per_pixel():
    photo = np.zeros((64, 64, 3), np.uint8)
    photo[...] = (150, 120, 100)  # one brown
    split = photo.copy()
    split[:, :32] = (210, 110, 40)  # orange and ...
    split[:, 32:] = (90, 130, 160)  # ... blue: far apart, yet their mean is near brown
    assert ab_distance(split, photo) < 15
    assert PhotoGamut(photo).foreign_share(split) == 1.0
