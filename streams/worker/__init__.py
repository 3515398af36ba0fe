"""The Faust worker: the app and everything registered on it.

Lives here: ``app`` (the one module that builds the app and wires the rest), ``topics`` and
``tables`` (declarations), ``context`` (what agents, timers and views share), ``agents/`` (one
module per agent, named for what it consumes), ``timers/``, ``views`` (HTTP endpoints),
``metrics`` (Prometheus); the batch-native hot path: ``fetch`` (Faust's consumer handing
whole fetched batches to the agent), ``commit`` (the one place that decides when a batch is
done), ``state`` (table writes in Faust's format), ``producer`` and ``clients`` (librdkafka
producer and its configuration); and the Faust adjustments the delivery guarantee needs
(``changelog``, ``recovery``). May import: ``streams.core``, ``streams.runtime``,
``streams.settings``, ``models``, ``schemas``. Agents, timers and views offer
``register(app, ctx)`` and never import ``app``.
"""
