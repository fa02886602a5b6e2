"""Neural Collage Studio's front ends: the Gradio studio (``python -m app``) and the ``collage`` CLI.

Importing this package switches Gradio's analytics off before anything imports gradio.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
