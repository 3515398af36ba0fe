"""The model watch: every ``LEADSCORE_MODEL_CHECK_SECONDS`` the worker writes what the model
topic holds into its registry (``LEADSCORE_MODEL_DIR``), looks there for a new champion and
swaps it in without a restart.

The model topic is read by the models GlobalTable (every worker reads all of it,
``streams/worker/tables.py``); :func:`mirror` writes the champion and challenger it names
into the folder (``models/publish.py``), so whatever reaches a worker, through the topic or
a shared folder, passes the same checks before it scores.

Why a timer on the event loop and not a thread: the scorer agent calls
:meth:`Processor.process` synchronously, so assigning ``Processor.scorer`` from a coroutine
happens between two batches, never inside one: every output of a batch carries one version,
and no event waits or is lost. Loading and the smoke scoring (a LightGBM parse, ~0.1-1 s) run
in a thread so batches keep flowing meanwhile.

A refused artifact is logged once (one line) and counted; its fingerprint is remembered, so
it is not checked again until its files change (a copy that was still being written).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import faust

from models.errors import UsageError
from models.publish import POINTER_KEY
from models.registry import Refused, challenger_dir, champion_dir, fingerprint, validate
from streams.runtime import load_reference
from streams.worker.context import WorkerContext
from streams.worker.metrics import worker_metrics

log = logging.getLogger(__name__)


def register(app: faust.App, ctx: WorkerContext) -> None:
    watch = ModelWatch(ctx)

    @app.timer(interval=ctx.settings.model_check_seconds, name="leadscore.model_watch")
    async def check_model() -> None:
        table = ctx.tables.models
        if table is not None:
            await asyncio.to_thread(mirror, ctx, table.get)
        await watch.check()
        await watch.check_challenger()


class ModelWatch:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.refused: set[tuple[str, tuple[tuple[str, int, int], ...]]] = set()
        self.broken_pointer: str | None = None

    async def check(self) -> None:
        proc = self.ctx.processor()
        try:
            target = champion_dir(Path(self.ctx.settings.model_dir))
        except UsageError as e:  # an unreadable champion.json or an unknown version
            if str(e) != self.broken_pointer:
                log.error("model registry: %s; still scoring with %s", e, proc.scorer.version)
                worker_metrics().model_swaps.labels(outcome="refused").inc()
                worker_metrics().model_refused.labels(reason="pointer").inc()
                self.broken_pointer = str(e)
            return
        self.broken_pointer = None
        key = (str(target), fingerprint(target))
        if key in self.refused or _same(target, proc.scorer.version):
            return
        current = proc.scorer
        try:
            scorer = await asyncio.to_thread(validate, target, current)
        except Refused as e:
            self.refused.add(key)
            log.error("model refused (%s): %s; still scoring with %s", e.reason, e,
                      current.version)
            worker_metrics().model_swaps.labels(outcome="refused").inc()
            worker_metrics().model_refused.labels(reason=e.reason).inc()
            return
        if scorer.version == proc.scorer.version:
            return
        proc.swap(scorer)
        if proc.challenger is not None and proc.challenger.version == scorer.version:
            proc.shadow(None)  # the challenger promoted: it is the champion now
        proc.reference = load_reference(target)
        worker_metrics().record_model(scorer.version, 0.0)
        worker_metrics().model_swaps.labels(outcome="swapped").inc()
        log.warning("model swapped: %s -> %s (%s)", current.version, scorer.version, target)

    async def check_challenger(self) -> None:
        """The registry's challenger (``leadscore promote --shadow``), scored in shadow."""
        proc = self.ctx.processor()
        try:
            target = challenger_dir(Path(self.ctx.settings.model_dir))
        except UsageError:
            return  # check() reports a broken pointer
        have = proc.challenger.version if proc.challenger is not None else None
        if target is None:
            if have is not None:
                proc.shadow(None)
                log.warning("challenger %s no longer scored in shadow", have)
            return
        key = (str(target), fingerprint(target))
        if key in self.refused or _same(target, have or ""):
            return
        try:
            scorer = await asyncio.to_thread(validate, target, proc.scorer)
        except Refused as e:
            self.refused.add(key)
            log.error("challenger refused (%s): %s", e.reason, e)
            worker_metrics().model_refused.labels(reason=e.reason).inc()
            return
        if scorer.version != proc.scorer.version:
            proc.shadow(scorer)
            log.warning("challenger %s scores in shadow beside %s", scorer.version,
                        proc.scorer.version)


_told: set[str] = set()


def mirror(ctx: WorkerContext, get: Callable[[str], bytes | None]) -> None:
    """Write the model topic's champion and challenger (``get``: its newest value per key)
    into the registry; a problem with what the topic holds is logged once."""
    m = ctx.mirror()
    if m is None:
        if get(POINTER_KEY) is not None and "artifact-dir" not in _told:
            _told.add("artifact-dir")
            log.error("model topic %s names a champion, but LEADSCORE_MODEL_DIR (%s) is one "
                      "artifact's folder, not a registry: the topic is not followed",
                      ctx.settings.topic_models, ctx.settings.model_dir)
        return
    try:
        done = m.sync(get)
    except OSError as e:  # e.g. a read-only folder: the worker keeps scoring what it has
        if str(e) not in _told:
            _told.add(str(e))
            log.error("model topic %s: cannot write into %s (%s); still scoring with %s",
                      ctx.settings.topic_models, m.registry, e,
                      ctx._processor.scorer.version if ctx._processor else "nothing yet")
        return
    for problem in done.problems:
        if problem not in _told:
            _told.add(problem)
            log.error("model topic %s: %s", ctx.settings.topic_models, problem)
    if done.written or done.pointer is not None:
        ptr = done.pointer
        log.warning("model topic %s mirrored into %s: %s", ctx.settings.topic_models,
                    m.registry, ", ".join(
                        [f"artifact {v}" for v in done.written]
                        + ([f"champion {ptr.version}"
                            + (f", challenger {ptr.challenger}" if ptr.challenger else "")]
                           if ptr is not None else [])))


def _same(target: Path, version: str) -> bool:
    """The target is the model scoring now (by the version it claims; the checks ran when it
    was loaded)."""
    from models.registry import claimed_version

    return claimed_version(target) == version
