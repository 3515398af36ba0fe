"""A real Prometheus server and its ``promtool``, for the rule checks and the scrape tests.

Where the binaries come from: Debian's ``prometheus`` package, fetched with
``apt-get download`` (no root needed when apt's package lists are present) and unpacked with
``dpkg-deb -x`` into the cache directory (``$LEADSCORE_CACHE_DIR/prometheus``, by default
``~/.cache/leadscore/prometheus``). Nothing is installed system-wide, so a fresh CI machine
gets the same binaries through this code. Debian 12 ships Prometheus 2.42.

Use from Python (the test suite does this)::

    from streams.local import prometheus as localprometheus

    bins = localprometheus.fetch()                # once; cached afterwards (~20 MB download)
    server = localprometheus.start(["127.0.0.1:6066"], None, tmp_path / "prom",
                                   rules_files=[...], scrape_interval=1.0)
    try:
        server.wait_for_targets()                 # every target scraped once and up
        server.query('leadscore_ready')           # -> [Sample(labels={...}, value=1.0)]
    finally:
        server.stop()

``start`` binds the server to 127.0.0.1 only, writes its config into ``data_dir`` and, by
default, ties the server's life to the calling process (``PR_SET_PDEATHSIG``), so a killed
test session leaves nothing running. From a shell: ``python -m streams.local.prometheus fetch``
prints where the binaries are; ``python -m streams.local.prometheus check`` runs promtool's
config, rules and rule unit-test checks on ``deploy/prometheus``.

Errors the user can fix (no apt-get, package not found, port taken, server exits) are raised
as :class:`PrometheusSetupError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.local.kafka import REPO_ROOT, die_with_parent, free_port, port_in_use

DEPLOY_DIR = REPO_ROOT / "deploy" / "prometheus"
PACKAGE = "prometheus"
DEFAULT_JOB = "leadscore"


class PrometheusSetupError(Exception):
    """A problem the user can fix; its message is one line and says how."""


@dataclass(frozen=True)
class Binaries:
    """The unpacked package: the two executables and the web assets the server needs."""

    root: Path  # what `dpkg-deb -x` unpacked (usr/, etc/)
    version: str  # as printed by `prometheus --version`, e.g. "2.42.0+ds"

    @property
    def prometheus(self) -> Path:
        return self.root / "usr" / "bin" / "prometheus"

    @property
    def promtool(self) -> Path:
        return self.root / "usr" / "bin" / "promtool"

    @property
    def web_assets(self) -> Path:
        return self.root / "usr" / "share" / "prometheus" / "web"

    @property
    def consoles(self) -> Path:
        return self.root / "etc" / "prometheus" / "consoles"

    @property
    def console_libraries(self) -> Path:
        return self.root / "etc" / "prometheus" / "console_libraries"


def default_cache_dir() -> Path:
    from streams.settings import get_settings

    return get_settings().cache_dir / "prometheus"


# --------------------------------------------------------------------------- fetching


def _version(binary: Path) -> str:
    proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                          check=False, timeout=30)
    m = re.search(r"version (\S+)", proc.stdout + proc.stderr)
    if proc.returncode != 0 or not m:
        raise PrometheusSetupError(f"{binary} --version failed (exit {proc.returncode})")
    return m.group(1)


def _tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if not path:
        raise PrometheusSetupError(f"{name} was not found on PATH: {hint}")
    return path


_NOT_FOUND = ("Unable to locate package", "has no installation candidate",
              "Can't select candidate", "Can't select versions")


def _apt_download(apt: str, into: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([apt, "download", "-q", PACKAGE], cwd=into, capture_output=True,
                          text=True, check=False, timeout=600)


def fetch(cache_dir: Path | None = None) -> Binaries:
    """Download and unpack Debian's ``prometheus`` package into ``cache_dir`` (once).

    Idempotent: a complete unpack is reused. The unpack is done in a temporary directory and
    renamed at the end, under a file lock, so an interrupted or concurrent fetch never leaves
    a half-filled directory that looks complete. When apt's package lists do not know the
    package (a fresh machine), ``apt-get update`` is run once, if it can be (root).
    """
    cache = (cache_dir or default_cache_dir()).expanduser()
    root = cache / "root"
    ready = _cached(root)
    if ready:
        return ready
    hint = "this fetch needs Debian/Ubuntu's apt-get and dpkg-deb"
    apt = _tool("apt-get", hint)
    dpkg_deb = _tool("dpkg-deb", hint)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent fetch waits, then finds it done
        ready = _cached(root)
        if ready:
            return ready
        tmp = cache / f"partial-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            proc = _apt_download(apt, tmp)
            if proc.returncode != 0 and any(s in proc.stderr for s in _NOT_FOUND):
                upd = subprocess.run([apt, "update", "-q"], capture_output=True, text=True,
                                     check=False, timeout=600)
                if upd.returncode != 0:
                    raise PrometheusSetupError(
                        f"apt does not know the package '{PACKAGE}' and `apt-get update` "
                        f"failed ({_last_line(upd.stderr)}); run `sudo apt-get update` once")
                proc = _apt_download(apt, tmp)
            debs = sorted(tmp.glob(f"{PACKAGE}_*.deb"))
            if proc.returncode != 0 or not debs:
                raise PrometheusSetupError(
                    f"`apt-get download {PACKAGE}` failed: {_last_line(proc.stderr)}")
            unpack = subprocess.run([dpkg_deb, "-x", str(debs[0]), str(tmp / "root")],
                                    capture_output=True, text=True, check=False, timeout=300)
            if unpack.returncode != 0:
                raise PrometheusSetupError(
                    f"`dpkg-deb -x {debs[0].name}` failed: {_last_line(unpack.stderr)}")
            got = Binaries(tmp / "root", "")
            for exe in (got.prometheus, got.promtool):
                if not exe.is_file():
                    raise PrometheusSetupError(f"{debs[0].name} has no {exe.name} binary")
            version = _version(got.prometheus)
            (tmp / "root" / "PACKAGE").write_text(debs[0].name + "\n")
            (tmp / "root" / "VERSION").write_text(version + "\n")  # written last: complete
            shutil.rmtree(root, ignore_errors=True)
            (tmp / "root").rename(root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return Binaries(root, version)


def _cached(root: Path) -> Binaries | None:
    bins = Binaries(root, "")
    try:
        version = (root / "VERSION").read_text().strip()
    except OSError:
        return None
    if version and bins.prometheus.is_file() and bins.promtool.is_file():
        return Binaries(root, version)
    return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E:")]
    return (errors or lines or ["no output"])[-1]


def promtool(*args: str, cache_dir: Path | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the fetched promtool; the caller checks ``returncode`` (output is captured)."""
    bins = fetch(cache_dir)
    return subprocess.run([str(bins.promtool), *args], cwd=cwd, capture_output=True,
                          text=True, check=False, timeout=300)


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class Sample:
    """One element of a query result: the series' labels (``__name__`` included when the
    result keeps it) and its value at the query time."""

    labels: dict[str, str]
    value: float


@dataclass
class Server:
    """A running Prometheus started by :func:`start`. Its HTTP API is at ``url``."""

    port: int
    data_dir: Path
    config_file: Path
    log_file: Path
    binaries: Binaries
    proc: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>``; return its ``data``, or raise on an API error."""
        qs = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/{path}" + (f"?{qs}" if qs else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:  # 400/422: a bad query; the body says why
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise PrometheusSetupError(
                f"Prometheus API {path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Instant query (``/api/v1/query``) at ``at`` (Unix time; default now). A scalar is
        one sample without labels; for a range vector (``x[5m]``) each series' newest value."""
        params = {"query": expr} | ({"time": repr(at)} if at is not None else {})
        data = self.api("query", **params)
        if data["resultType"] in ("scalar", "string"):
            return [Sample({}, float(data["result"][1]))]
        if data["resultType"] == "matrix":
            return [Sample(dict(r["metric"]), float(r["values"][-1][1]))
                    for r in data["result"]]
        return [Sample(dict(r["metric"]), float(r["value"][1])) for r in data["result"]]

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets as the API reports them (health, lastScrape, labels)."""
        return list(self.api("targets", state="active")["activeTargets"])

    def wait_for_targets(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Block until every target has been scraped successfully at least once."""
        deadline = time.monotonic() + timeout
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            self._check_alive()
            targets = self.targets()
            if targets and all(t["health"] == "up" for t in targets):
                return targets
            time.sleep(0.2)
        states = ", ".join(f"{t['scrapeUrl']}: {t['health']} {t.get('lastError', '')}".strip()
                           for t in targets) or "no targets"
        raise PrometheusSetupError(f"targets not all up within {timeout:.0f} s ({states})")

    def wait_for_scrape(self, timeout: float = 60.0) -> None:
        """Block until every target has been scraped again after this call (so values set
        before the call are in the TSDB)."""
        since = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            done = [t for t in self.targets()
                    if t["health"] == "up" and _rfc3339(t["lastScrape"]) > since]
            if done and len(done) == len(self.targets()):
                return
            time.sleep(0.2)
        raise PrometheusSetupError(f"no fresh scrape of every target within {timeout:.0f} s")

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise PrometheusSetupError(
                f"Prometheus exited with status {self.proc.returncode}: "
                f"{_log_tail(self.log_file)} (log {self.log_file})")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds. Safe to call twice."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _rfc3339(text: str) -> float:
    # Prometheus prints e.g. 2024-05-01T10:00:00.123456789Z; Python parses microseconds.
    from datetime import datetime

    m = re.match(r"(.*?T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        return 0.0
    frac = (m.group(2) or ".0")[:7]
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + frac + tz).timestamp()


def _log_tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    errs = [ln for ln in lines if "level=error" in ln or "err=" in ln]
    return (errs or lines or ["empty log"])[-1][:300]


def _duration(value: float | str) -> str:
    if isinstance(value, str):
        return value
    ms = round(value * 1000)
    if ms <= 0:
        raise PrometheusSetupError(f"scrape interval must be positive: {value}")
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def render_config(targets: Sequence[str] | Mapping[str, Sequence[str]], *,
                  rules_files: Sequence[Path] = (), scrape_interval: float | str = 1.0,
                  job: str = DEFAULT_JOB) -> str:
    """The config :func:`start` writes: one scrape job per entry of ``targets`` (a list of
    ``host:port`` is one job named ``job``), rules evaluated at the scrape interval."""
    if isinstance(targets, str):  # one target given bare, not a list of its characters
        targets = [targets]
    jobs = {job: list(targets)} if not isinstance(targets, Mapping) else dict(targets)
    interval = _duration(scrape_interval)
    cfg = {
        "global": {"scrape_interval": interval, "scrape_timeout": interval,
                   "evaluation_interval": interval},
        "rule_files": [str(Path(p).resolve()) for p in rules_files],
        "scrape_configs": [
            {"job_name": name, "metrics_path": "/metrics",
             "static_configs": [{"targets": list(tgts)}]}
            for name, tgts in jobs.items()
        ],
    }
    return json.dumps(cfg, indent=2) + "\n"  # JSON is YAML; no YAML library needed


def start(targets: Sequence[str] | Mapping[str, Sequence[str]], port: int | None,
          data_dir: Path, *, rules_files: Sequence[Path] = (),
          scrape_interval: float | str = 1.0, job: str = DEFAULT_JOB,
          tied_to_parent: bool = True, timeout: float = 60.0,
          cache_dir: Path | None = None, extra_args: Sequence[str] = ()) -> Server:
    """Start Prometheus on ``127.0.0.1:port`` (a free port when ``port`` is None) scraping
    ``targets`` and return once it answers ``/-/ready``.

    ``targets``: ``host:port`` strings scraped as job ``job`` (default ``leadscore``, the
    job the alert rules select), or a mapping job name -> targets. ``data_dir`` receives the
    rendered ``prometheus.yml``, the TSDB and ``prometheus.log``. ``rules_files`` are loaded
    as they are (e.g. ``deploy/prometheus/rules/leadscore.yml``); rules are evaluated every
    ``scrape_interval`` (seconds, or a Prometheus duration such as ``"500ms"``). With
    ``tied_to_parent`` (default) the server gets SIGKILL when the calling process dies.
    Stop it with :meth:`Server.stop` (or use the server as a context manager).
    """
    bins = fetch(cache_dir)
    port = port or free_port()
    if port_in_use(port):
        raise PrometheusSetupError(
            f"port {port} on 127.0.0.1 is already in use by another process; choose another")
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "prometheus.yml"
    config.write_text(render_config(targets, rules_files=rules_files,
                                    scrape_interval=scrape_interval, job=job))
    log_file = data_dir / "prometheus.log"
    cmd = [
        str(bins.prometheus),
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.local-assets={bins.web_assets}",
        f"--web.console.templates={bins.consoles}",
        f"--web.console.libraries={bins.console_libraries}",
        *extra_args,
    ]
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the caller's terminal does not reach it
            preexec_fn=die_with_parent if tied_to_parent else None,
        )
    server = Server(port, data_dir, config, log_file, bins, proc)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop(grace=5)
        raise
    return server


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server._check_alive()
        with contextlib.suppress(OSError), \
                urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as resp:
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise PrometheusSetupError(
        f"Prometheus on {server.url} was not ready within {timeout:.0f} s "
        f"(log {server.log_file})")


def stop(server: Server, grace: float = 10.0) -> None:
    """Stop a server returned by :func:`start` (same as ``server.stop()``)."""
    server.stop(grace)


# --------------------------------------------------------------------------- checks


def check_commands(deploy_dir: Path = DEPLOY_DIR) -> Iterator[list[str]]:
    """The promtool invocations that validate ``deploy/prometheus`` (run from that dir)."""
    yield ["check", "config", "prometheus.yml"]
    yield ["check", "rules", *sorted(str(p.relative_to(deploy_dir))
                                     for p in (deploy_dir / "rules").glob("*.yml"))]
    yield ["test", "rules", *sorted(str(p.relative_to(deploy_dir))
                                    for p in (deploy_dir / "tests").glob("*.yml"))]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in (["fetch"], ["check"]):
        print("usage: python -m streams.local.prometheus fetch|check", file=sys.stderr)
        return 2
    try:
        t0 = time.monotonic()
        bins = fetch()
        print(f"Prometheus {bins.version} in {bins.root} ({time.monotonic() - t0:.1f} s)")
        if args == ["check"]:
            worst = 0
            for cmd in check_commands():
                proc = promtool(*cmd, cwd=DEPLOY_DIR)
                print(f"$ promtool {' '.join(cmd)}  -> exit {proc.returncode}")
                print((proc.stdout + proc.stderr).rstrip())
                worst = max(worst, proc.returncode)
            return 1 if worst else 0
    except PrometheusSetupError as exc:
        print(f"localprometheus: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
