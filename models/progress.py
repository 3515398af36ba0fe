"""Progress lines for long steps (a first Kafka download, training a model), readable on a
terminal and in a log file alike.

On a terminal one line is rewritten in place; piped into a file, a line is written at most
every ``every`` seconds (and the last one always), so a log never gets a hundred updates glued
onto one line by carriage returns.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self._last_write = -float("inf")
        self._pending: str | None = None
        self._width = 0

    def __call__(self, line: str) -> None:
        if self.tty:
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.stream.flush()
            self._width = len(line)
            return
        now = time.monotonic()
        if now - self._last_write >= self.every:
            self._emit(line)
            self._last_write = now
        else:
            self._pending = line

    def done(self, line: str | None = None) -> None:
        """End the progress: the final line (or the last pending one) on a line of its own."""
        if self.tty:
            if line is not None:
                self(line)
            if self._width:
                self.stream.write("\n")
                self.stream.flush()
            self._width = 0
            return
        final = line if line is not None else self._pending
        if final is not None:
            self._emit(final)
        self._pending = None

    def _emit(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
