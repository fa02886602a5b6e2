"""``python -m app``: launch the studio on localhost, print its URL, open a browser where one exists."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# One intra-op thread per request: the queue already runs requests in parallel, and on a
# busy CPU OpenMP's spinning threads made fits 30x and zoom frames 8x slower (measured).
DEFAULT_THREADS = 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app", description="Launch Neural Collage Studio in the browser.")
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``python -m app`` and ``collage serve``."""
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", DEFAULT_HOST),
        help="interface to listen on (default $GRADIO_SERVER_NAME or 127.0.0.1; 0.0.0.0 exposes it to your network)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", DEFAULT_PORT)),
        help="port (default $GRADIO_SERVER_PORT or 7860)",
    )
    parser.add_argument("--device", default=None, help="torch device: auto (default), cpu, cuda, mps")
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("NEURAL_COLLAGE_THREADS", DEFAULT_THREADS)),
        help="torch CPU threads per request (default $NEURAL_COLLAGE_THREADS or 1: requests run in parallel)",
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")


def open_browser(url: str) -> bool:
    """Open ``url`` in a browser when this machine has one; never fails."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False  # a headless server: text-mode browsers would take over the terminal
    try:
        import webbrowser

        return webbrowser.open(url, new=2)
    except Exception:  # noqa: BLE001 - a missing browser is not an error
        return False


def serve(args: argparse.Namespace) -> int:
    """Build the studio, launch it and block until Ctrl-C."""
    import torch

    from .guard import configure_logging
    from .ui import build_demo, launch_kwargs, queued

    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    configure_logging()
    demo = queued(build_demo(device=args.device, host=args.host))
    demo.launch(server_name=args.host, server_port=args.port, prevent_thread_lock=True, quiet=True, **launch_kwargs())
    host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "::") else args.host
    url = f"http://{host}:{demo.server_port}/"
    print(f"Neural Collage Studio is running at {url}  (Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        open_browser(url)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return serve(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
