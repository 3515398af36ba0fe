"""Topic declarations. Names come from settings. Inputs and the handoff topic share one
partition count: the tables are co-partitioned with them, so a lead's events, its handoffs
and its record all live on the same partition number.

Declared on an app passed in (:func:`declare`), never imported from :mod:`streams.worker.app`,
so the app module is the only one that knows the app object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TopicT

from streams.settings import Settings


@dataclass(frozen=True)
class Topics:
    # Everything the scorer agent consumes, as one subscription: the five inputs + handoffs.
    lead_inputs: TopicT
    handoff: TopicT
    # Compacted: a CRM writer that starts late reads every lead's latest score, not its history.
    changes: TopicT
    alerts: TopicT
    deadletter: TopicT
    # The model registry on Kafka (models/publish.py): one partition, compacted; read in full
    # by every worker through the models GlobalTable (streams/worker/tables.py).
    models: TopicT
    by_name: dict[str, TopicT] = field(default_factory=dict)


def declare(app: faust.App, settings: Settings) -> Topics:
    def raw(*names: str, **kw: Any) -> TopicT:
        return app.topic(*names, key_serializer="raw", value_serializer="raw",
                         partitions=settings.topic_partitions, **kw)

    handoff = raw(settings.topic_handoff)
    changes = raw(settings.topic_changes, compacting=True)
    alerts = raw(settings.topic_alerts)
    deadletter = raw(settings.topic_deadletter)
    models = app.topic(settings.topic_models, key_type=str, value_type=bytes,
                       key_serializer="json", value_serializer="raw", partitions=1,
                       compacting=True, internal=False)
    return Topics(
        lead_inputs=raw(*settings.input_topics, settings.topic_handoff),
        handoff=handoff, changes=changes, alerts=alerts, deadletter=deadletter, models=models,
        by_name={t.get_topic_name(): t for t in (handoff, changes, alerts, deadletter)},
    )
