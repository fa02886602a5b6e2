"""A real studio server in a child process, with its memory watched (shared by hostile.py and load.py).

``python -m app`` runs exactly as a user starts it; a thread samples its resident memory
(``VmRSS``) every few milliseconds and the kernel's high-water mark (``VmHWM``) gives the
exact peak. The server's stderr is kept, to count tracebacks in its log.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory field in bytes (0 once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


class Studio:
    """``python -m app`` on a free port; ``peak_rss`` and ``log`` after :meth:`stop`.

    Args:
        repo: the checkout to run (another revision's tree gives a side-by-side baseline).
        address_cap: bytes of address space for the server (``RLIMIT_AS``); ``None`` for none.
    """

    def __init__(self, repo: Path = REPO, address_cap: int | None = None, threads: int = 1):
        self.tmp = Path(tempfile.mkdtemp(prefix="collage-bench-"))
        port = free_port()
        env = dict(
            os.environ,
            GRADIO_SERVER_PORT=str(port),
            GRADIO_ANALYTICS_ENABLED="False",
            GRADIO_TEMP_DIR=str(self.tmp / "gradio"),
            NEURAL_COLLAGE_PRESETS=str(self.tmp / "presets"),
            PYTHONPATH=str(repo),
            OMP_WAIT_POLICY="PASSIVE",
        )

        def limit() -> None:
            if address_cap:
                resource.setrlimit(resource.RLIMIT_AS, (address_cap, address_cap))

        self.log_path = self.tmp / "server.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--no-browser", "--threads", str(threads)],
            cwd=repo,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=limit,
        )
        self.url = f"http://127.0.0.1:{port}/"
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self.peak_rss = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 90:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the studio exited at start:\n{self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the studio did not answer within 90 s")

    def _sample(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append((time.perf_counter() - t0, status(self.proc.pid, "VmRSS")))
            time.sleep(0.005)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss(self) -> int:
        return status(self.proc.pid, "VmRSS")

    def stop(self) -> None:
        self.peak_rss = max(status(self.proc.pid, "VmHWM"), max((r for _, r in self.samples), default=0))
        self._stop.set()
        if self.alive:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()
        self.log = self.log_path.read_text()


def extract(rev: str) -> Path:
    """Another revision of this repository in a temporary folder (``git archive``), for a baseline."""
    target = Path(tempfile.mkdtemp(prefix=f"baseline-{rev[:8]}-"))
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def load_note() -> str:
    load = os.getloadavg()
    return f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores"
