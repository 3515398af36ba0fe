"""Starting and stopping the worker processes the tools start: one rule everywhere."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path


def stop(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM, so Faust commits and leaves the group cleanly; SIGKILL after ``grace``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def run_worker(env: dict[str, str], log: Path, cwd: Path | None = None,
               preexec: Callable[[], None] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``leadscore worker`` as a child process with ``env``, output appended to ``log``;
    always stopped on exit. ``preexec`` runs in the child (tests tie it to their life)."""
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env,
                                cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=preexec)
    try:
        yield proc
    finally:
        stop(proc)
