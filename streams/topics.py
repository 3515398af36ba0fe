"""Topic declarations. Names come from settings. Inputs and the handoff topic share one
partition count: the tables are co-partitioned with them, so a lead's events, its handoffs
and its record all live on the same partition number."""

from __future__ import annotations

from faust.types import TopicT

from streams.app import app, settings


def _raw(*names: str, **kw: object) -> TopicT:
    return app.topic(*names, key_serializer="raw", value_serializer="raw", **kw)  # type: ignore[arg-type]


# Everything the scorer agent consumes, as one subscription: the five inputs + handoffs.
lead_inputs = _raw(*settings.input_topics, settings.topic_handoff,
                   partitions=settings.topic_partitions)

handoff = _raw(settings.topic_handoff, partitions=settings.topic_partitions)
# Compacted: a CRM writer that starts late reads every lead's latest score, not its history.
changes = _raw(settings.topic_changes, partitions=settings.topic_partitions,
               compacting=True)
alerts = _raw(settings.topic_alerts, partitions=settings.topic_partitions)
deadletter = _raw(settings.topic_deadletter, partitions=settings.topic_partitions)

by_name: dict[str, TopicT] = {t.get_topic_name(): t for t in (handoff, changes, alerts,
                                                              deadletter)}
