"""What the demo runs downstream of the worker: ``leadscore pager`` delivering to a webhook
receiver on loopback, and ``leadscore crm-sync`` writing the CRM table into SQLite.

Why in the demo: the scores are only worth something once a rep's channel gets a readable page
and the CRM shows the score with its reasons. Both run as the separate processes a user would
start (the same commands, shown in the summary); the receiver runs inside the demo so that it
can count the pages and show one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from streams.kafkaconfig import without_security
from streams.local.kafka import free_port
from streams.local.procs import stop
from streams.local.receiver import Received, Receiver
from streams.settings import Settings

# The demo's routing file: Hot alerts to the reps' channel in Slack's form, the rest to the
# team's in plain JSON. Retries are short: the receiver is on this machine.
ROUTING = """# Written by leadscore demo: pages go to the receiver the demo runs on 127.0.0.1.
[retry]
attempts = 3
first_delay_seconds = 1
max_delay_seconds = 5
timeout_seconds = 5

[webhooks.reps]
url = "{url}/reps"
format = "slack"

[webhooks.team]
url = "{url}/team"
format = "json"

[[routes]]
name = "hot"
webhook = "reps"
match = {{ tier = ["hot"] }}
hourly_cap = 30

[[routes]]
name = "team"
webhook = "team"
hourly_cap = 120
"""


class Downstream:
    """The receiver, the pager and crm-sync of one demo run; always stopped by :meth:`stop`."""

    def __init__(self, s: Settings, state: Path, local: bool) -> None:
        self.s, self.state, self.local = s, state, local
        self.receiver = Receiver()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.routing = state / "demo-pager.toml"
        self.database = state / "crm.sqlite3"
        self.table = s.crm_table

    def start(self) -> list[str]:
        """Start the three; returns the commands to show (what a user would run)."""
        self.receiver.start()
        self.routing.write_text(ROUTING.format(url=self.receiver.url("").rstrip("/")))
        env = {"LEADSCORE_KAFKA_BOOTSTRAP": self.s.kafka_bootstrap,
               "LEADSCORE_STATE_DIR": str(self.state),
               # Free ports: a pager or crm-sync of the user's own may hold the defaults.
               "LEADSCORE_PAGER_METRICS_PORT": str(free_port()),
               "LEADSCORE_CRM_METRICS_PORT": str(free_port())}
        shown = []
        for name, args in (("pager", ["pager", "--config", str(self.routing)]),
                           ("crm-sync", ["crm-sync"])):
            log = self.state / f"demo-{name}.log"
            self.procs[name] = _spawn(args, env, log, self.local)
            shown.append(f"leadscore {' '.join(args)}   (log {log})")
        shown.append(f"python -m streams.local.receiver --port {self.receiver.port}   (the "
                     "webhook receiver: the demo runs its own)")
        return shown

    def failed(self) -> str | None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return (f"leadscore {name} exited (status {proc.returncode}); see "
                        f"{self.state / f'demo-{name}.log'}")
        return None

    @property
    def pages(self) -> list[Received]:
        return self.receiver.pages

    def crm_leads(self) -> int | None:
        """Leads in the CRM table now (None before crm-sync has created it)."""
        if not self.database.exists():
            return None
        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro",
                                                    uri=True, timeout=5)) as conn:
                return int(conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])
        except sqlite3.Error:
            return None

    def stop(self) -> None:
        for proc in self.procs.values():
            stop(proc, grace=15)
        self.receiver.stop()


def _spawn(args: list[str], env: Mapping[str, str], log: Path,
           local: bool) -> subprocess.Popen[bytes]:
    inherited = without_security(os.environ) if local else dict(os.environ)
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "streams.cli", *args],
                                env={**inherited, **env}, stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
