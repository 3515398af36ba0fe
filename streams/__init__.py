"""The streaming side of leadscore: the Faust worker and the operator's tools around it.

Rooms (each package's own docstring says more):

- ``core/``      the scorer's logic, free of Faust and Kafka: batch processing, the table
                 record, alert rules, significance, percentiles. Used by the worker and by
                 ``leadscore replay``, which is what makes their parity meaningful.
- ``worker/``    the Faust runtime: the app, topics, tables, agents, timers, web views,
                 metrics and the Faust adjustments the delivery guarantee needs.
- ``commands/``  the operator's commands behind ``leadscore`` (demo, produce, replay, topics,
                 kafka, worker) and their shared argparse helpers.
- ``local/``     local infrastructure for development and tests: a Kafka broker and a
                 Prometheus server on loopback, worker processes, consumer-group lag.
- ``bench/``     ``python -m streams.bench``: throughput and latency against the ceiling.
- ``settings.py`` the one settings class; ``kafkaconfig.py`` the Kafka client configuration
  (security included) of both client libraries, from settings; ``runtime.py`` builds the
  scorer from settings; ``cli.py`` the ``leadscore`` entry point.

Dependencies point one way (tests/unit/test_layout.py checks it): core imports only models and
schemas; worker imports core, runtime, settings and kafkaconfig, never the commands; commands
may start a worker; nothing imports cli or bench. Across the project: ``streams -> models
-> schemas``.
"""
