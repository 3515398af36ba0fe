"""A webhook receiver on loopback: what the pager's tests and the demo deliver pages to.

It answers every POST and records it (path, headers, body, the status it answered). By
default it answers 200; a test scripts failures on purpose with :meth:`Receiver.script`
(a 5xx, a delay longer than the pager's timeout, a dropped connection), and "connection
refused" is simply a receiver that is not running. ``on_page`` is called for every request
answered 2xx (the demo prints from it).

From a shell, to watch pages arrive while you try ``leadscore pager``::

    python -m streams.local.receiver --port 8099      # prints each page's text as it lands
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """How to answer one request: ``status`` after ``delay`` seconds, or ``drop`` the
    connection without an answer."""

    status: int = 200
    delay: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered (0: dropped)
    at: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def text(self) -> str:
        """The readable text of a page: Slack's ``text`` or the plain form's ``text``."""
        doc = self.json
        return str(doc.get("text", "")) if isinstance(doc, dict) else ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Receiver:
    """A threaded HTTP server on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(self, port: int = 0,
                 on_page: Callable[[Received], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._requests: list[Received] = []
        self.arrived = 0  # requests read, answered or not yet
        self.on_page = on_page
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                reply = receiver._next_reply()  # counts the arrival
                if reply.delay:
                    time.sleep(reply.delay)
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                               body, 0 if reply.drop else reply.status)
                receiver._record(got)
                if reply.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                payload = b"ok" if got.ok else b"failing on purpose"
                with contextlib.suppress(OSError):  # the client may have timed out
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order; then 200 again."""
        with self._lock:
            self._script.extend(replies)

    def _next_reply(self) -> Reply:
        with self._lock:
            self.arrived += 1
            return self._script.popleft() if self._script else Reply()

    def _record(self, got: Received) -> None:
        with self._lock:
            self._requests.append(got)
        if got.ok and self.on_page is not None:
            self.on_page(got)

    @property
    def requests(self) -> list[Received]:
        """Every request, failed ones included, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def pages(self) -> list[Received]:
        """The requests answered 2xx: what a person would have seen."""
        return [r for r in self.requests if r.ok]

    def start(self) -> Receiver:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.local.receiver",
                                     description="Print the pages POSTed to 127.0.0.1:PORT.")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args(argv)

    def show(got: Received) -> None:
        print(f"--- {time.strftime('%H:%M:%S')} POST {got.path}\n{got.text or got.body!r}\n",
              flush=True)

    try:
        receiver = Receiver(args.port, on_page=show)
    except OSError as exc:
        print(f"receiver: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 2
    print(f"receiving on {receiver.url()} (Ctrl-C stops)", flush=True)
    with receiver, contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
