"""Five held-out square photos (none of them in assets/): the picture-quality benchmarks' test set.

They ship inside scikit-image (``pip install scikit-image``; no download): a star field, a
retina, a motorcycle, a microscope slide and a portrait. The portrait is scikit-image's
astronaut, which assets/photos also carries: no other colour portrait ships offline.
Each is centre-cropped to a square and area-resized to ``side``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def heldout_photos(side: int = 512) -> dict[str, Image.Image]:
    """``{name: RGB image of side x side}``."""
    from skimage import data

    raw = {
        "stars": data.hubble_deep_field(),
        "retina": data.retina(),
        "motorcycle": data.stereo_motorcycle()[0],
        "slide": data.immunohistochemistry(),
        "portrait": data.astronaut(),
    }
    out = {}
    for name, arr in raw.items():
        h, w = arr.shape[:2]
        s = min(h, w)
        crop = np.ascontiguousarray(arr[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s, :3])
        out[name] = Image.fromarray(crop).resize((side, side), Image.BOX)
    return out
