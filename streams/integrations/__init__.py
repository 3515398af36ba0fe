"""Consumers of our output topics, the two every user would otherwise write themselves:
``pager`` (scores.alerts -> a rep's webhook) and ``crmsync`` (scores.changes -> a database
table a CRM integration reads), with what they share in ``kafkaio``.

Why plain confluent-kafka loops and not Faust agents (the scorer's own consumers are Faust
agents by design): each of these does one side effect outside Kafka per batch (an HTTP POST,
a database transaction) and must commit its offsets only after that side effect succeeded.
A synchronous loop that polls, does the work, then commits (``commit(asynchronous=False)``)
says that in a dozen lines, with nothing between the side effect and the commit. A Faust agent
would add what these need least: acknowledgement through Faust's commit timer, the recovery
seek that committed past unprocessed records in our kill -9 test (streams/worker/recovery.py),
an agent that raises having its batch committed, and an event loop that blocking HTTP and
database drivers would stall. They have no tables, no changelogs and no web views to offer.

May import: ``streams.settings``, ``schemas``.
"""
