"""``python -m streams.bench``: the scorer's throughput and event-to-score latency, printed side
by side with the ceiling measured on the same broker, on the same machine, in the same run.

Why a command and not a timed test: speed depends on the machine and on what else runs on it,
so a figure means something only next to a ceiling measured under the same conditions. The
ceiling is a bare confluent-kafka loop (consume, parse, a rocksdict read-modify-write of a small
value per key, one produce per event): what this broker, this machine and these client libraries
allow before any Faust or model work. The scorer is one real ``leadscore worker`` process.

Phases, all on fresh topics (unique names) so nothing from earlier runs is counted:

1. ceiling: the N events pre-loaded into their own topics, consumed by the bare loop;
2. scorer throughput: the same N events pre-loaded into the worker's topics, then one worker
   is started; timed from its first output message to its consumer group's lag reaching 0;
   its CPU time (utime+stime, all threads) over that window divided by N is "CPU per event",
   a figure that moves far less with the machine's load than events/s do;
3. with ``--workers N``: N workers started on empty topics, left to form their group, then
   sent the N events; the aggregate rate and CPU per event;
4. scorer latency: a worker (restarted with LEADSCORE_MIN_SCORE_CHANGE=0, so every scored
   event yields a score change) is sent pricing-page views at each ``--rate`` in turn;
   latency is the time from each produce() call to reading the score change caused by that
   event. Printed beside it: the worker's own ``leadscore_event_to_score_seconds`` histogram
   over the same events, quantiles interpolated as Prometheus does (the Grafana panel).

Package layout: :mod:`.prepare` (broker, model, events, topics), :mod:`.ceiling` (the bare
loop), :mod:`.scorer` (one worker's throughput), :mod:`.latency` (event-to-score latency),
:mod:`.report` (figures and the table), :mod:`.main` (the command); :mod:`.routes` (``python
-m streams.bench.routes``: the measurement behind the hot path's design) and
:mod:`.processing` (``python -m streams.bench.processing``: the Processor alone, no Kafka). Imports
streams.local, streams.commands (produce's routing), streams.worker (routes) and models;
nothing imports it.
"""
