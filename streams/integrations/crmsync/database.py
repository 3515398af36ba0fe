"""The table in SQLite (the embedded default) or PostgreSQL, behind one small interface.

Both run the same statement: ``INSERT ... ON CONFLICT (lead_id) DO UPDATE ... WHERE
(excluded.event_time, excluded.emitted_at) >= (row.event_time, row.emitted_at)``, so the
newest-wins rule holds in the database itself, against rows written by an earlier batch or
another process, and one batch is one transaction. SQLite stores times as ISO-8601 text in
UTC with microseconds (``2026-03-02T09:29:30.000000Z``: they sort as they compare) and
``top_factors`` as JSON text; PostgreSQL as ``timestamptz`` and ``jsonb``.

SQLite runs in WAL mode (a CRM integration reads while crm-sync writes) with
``synchronous=FULL``: a transaction is on disk before the offsets that skip it are committed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from streams.integrations.crmsync.table import COLUMNS, Row

TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class DatabaseError(Exception):
    """The database cannot be reached or refused a statement; the batch is retried."""


@dataclass(frozen=True)
class Applied:
    written: int  # rows inserted or replaced
    stale: int  # changes older than the row they met (not written)
    deleted: int


class Database(Protocol):
    name: str

    def apply(self, upserts: list[Row], deletes: list[str]) -> Applied: ...

    def read_all(self) -> dict[str, dict[str, Any]]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def _upsert_sql(table: str, placeholder: str) -> str:
    cols = [*COLUMNS, "synced_at"]
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "lead_id")
    return (f"INSERT INTO {table} ({', '.join(cols)}) "
            f"VALUES ({', '.join([placeholder] * len(cols))}) "
            f"ON CONFLICT (lead_id) DO UPDATE SET {sets} "
            f"WHERE (excluded.event_time, excluded.emitted_at) >= "
            f"({table}.event_time, {table}.emitted_at)")


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime(TS_FORMAT)


class SqliteDatabase:
    def __init__(self, path: Path, table: str) -> None:
        self.name = f"sqlite:///{path}"
        self.table = table
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(f"""
            CREATE TABLE IF NOT EXISTS {table} (
                lead_id TEXT PRIMARY KEY,
                score INTEGER NOT NULL,
                probability REAL NOT NULL,
                tier TEXT NOT NULL,
                percentile REAL NOT NULL,
                trend TEXT NOT NULL,
                reasons TEXT NOT NULL,
                top_factors TEXT NOT NULL,
                recommended_action TEXT NOT NULL,
                model_version TEXT NOT NULL,
                cause_event_id TEXT NOT NULL,
                cause_event_type TEXT NOT NULL,
                event_time TEXT NOT NULL,
                emitted_at TEXT NOT NULL,
                synced_at TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS {table}_tier_score ON {table} (tier, score DESC);
        """)
        self.upsert = _upsert_sql(table, "?")

    def apply(self, upserts: list[Row], deletes: list[str]) -> Applied:
        now = _ts(datetime.now(UTC))
        params = [(*(_ts(v) if isinstance(v, datetime) else v
                     for v in (getattr(r, c) for c in COLUMNS)), now) for r in upserts]
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self.conn.executemany(self.upsert, params)
                written = max(cur.rowcount, 0)
                cur = self.conn.executemany(f"DELETE FROM {self.table} WHERE lead_id = ?",
                                            [(d,) for d in deletes])
                deleted = max(cur.rowcount, 0)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise DatabaseError(f"sqlite: {exc}") from exc
        return Applied(written, len(upserts) - written, deleted)

    def read_all(self) -> dict[str, dict[str, Any]]:
        cur = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.table}")
        return {r[0]: _normal(dict(zip(COLUMNS, r, strict=True))) for r in cur}

    def count(self) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    def close(self) -> None:
        self.conn.close()


class PostgresDatabase:
    def __init__(self, url: str, table: str) -> None:
        import psycopg

        self._psycopg = psycopg
        parts = urlsplit(url)
        self.name = f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"
        self.url, self.table = url, table
        self.conn: Any = self._connect()
        with self.conn.transaction():
            self.conn.execute(f"""
                CREATE TABLE IF NOT EXISTS {table} (
                    lead_id TEXT PRIMARY KEY,
                    score INTEGER NOT NULL,
                    probability DOUBLE PRECISION NOT NULL,
                    tier TEXT NOT NULL,
                    percentile DOUBLE PRECISION NOT NULL,
                    trend TEXT NOT NULL,
                    reasons TEXT NOT NULL,
                    top_factors JSONB NOT NULL,
                    recommended_action TEXT NOT NULL,
                    model_version TEXT NOT NULL,
                    cause_event_id TEXT NOT NULL,
                    cause_event_type TEXT NOT NULL,
                    event_time TIMESTAMPTZ NOT NULL,
                    emitted_at TIMESTAMPTZ NOT NULL,
                    synced_at TIMESTAMPTZ NOT NULL
                )""")
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_tier_score "
                              f"ON {table} (tier, score DESC)")
        self.upsert = _upsert_sql(table, "%s")

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self._psycopg.Error as exc:
            raise DatabaseError(f"postgresql {self.name}: {_one_line(exc)}") from exc

    def apply(self, upserts: list[Row], deletes: list[str]) -> Applied:
        from psycopg.types.json import Jsonb

        now = datetime.now(UTC)
        params = [(*(Jsonb(orjson.loads(v)) if c == "top_factors" else v
                     for c, v in ((c, getattr(r, c)) for c in COLUMNS)), now) for r in upserts]
        try:
            if self.conn is None or self.conn.closed:
                self.conn = self._connect()
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(self.upsert, params)
                written = max(cur.rowcount, 0)
                cur.executemany(f"DELETE FROM {self.table} WHERE lead_id = %s",
                                [(d,) for d in deletes])
                deleted = max(cur.rowcount, 0)
        except self._psycopg.Error as exc:
            if self.conn is not None and self.conn.broken:
                self.conn = None  # reconnect on the retry
            raise DatabaseError(f"postgresql {self.name}: {_one_line(exc)}") from exc
        return Applied(written, len(upserts) - written, deleted)

    def read_all(self) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.table}").fetchall()
        out = {}
        for r in rows:
            doc = dict(zip(COLUMNS, r, strict=True))
            doc["top_factors"] = orjson.dumps(doc["top_factors"]).decode()
            out[doc["lead_id"]] = _normal(doc)
        return out

    def count(self) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _normal(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A row as comparable plain values, whichever database it came from."""
    out = dict(doc)
    for c in ("event_time", "emitted_at"):
        v = out[c]
        out[c] = _ts(v) if isinstance(v, datetime) else v
    out["top_factors"] = orjson.loads(out["top_factors"])
    out["probability"] = float(out["probability"])
    out["percentile"] = float(out["percentile"])
    return out


def expected_row(row: Row) -> dict[str, Any]:
    """How :meth:`Database.read_all` shows ``row``: what a test compares the table with."""
    return _normal({c: getattr(row, c) for c in COLUMNS})


def connect(url: str, table: str) -> Database:
    """``sqlite:///relative/or/absolute/path`` or ``postgresql://...`` (``postgres://`` too)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        rest = url.split(":", 1)[1]
        if not rest.startswith("///") or len(rest) == 3:
            raise DatabaseError(f"a SQLite URL is sqlite:///PATH, got {url!r}")
        return SqliteDatabase(Path(rest[3:]), table)
    if scheme in ("postgresql", "postgres"):
        return PostgresDatabase(url, table)
    raise DatabaseError(f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH or "
                        "postgresql://USER:PASSWORD@HOST:PORT/DB")
