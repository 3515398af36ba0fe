"""What the worker's agents, timers and views share: settings, topics, tables, the model and
the hot path's producer.

Built once by :mod:`streams.worker.app` and handed to each ``register(app, ctx)``, so none of
them imports the app module back (no import cycle, and each can be built against a test app).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from models import registry
from models.publish import Mirror
from streams.core.processing import Processor
from streams.runtime import build_processor
from streams.settings import Settings
from streams.worker.clients import producer_config
from streams.worker.metrics import worker_metrics
from streams.worker.producer import BatchProducer
from streams.worker.tables import Tables
from streams.worker.topics import Topics

SOURCE_ROLES = ("website", "email", "product", "profile", "outcomes", "feedback")


@dataclass
class WorkerContext:
    settings: Settings
    topics: Topics
    tables: Tables
    _processor: Processor | None = field(default=None, repr=False)
    _producer: BatchProducer | None = field(default=None, repr=False)
    _mirror: Mirror | None = field(default=None, repr=False)

    def processor(self) -> Processor:
        """The model is loaded once per worker, on first use."""
        if self._processor is None:
            t0 = time.perf_counter()
            self._processor = build_processor(self.settings,
                                              partitions=self.settings.topic_partitions)
            worker_metrics().record_model(self._processor.scorer.version,
                                          time.perf_counter() - t0)
        return self._processor

    def mirror(self) -> Mirror | None:
        """What writes the model topic into LEADSCORE_MODEL_DIR; None when that is one
        artifact's folder rather than a registry (nothing to mirror into)."""
        root = Path(self.settings.model_dir)
        if registry.is_artifact(root):
            return None
        if self._mirror is None:
            self._mirror = Mirror(root)
        return self._mirror

    def producer(self) -> BatchProducer:
        """The hot path's librdkafka producer, started on first use."""
        if self._producer is None:
            self._producer = BatchProducer(producer_config(self.settings))
        return self._producer

    def close_producer(self, timeout: float = 30.0) -> None:
        if self._producer is not None:
            self._producer.close(timeout)
            self._producer = None

    def source_roles(self) -> dict[str, str]:
        """Input topic -> the source label metrics use (bounded; topic names are
        configurable)."""
        return dict(zip(self.settings.input_topics, SOURCE_ROLES, strict=True))
