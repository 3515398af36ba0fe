"""``leadscore pager``: scores.alerts -> a rep's webhook. ``config`` (the routing file),
``rules`` (route, quiet hours, hourly cap: pure), ``render`` (the page a rep reads),
``webhook`` (POST with retries), ``store`` (SQLite: idempotency keys, held alerts, views),
``views`` (profiles and latest scores read from Kafka), ``service`` (the loop).
"""
