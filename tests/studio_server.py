"""Launch the studio in-process on a free port (used by the server and browser tests)."""

import contextlib
import socket

from app import ui


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_studio():
    """Yield ``(demo, url)`` of a queued studio on 127.0.0.1; closed afterwards."""
    demo = ui.queued(ui.build_demo())
    demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, **ui.launch_kwargs()
    )
    try:
        yield demo, demo.local_url
    finally:
        demo.close()
