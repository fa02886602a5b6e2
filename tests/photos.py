"""Small deterministic test images: textured, so fits and encoders have work to do."""

import numpy as np


def synthetic_photo(width=96, height=96, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    layers = [
        0.5 + 0.4 * np.sin(7 * x + 3 * y + c) * np.cos(5 * y - 2 * c * x) + 0.05 * rng.standard_normal((height, width))
        for c in range(channels)
    ]
    arr = np.clip(np.stack(layers, -1), 0, 1)
    return (arr * 255).astype(np.uint8) if channels > 1 else (arr[..., 0] * 255).astype(np.uint8)


def psnr(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return 10 * np.log10(255.0**2 / max(((a - b) ** 2).mean(), 1e-12))
