"""One delivery to one webhook: POST, classify, retry with backoff, give up.

2xx is delivered. A timeout, a refused or dropped connection, 408, 429 and 5xx are retried
(``Retry-After`` honoured up to the retry policy's max delay); any other 4xx is refused for
good (a revoked Slack webhook answers 404): retrying would not help, so the delivery goes to
the dead-letter topic at once. The waits watch the stop flag, so SIGTERM during a long backoff
stops at once and the alert, not yet delivered nor committed, is read again on restart.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.integrations.pager.config import Retry, Webhook

RETRYABLE_4XX = (408, 429)


@dataclass(frozen=True)
class Attempt:
    result: str  # ok, http_4xx, http_5xx, timeout, refused, error
    detail: str  # one line for logs and dead letters
    retry_after: float | None = None


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    attempts: int
    detail: str
    stopped: bool = False  # the stop flag interrupted the retries


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Attempt:
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "leadscore-pager", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read(65536)
            return Attempt("ok", f"HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        kind = "http_5xx" if exc.code >= 500 else "http_4xx"
        return Attempt(kind, f"HTTP {exc.code} {exc.reason}", _retry_after(exc.headers))
    except urllib.error.URLError as exc:
        return _os_error(exc.reason)
    except TimeoutError:
        return Attempt("timeout", f"no answer within {timeout:g} s")
    except OSError as exc:
        return _os_error(exc)


def _os_error(reason: object) -> Attempt:
    if isinstance(reason, TimeoutError):
        return Attempt("timeout", "no answer in time")
    if isinstance(reason, ConnectionRefusedError):
        return Attempt("refused", "connection refused")
    if isinstance(reason, ConnectionError):
        return Attempt("error", f"connection lost: {reason}")
    return Attempt("error", " ".join(str(reason).split())[:200])


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def retryable(a: Attempt, status_text: str) -> bool:
    if a.result in ("timeout", "refused", "error", "http_5xx"):
        return True
    return a.result == "http_4xx" and any(status_text.startswith(f"HTTP {c}")
                                          for c in RETRYABLE_4XX)


def deliver(hook: Webhook, body: bytes, idempotency_key: str, retry: Retry,
            stop: threading.Event,
            on_attempt: Callable[[Attempt, float], None] | None = None) -> Outcome:
    """Try until delivered, refused for good, out of attempts, or stopped."""
    delays = retry.delays()
    headers = {"Idempotency-Key": idempotency_key, **hook.headers}
    attempt = Attempt("error", "not tried")
    for n in range(1, retry.attempts + 1):
        t0 = time.monotonic()
        attempt = post(hook.url, body, headers, retry.timeout_seconds)
        if on_attempt is not None:
            on_attempt(attempt, time.monotonic() - t0)
        if attempt.result == "ok":
            return Outcome(True, n, attempt.detail)
        if not retryable(attempt, attempt.detail):
            return Outcome(False, n, f"{attempt.detail} (not retried)")
        if n == retry.attempts:
            break
        wait = delays[n - 1]
        if attempt.retry_after is not None:
            wait = min(max(wait, attempt.retry_after), retry.max_delay_seconds)
        if stop.wait(wait):
            return Outcome(False, n, attempt.detail, stopped=True)
    return Outcome(False, retry.attempts, f"{attempt.detail} after {retry.attempts} attempts")
