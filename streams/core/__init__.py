"""The scorer's logic, free of Faust and Kafka: messages in, outputs and table writes out.

Lives here: batch processing (``processing``), the per-lead table record (``record``), the
handoff topic's records (``handoff``), alert rules (``alerting``), which events trigger a
score (``significance``), the percentile histogram (``percentile``), the idle scan
(``tablescan``), lookup answers (``lookup``), the output messages' bytes (``messages``) and
Kafka's default partitioner (``partitioner``).
The worker and ``leadscore replay`` both run this code. May import: ``models``, ``schemas``.
Never Faust, Kafka clients, settings or anything else of ``streams``.
"""
