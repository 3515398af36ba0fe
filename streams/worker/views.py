"""The worker's HTTP endpoints, on Faust's web server (LEADSCORE_WEB_HOST:LEADSCORE_WEB_PORT).

- ``GET /metrics``: Prometheus exposition of :mod:`streams.worker.metrics`.
- ``GET /healthz``: 200 while the process serves HTTP (liveness: restart only a hung worker).
- ``GET /readyz``: 200 only after table recovery (readiness: no lookups from a half-restored
  table); 503 with the reason otherwise.
- ``GET /leads/{lead_id}``: the lead's current score (:class:`schemas.outputs.LeadScore`). Any
  worker answers: a lead lives in the table partition of ``murmur2(lead_id)``, and a worker
  that does not own that partition forwards the request to the one that does (Faust's
  assignment knows every worker's canonical URL). 400 for a malformed id, 404 for an unknown
  lead, 503 while the partition has no owner (a rebalance), 401 without the bearer token when
  LEADSCORE_API_TOKEN is set.

A worker that would serve lookups beyond loopback without a token refuses to start
(:func:`check_exposure`): a lead's score, tier and reasons are customer data, and "0.0.0.0 in a
container" would otherwise publish them to anyone who can reach the port.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import faust
import orjson
from faust import web
from prometheus_client import CONTENT_TYPE_LATEST
from yarl import URL

from models.errors import UsageError
from streams.core.lookup import lead_score, valid_lead_id
from streams.core.processing import partition_for
from streams.core.record import lead_key
from streams.settings import Settings
from streams.worker.context import WorkerContext
from streams.worker.metrics import ConsumerCollector, worker_metrics

FORWARDED = "X-Leadscore-Forwarded"
SERVED_BY = "X-Leadscore-Worker"  # canonical URL of the worker that read the table
_JSON = "application/json"


def _problem(view: web.View, status: int, detail: str, **headers: str) -> web.Response:
    return view.bytes(orjson.dumps({"error": detail, "status": status}), content_type=_JSON,
                      status=status, headers=headers or None)


def ready(app: Any) -> tuple[bool, str]:
    """Ready once Faust finished recovering the tables of its assignment."""
    recovery = app.tables.recovery  # the concrete TableManager
    if not recovery.completed.is_set():
        return False, "table recovery has not completed yet"
    if app.in_recovery:
        return False, "recovering tables after a rebalance"
    return True, "ready"


def _ident(url: str) -> tuple[str, int]:
    u = URL(url)
    return (u.host or "", int(u.port or 80))


def owner_url(app: Any, ctx: WorkerContext, lead_id: str) -> str | None:
    """Canonical URL of the worker that owns the lead's partition, from the assignment."""
    leads = ctx.tables.leads
    partition = partition_for(lead_id.encode(), ctx.settings.topic_partitions)
    topic = leads.changelog_topic.get_topic_name()
    for host, topic_map in app.router.table_metadata(leads.name).items():
        if partition in topic_map.get(topic, ()):
            return str(host)
    return None


def consumer_lag(app: Any, settings: Settings) -> Iterator[tuple[str, int, int]]:
    """(topic, partition, lag) for each input or handoff partition assigned to this worker:
    high watermark minus the committed offset (Faust keeps the next offset to read), or the
    read position before the first commit (the whole partition before the first read).
    Changelog partitions are left out: Faust reads them for standby tables and never commits
    them, so a "lag" there would only be noise."""
    consumer = app.consumer
    mine = {*settings.input_topics, settings.topic_handoff}
    committed = getattr(consumer, "_committed_offset", {})
    read = getattr(consumer, "_read_offset", {})
    for tp in sorted(consumer.assignment()):
        if tp.topic not in mine:
            continue
        high = consumer.highwater(tp)
        if high is None:
            continue
        done = committed.get(tp)
        if done is None:  # nothing committed yet: from the read position, or all of it
            done = read[tp] + 1 if read.get(tp) is not None else 0
        yield tp.topic, tp.partition, max(0, int(high) - int(done))



def is_loopback(host: str) -> bool:
    """Only 127.0.0.0/8, ::1 and "localhost" count: an empty host, 0.0.0.0, :: or any other
    name may be reachable from elsewhere."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Refuse (one line, exit 2 from the CLI) to serve GET /leads beyond loopback without a
    token, unless LEADSCORE_API_ALLOW_UNAUTHENTICATED says something else keeps others out."""
    if (settings.api_token is not None or settings.api_allow_unauthenticated
            or is_loopback(settings.web_host)):
        return
    raise UsageError(
        f"LEADSCORE_WEB_HOST={settings.web_host} is not a loopback address and "
        "LEADSCORE_API_TOKEN is not set, so anyone reaching port "
        f"{settings.web_port} could read every lead's score: set LEADSCORE_API_TOKEN, or "
        "LEADSCORE_API_ALLOW_UNAUTHENTICATED=true if the network already keeps others out")


def authorized(settings: Settings, header: str | None) -> bool:
    token = settings.api_token
    if token is None:
        return True
    expected = f"Bearer {token.get_secret_value()}"
    return header is not None and hmac.compare_digest(header.encode(), expected.encode())


class _View(web.View):
    ctx: WorkerContext  # set for each app by register()


class MetricsView(_View):
    async def get(self, request: web.Request) -> web.Response:
        metrics = worker_metrics()
        metrics.ready.set(1 if ready(self.app)[0] else 0)
        # aiohttp refuses a charset in content_type=; the full header goes in as a header.
        return self.bytes(metrics.exposition(),
                          headers={"Content-Type": CONTENT_TYPE_LATEST})


class HealthView(_View):
    async def get(self, request: web.Request) -> web.Response:
        return self.json({"status": "ok"})


class ReadyView(_View):
    async def get(self, request: web.Request) -> web.Response:
        ok, why = ready(self.app)
        worker_metrics().ready.set(1 if ok else 0)
        if not ok:
            return _problem(self, 503, why, **{"Retry-After": "5"})
        return self.json({"status": why})


class LeadView(_View):
    async def get(self, request: web.Request, lead_id: str) -> web.Response:
        req: Any = request
        if not authorized(self.ctx.settings, req.headers.get("Authorization")):
            return _problem(self, 401, "missing or wrong bearer token",
                            **{"WWW-Authenticate": 'Bearer realm="leadscore"'})
        if not valid_lead_id(lead_id):
            return _problem(self, 400, "malformed lead id: 1-128 characters, no control or "
                            "invisible characters")
        owner = owner_url(self.app, self.ctx, lead_id)
        if owner is None:
            return _problem(self, 503, "no worker owns this lead's partition right now "
                            "(rebalancing); retry", **{"Retry-After": "2"})
        if _ident(owner) != _ident(str(self.app.conf.canonical_url)):
            if req.headers.get(FORWARDED):
                # The sender thought we own it; the assignment moved under us. No ping-pong.
                return _problem(self, 503, "lead ownership is moving; retry",
                                **{"Retry-After": "2"})
            return await self._forward(req, owner, lead_id)
        ok, why = ready(self.app)
        if not ok:
            return _problem(self, 503, why, **{"Retry-After": "5"})
        raw = self.ctx.tables.leads.get(lead_key(lead_id))
        if raw is None:
            return _problem(self, 404, f"unknown lead {lead_id!r}")
        answer = lead_score(self.ctx.processor(), lead_id, raw)
        return self.bytes(answer.to_bytes(), content_type=_JSON,
                          headers={SERVED_BY: str(self.app.conf.canonical_url)})

    async def _forward(self, req: Any, owner: str, lead_id: str) -> web.Response:
        headers = {FORWARDED: "1"}
        if req.headers.get("Authorization"):
            headers["Authorization"] = req.headers["Authorization"]
        url = f"{owner.rstrip('/')}/leads/{quote(lead_id, safe='')}"
        try:
            async with self.app.http_client.get(
                    url, headers=headers, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                body = await resp.read()
                served = {SERVED_BY: resp.headers[SERVED_BY]} if SERVED_BY in resp.headers else None
                return self.bytes(body, content_type=resp.content_type or _JSON,
                                  status=resp.status, headers=served)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _problem(self, 502, f"owner {owner} did not answer: {exc.__class__.__name__}")


ROUTES: dict[str, type[_View]] = {"/metrics": MetricsView, "/healthz": HealthView,
                                   "/readyz": ReadyView, "/leads/{lead_id}": LeadView}


def register(app: faust.App, ctx: WorkerContext) -> None:
    """Mount the endpoints on ``app`` and let the metrics read its consumer's lag."""
    for path, view in ROUTES.items():
        app.page(path)(type(view.__name__, (view,), {"ctx": ctx}))
    worker_metrics().registry.register(
        ConsumerCollector(lambda: consumer_lag(app, ctx.settings)))
