"""``leadscore crm-sync``: scores.changes -> one row per lead in a database table a CRM
integration reads (SQLite by default, PostgreSQL for production). ``table`` holds the row and
the newest-wins rule (pure), ``database`` the two databases, ``service`` the Kafka loop.
"""
