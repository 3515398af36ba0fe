"""Local infrastructure for development and tests, on loopback only: an Apache Kafka broker
fetched from Maven Central (``kafka``), Debian's Prometheus (``prometheus``) and PostgreSQL
(``postgres``), a webhook receiver (``receiver``), worker processes (``procs``) and
consumer-group lag (``lag``). May import: ``streams.settings``.
"""
