"""Builds the :class:`~streams.core.processing.Processor` from settings (used by the worker and by
``leadscore replay``), so both run with the same model, rules and topic names."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from models.artifact import load
from models.registry import challenger_dir, champion_dir
from streams.core.alerting import AlertPolicy
from streams.core.processing import Policy, Processor, TopicNames
from streams.core.significance import parse_rule
from streams.settings import Settings


def policy_from(settings: Settings, partitions: int | None) -> Policy:
    return Policy(
        min_change=settings.min_score_change,
        top_k=settings.top_factors,
        max_age=timedelta(days=settings.max_event_age_days),
        max_bytes=settings.max_event_bytes,
        alerts=AlertPolicy(hot=settings.tier_hot, warm=settings.tier_warm,
                           hysteresis=settings.alert_hysteresis,
                           spike_points=settings.spike_points,
                           spike_window_s=settings.spike_hours * 3600,
                           decline_points=settings.decline_points,
                           decline_window_s=settings.decline_days * 86400,
                           page_from=settings.alert_page_from),
        significant=parse_rule(settings.significant_events.split(",")),
        partitions=partitions,
        contacted_quiet_s=settings.feedback_contacted_hours * 3600,
        record_cache=settings.record_cache,
    )


def topic_names(settings: Settings) -> TopicNames:
    return TopicNames(handoff=settings.topic_handoff, changes=settings.topic_changes,
                      alerts=settings.topic_alerts, deadletter=settings.topic_deadletter,
                      shadow=settings.topic_shadow)


def resolve_model_dir(path: Path) -> Path:
    """An artifact folder, or a registry of them (``leadscore train --out``): its champion
    (``champion.json``, else the newest: :mod:`models.registry`)."""
    return champion_dir(path)


def build_processor(settings: Settings, model_dir: Path | None = None,
                    partitions: int | None = None) -> Processor:
    path = resolve_model_dir(model_dir or settings.model_dir)
    scorer = load(path)
    scorer.prepare_explanations()  # before the first batch, not during it
    proc = Processor(scorer, topic_names(settings), policy_from(settings, partitions))
    proc.reference = load_reference(path)
    ch = challenger_dir(model_dir or settings.model_dir)
    if ch is not None:
        proc.shadow(load(ch))
    return proc


def load_reference(path: Path) -> dict[str, Any] | None:
    """The artifact's drift reference (reference.json), None without one."""
    try:
        return dict(orjson.loads((path / "reference.json").read_bytes()))
    except (OSError, orjson.JSONDecodeError):
        return None
