"""The pager's memory, one SQLite file: what it already handled (by idempotency key), what
it holds for digests, pages per rep per hour, and its views of the leads' profiles and
latest scores with the topic positions they were read to.

Every change that must survive a crash is one transaction (WAL, ``synchronous=FULL``), made
right after the side effect it records: "delivered" is written the moment the webhook said
2xx, before the offset is committed, so a restarted pager drops the re-read alert. The only
window left is a crash between the receiver's 2xx and that write (microseconds): the alert
is then sent again with the same ``Idempotency-Key``. The views are written with their
positions in one transaction, so after a crash they resume exactly where they were.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS handled (key TEXT PRIMARY KEY, outcome TEXT NOT NULL,
                                    at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS handled_at ON handled (at);
CREATE TABLE IF NOT EXISTS held (key TEXT PRIMARY KEY, route TEXT NOT NULL, rep TEXT NOT NULL,
                                 reason TEXT NOT NULL, release_at REAL NOT NULL,
                                 item TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS page_counts (rep TEXT NOT NULL, hour INTEGER NOT NULL,
                                        n INTEGER NOT NULL, PRIMARY KEY (rep, hour));
CREATE TABLE IF NOT EXISTS profiles (lead_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scores (lead_id TEXT PRIMARY KEY, version TEXT NOT NULL,
                                   doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (topic TEXT NOT NULL, part INTEGER NOT NULL,
                                      next_offset INTEGER NOT NULL, PRIMARY KEY (topic, part));
"""


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def _tx(self, statements: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                self.db.execute(sql, params)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ alerts
    def handled(self, key: str) -> str | None:
        row = self.db.execute("SELECT outcome FROM handled WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def mark(self, key: str, outcome: str) -> None:
        self._tx([("INSERT OR IGNORE INTO handled VALUES (?, ?, ?)", (key, outcome, time.time()))])

    def mark_delivered(self, key: str, rep: str, hour: int) -> None:
        self._tx([
            ("INSERT OR IGNORE INTO handled VALUES (?, 'delivered', ?)", (key, time.time())),
            ("INSERT INTO page_counts VALUES (?, ?, 1) ON CONFLICT (rep, hour) "
             "DO UPDATE SET n = n + 1", (rep, hour)),
        ])

    def pages_in_hour(self, rep: str, hour: int) -> int:
        row = self.db.execute("SELECT n FROM page_counts WHERE rep = ? AND hour = ?",
                              (rep, hour)).fetchone()
        return 0 if row is None else int(row[0])

    def hold(self, key: str, route: str, rep: str, reason: str, release_at: datetime,
             item: Mapping[str, Any]) -> None:
        now = time.time()
        self._tx([
            ("INSERT OR IGNORE INTO held VALUES (?, ?, ?, ?, ?, ?, ?)",
             (key, route, rep, reason, release_at.timestamp(), orjson.dumps(item).decode(),
              now)),
            ("INSERT OR IGNORE INTO handled VALUES (?, 'held', ?)", (key, now)),
        ])

    def due(self, now: datetime) -> dict[tuple[str, str, str], list[tuple[str, dict]]]:
        """Held alerts whose release time has come, grouped (route, rep, reason), oldest
        first."""
        out: dict[tuple[str, str, str], list[tuple[str, dict]]] = defaultdict(list)
        for key, route, rep, reason, item in self.db.execute(
                "SELECT key, route, rep, reason, item FROM held WHERE release_at <= ? "
                "ORDER BY at, key", (now.timestamp(),)):
            out[(route, rep, reason)].append((key, orjson.loads(item)))
        return dict(out)

    def held_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM held").fetchone()[0])

    def release(self, keys: list[str], digest_key: str, outcome: str) -> None:
        now = time.time()
        self._tx([*(("DELETE FROM held WHERE key = ?", (k,)) for k in keys),
                  ("INSERT OR IGNORE INTO handled VALUES (?, ?, ?)",
                   (f"digest:{digest_key}", outcome, now))])

    def prune(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        self._tx([("DELETE FROM handled WHERE at < ?", (cutoff,)),
                  ("DELETE FROM page_counts WHERE hour < ?", (int(cutoff // 3600),))])
        return int(self.db.execute("SELECT changes()").fetchone()[0])

    # ------------------------------------------------------------------ views
    def positions(self, topic: str) -> dict[int, int]:
        return {int(p): int(o) for p, o in self.db.execute(
            "SELECT part, next_offset FROM positions WHERE topic = ?", (topic,))}

    def profile(self, lead_id: str) -> dict[str, Any]:
        """The lead's profile fields, newest value each ({} when none was seen)."""
        row = self.db.execute("SELECT doc FROM profiles WHERE lead_id = ?",
                              (lead_id,)).fetchone()
        return {} if row is None else {k: v[0] for k, v in orjson.loads(row[0]).items()}

    def score(self, lead_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT doc FROM scores WHERE lead_id = ?", (lead_id,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def apply_views(self, profiles: Mapping[str, Mapping[str, tuple[Any, str]]],
                    scores: Mapping[str, tuple[str, dict[str, Any]]],
                    positions: Mapping[tuple[str, int], int]) -> None:
        """Merge profile fields (each with its version: occurred_at + event id; the newer
        wins), keep each lead's newest score (by event_time + emitted_at), and move the
        positions, in one transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for lead, fields in profiles.items():
                row = self.db.execute("SELECT doc FROM profiles WHERE lead_id = ?",
                                      (lead,)).fetchone()
                doc = {} if row is None else orjson.loads(row[0])
                for name, (value, version) in fields.items():
                    if name not in doc or version >= doc[name][1]:
                        doc[name] = [value, version]
                self.db.execute("INSERT OR REPLACE INTO profiles VALUES (?, ?)",
                                (lead, orjson.dumps(doc).decode()))
            for lead, (version, score) in scores.items():
                self.db.execute(
                    "INSERT INTO scores VALUES (?, ?, ?) ON CONFLICT (lead_id) DO UPDATE SET "
                    "version = excluded.version, doc = excluded.doc "
                    "WHERE excluded.version >= scores.version",
                    (lead, version, orjson.dumps(score).decode()))
            for (topic, part), offset in positions.items():
                self.db.execute("INSERT OR REPLACE INTO positions VALUES (?, ?, ?)",
                                (topic, part, offset))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()
