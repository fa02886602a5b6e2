"""Per-request limits of the studio: what one click may cost the server.

The engine has its own hard limits (``collage_core.image_io.MAX_INPUT_PIXELS`` and
``MAX_ASPECT``, ``collage_core.code.MAX_OUTPUT_PIXELS`` and ``MAX_DECODE_SIDE``); these
are tighter, chosen so one request on a 2-core CPU finishes in seconds and several users
can share a server in bounded memory. ``docs/safety.md`` explains each one.
"""

from __future__ import annotations

# Larger uploads are downscaled (never refused): fitting runs at <= 1024 px a side anyway,
# and 2 MP keeps 1x renders sharp while PNG encoding stays well under a second.
MAX_INPUT_PIXELS = 2_000_000
# ...and to this longest side, so a 1x render decodes at most a 2048^2 square (strips
# beyond the engine's 16:1 aspect limit are refused with a message).
MAX_INPUT_SIDE = 2048
# Uploads above the engine's decode limit are refused before decoding (decompression bombs).
MAX_UPLOAD_BYTES = "50mb"
# 16 MP = 4096 x 4096: a magnified render plus its PNG in about 3 s on 2 cores.
MAX_OUTPUT_PIXELS = 16_777_216
# Every render decodes a square whose side is at least the output's longer side: pixel
# counts alone let a 20000x8 output decode 32768^2 (12 GiB a tensor). 4096^2 peaks at
# ~0.6 GB for RGB, so two jobs at once stay well under the 3 GB server target.
MAX_DECODE_SIDE = 4096
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
MAX_DIGIT_MAGNIFY = 40  # the contact sheet's
MAX_CLOSEUP_MAGNIFY = 64  # one digit, 1792 px a side: the VAE's own limit (collage_core.vae.MAX_MAGNIFY)
# Seeds: whole numbers a person can type; larger ones overflow torch's generator.
MAX_SEED = 2**32 - 1
# Queue: work is CPU-bound, so more parallel jobs than cores only adds latency. The limit
# is per event listener in Gradio, so every heavy endpoint shares one concurrency id:
# two heavy jobs at once in the whole server, whichever buttons started them.
CONCURRENCY_LIMIT = 2
HEAVY_WORK = "heavy"
# Live previews (<= 256 px, tens of ms) get their own single slot: they never wait
# behind a 30 s export, and never add more than one job to the two heavy ones.
PREVIEW_WORK = "preview"
PREVIEW_CONCURRENCY = 1
QUEUE_MAX_SIZE = 32
# Presets saved in the studio: a description is a line, not a file; a session or the
# local user keeps a handful, not an unbounded folder.
MAX_PRESET_DESCRIPTION = 200
MAX_SESSION_PRESETS = 16
MAX_LOCAL_PRESETS = 64
# Temporary files older than this are swept by the server (seconds).
TEMP_MAX_AGE_S = 3600
