"""Stopping the child processes the tools start (workers): one rule everywhere."""

from __future__ import annotations

import subprocess


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
