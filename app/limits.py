"""Per-request limits of the studio: what one click may cost the server.

The engine has its own hard limits (``collage_core.image_io.MAX_INPUT_PIXELS``,
``collage_core.code.MAX_OUTPUT_PIXELS``); these are tighter, chosen so one request on a
2-core CPU finishes in seconds and several users can share a server.
"""

from __future__ import annotations

# Larger uploads are downscaled (never refused): fitting runs at <= 1024 px a side anyway,
# and 2 MP keeps 1x renders sharp while PNG encoding stays well under a second.
MAX_INPUT_PIXELS = 2_000_000
# Uploads above the engine's decode limit are refused before decoding (decompression bombs).
MAX_UPLOAD_BYTES = "50mb"
# 16 MP = 4096 x 4096: a magnified render plus its PNG in about 3 s on 2 cores.
MAX_OUTPUT_PIXELS = 16_777_216
MAX_MAGNIFY = 16
# Animations: frames x side^2 bounds both time and the size of the file sent back.
MAX_FRAMES = 600
MAX_ANIMATION_SIDE = 1024
MAX_ZOOM = 1e12
MAX_SECONDS = 30.0
MAX_FPS = 50  # GIF delays are in 1/100 s; players clamp shorter ones
MAX_CONVERGE_FRAMES = 60
# Live preview: small enough to follow a dragged slider.
PREVIEW_SIDE = 256
MAX_REFINE_STEPS = 500
# Digits tab.
MAX_DIGITS = 64
MAX_DIGIT_MAGNIFY = 40
# Queue: work is CPU-bound, so more parallel jobs than cores only adds latency.
CONCURRENCY_LIMIT = 2
QUEUE_MAX_SIZE = 32
# Temporary files older than this are swept by the server (seconds).
TEMP_MAX_AGE_S = 3600
