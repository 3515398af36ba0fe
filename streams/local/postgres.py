"""A real PostgreSQL server on loopback, for ``leadscore crm-sync``'s tests and for trying it.

Where the server comes from: Debian's package (``postgresql-15`` on Debian 12; the version the
``postgresql`` package depends on), fetched with ``apt-get download`` and unpacked with
``dpkg-deb -x`` into ``$LEADSCORE_CACHE_DIR/postgresql`` (by default
``~/.cache/leadscore/postgresql``), exactly like :mod:`streams.local.prometheus`: nothing is
installed system-wide, so a fresh CI machine gets the same server through this code.

Use from Python (the test suite does this)::

    from streams.local import postgres as localpostgres

    server = localpostgres.start(tmp_path / "pg")   # initdb + postgres on a free port
    try:
        server.url          # postgresql://leadscore@127.0.0.1:PORT/postgres (trust auth)
    finally:
        server.stop()

Why a user switch: PostgreSQL refuses to run as root. When this runs as root (CI does), the
server runs as ``nobody`` from a hard-linked (or copied) tree under a private temporary
directory, because ``nobody`` cannot read ``/root/.cache``; as any other user it runs as that
user from the cache. ``start(fast=True)`` (the default, for tests) turns ``fsync`` off: a
crash of the *server* may then lose commits, which no test here needs (they kill the client).

From a shell: ``python -m streams.local.postgres fetch`` prints where the server is;
``python -m streams.local.postgres run`` runs one in the foreground until Ctrl-C and prints its
URL. Errors the user can fix are :class:`PostgresSetupError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.local.kafka import die_with_parent, free_port, port_in_use

META_PACKAGE = "postgresql"
USER = "leadscore"  # the database superuser initdb creates (trust auth, loopback only)
RUN_AS_WHEN_ROOT = "nobody"


class PostgresSetupError(Exception):
    """A problem the user can fix; its message is one line and says how."""


@dataclass(frozen=True)
class Binaries:
    """The unpacked package: ``root`` is what ``dpkg-deb -x`` made; ``bin`` holds initdb and
    postgres (which find their share/ and lib/ directories relative to themselves)."""

    root: Path
    bin: Path
    version: str  # e.g. "15.20"

    @property
    def initdb(self) -> Path:
        return self.bin / "initdb"

    @property
    def postgres(self) -> Path:
        return self.bin / "postgres"


def default_cache_dir() -> Path:
    from streams.settings import get_settings

    return get_settings().cache_dir / "postgresql"


# --------------------------------------------------------------------------- fetching


def _run(cmd: Sequence[str], cwd: Path | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=timeout)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E:")]
    return (errors or lines or ["no output"])[-1][:300]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise PostgresSetupError(
            f"{name} was not found on PATH: fetching PostgreSQL needs Debian/Ubuntu's apt-get "
            "and dpkg-deb")
    return path


def server_package(apt_cache: str) -> str:
    """The versioned server package the ``postgresql`` meta-package depends on."""
    proc = _run([apt_cache, "depends", META_PACKAGE], timeout=60)
    m = re.search(r"Depends:\s*(postgresql-\d+)\b", proc.stdout)
    if proc.returncode != 0 or not m:
        raise PostgresSetupError(
            f"apt does not know the package '{META_PACKAGE}' "
            f"({_last_line(proc.stderr or proc.stdout)}); run `sudo apt-get update` once")
    return m.group(1)


def fetch(cache_dir: Path | None = None) -> Binaries:
    """Download and unpack Debian's PostgreSQL server package into ``cache_dir`` (once).

    Idempotent and safe to run concurrently: the unpack happens in a temporary directory,
    renamed into place under a file lock, so a half-done fetch never looks complete.
    """
    cache = (cache_dir or default_cache_dir()).expanduser()
    root = cache / "root"
    ready = _cached(root)
    if ready:
        return ready
    apt, apt_cache, dpkg_deb = _tool("apt-get"), _tool("apt-cache"), _tool("dpkg-deb")
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = _cached(root)
        if ready:
            return ready
        package = server_package(apt_cache)
        tmp = cache / f"partial-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            proc = _run([apt, "download", "-q", package], cwd=tmp)
            debs = sorted(tmp.glob(f"{package}_*.deb"))
            if proc.returncode != 0 or not debs:
                raise PostgresSetupError(
                    f"`apt-get download {package}` failed: {_last_line(proc.stderr)}")
            unpack = _run([dpkg_deb, "-x", str(debs[0]), str(tmp / "root")], timeout=300)
            if unpack.returncode != 0:
                raise PostgresSetupError(
                    f"`dpkg-deb -x {debs[0].name}` failed: {_last_line(unpack.stderr)}")
            bins = _locate(tmp / "root")
            if bins is None:
                raise PostgresSetupError(f"{debs[0].name} has no initdb/postgres binaries")
            _check_libraries(bins)
            version = _version(bins.postgres)
            (tmp / "root" / "PACKAGE").write_text(debs[0].name + "\n")
            (tmp / "root" / "VERSION").write_text(version + "\n")  # written last: complete
            shutil.rmtree(root, ignore_errors=True)
            (tmp / "root").rename(root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    found = _cached(root)
    assert found is not None
    return found


def _locate(root: Path) -> Binaries | None:
    for bin_dir in sorted(root.glob("usr/lib/postgresql/*/bin"), reverse=True):
        if (bin_dir / "initdb").is_file() and (bin_dir / "postgres").is_file():
            return Binaries(root, bin_dir, "")
    return None


def _cached(root: Path) -> Binaries | None:
    try:
        version = (root / "VERSION").read_text().strip()
    except OSError:
        return None
    bins = _locate(root)
    return Binaries(root, bins.bin, version) if bins and version else None


def _version(postgres: Path) -> str:
    proc = _run([str(postgres), "--version"], timeout=30)
    m = re.search(r"\(PostgreSQL\)\s+(\S+)", proc.stdout)
    if proc.returncode != 0 or not m:
        raise PostgresSetupError(f"{postgres} --version failed: {_last_line(proc.stderr)}")
    return m.group(1)


def _check_libraries(bins: Binaries) -> None:
    """The package's shared libraries come from the system (libicu, libssl, ...): name the
    missing ones instead of failing later with a loader error."""
    ldd = shutil.which("ldd")
    if not ldd:
        return
    missing: set[str] = set()
    for exe in (bins.initdb, bins.postgres):
        out = _run([ldd, str(exe)], timeout=30).stdout
        missing.update(m.group(1) for m in re.finditer(r"(\S+) => not found", out))
    if missing:
        raise PostgresSetupError(
            f"PostgreSQL needs libraries this machine lacks: {', '.join(sorted(missing))} "
            "(Debian: apt-get install postgresql brings them)")


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    """A running PostgreSQL started by :func:`start`; ``url`` is its connection string."""

    port: int
    workdir: Path
    log_file: Path
    version: str
    proc: subprocess.Popen[bytes] = field(repr=False)
    owns_workdir: bool = False

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM (smart shutdown), then SIGKILL after ``grace`` seconds. Safe twice."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _as_user(name: str | None) -> tuple[int, int] | None:
    if name is None:
        return None
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise PostgresSetupError(f"user {name!r} does not exist; PostgreSQL refuses to run "
                                 "as root and needs an unprivileged user") from None
    return pw.pw_uid, pw.pw_gid


def _mirror(src: Path, dst: Path) -> None:
    """Hard-link the tree (instant on one filesystem), copying where links are refused."""
    for dirpath, _dirs, files in os.walk(src):
        target = dst / Path(dirpath).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        os.chmod(target, 0o755)
        for name in files:
            s, d = Path(dirpath) / name, target / name
            if s.is_symlink():
                d.symlink_to(os.readlink(s))
                continue
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)


def start(workdir: Path | None = None, port: int | None = None, *, fast: bool = True,
          tied_to_parent: bool = True, timeout: float = 60.0,
          cache_dir: Path | None = None) -> Server:
    """initdb a fresh cluster and start ``postgres`` on ``127.0.0.1:port`` (a free port when
    None); return once it accepts connections. ``workdir`` (default: a new temporary
    directory, removed by :meth:`Server.stop`) receives the data directory and the log."""
    bins = fetch(cache_dir)
    port = port or free_port()
    if port_in_use(port):
        raise PostgresSetupError(f"port {port} on 127.0.0.1 is already in use; choose another")
    as_root = os.geteuid() == 0
    ids = _as_user(RUN_AS_WHEN_ROOT if as_root else None)
    owns = workdir is None or as_root
    if owns:  # as root: a directory `nobody` can reach (not under /root or pytest's 0700)
        base = Path(tempfile.mkdtemp(prefix="leadscore-postgres-"))
        os.chmod(base, 0o755)
    else:
        assert workdir is not None
        base = Path(workdir).resolve()
        base.mkdir(parents=True, exist_ok=True)
    bin_dir = bins.bin
    if as_root:
        _mirror(bins.root / "usr", base / "usr")
        bin_dir = base / "usr" / bin_dir.relative_to(bins.root / "usr")
    data, log_file = base / "data", base / "postgres.log"
    data.mkdir(mode=0o700)
    log_file.touch()
    if ids:
        for path in (data, log_file):
            os.chown(path, *ids)

    def become() -> None:
        if ids:
            os.setgroups([])
            os.setgid(ids[1])
            os.setuid(ids[0])
        if tied_to_parent:  # after setuid: a credential change clears the death signal
            die_with_parent()

    init = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
         "--locale=C", *(["--no-sync"] if fast else [])],
        capture_output=True, text=True, check=False, timeout=120, preexec_fn=become)
    if init.returncode != 0:
        raise PostgresSetupError(f"initdb failed: {_last_line(init.stderr)}")
    cmd = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
           "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={data}",
           *(["-c", "fsync=off", "-c", "synchronous_commit=off"] if fast else [])]
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=become)
    server = Server(port, base, log_file, bins.version, proc, owns_workdir=owns)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop(grace=5)
        raise
    return server


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise PostgresSetupError(
                f"postgres exited with status {server.proc.returncode}: "
                f"{_last_line(server.log_file.read_text(errors='replace'))}")
        if "ready to accept connections" in server.log_file.read_text(errors="replace"):
            with contextlib.suppress(OSError), \
                    socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return
        time.sleep(0.1)
    raise PostgresSetupError(f"PostgreSQL on port {server.port} was not ready within "
                             f"{timeout:.0f} s (log {server.log_file})")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in (["fetch"], ["run"]):
        print("usage: python -m streams.local.postgres fetch|run", file=sys.stderr)
        return 2
    try:
        t0 = time.monotonic()
        bins = fetch()
        print(f"PostgreSQL {bins.version} in {bins.bin} ({time.monotonic() - t0:.1f} s)")
        if args == ["run"]:
            server = start(fast=False)
            print(f"running: {server.url}  (log {server.log_file}; Ctrl-C stops it)",
                  flush=True)
            try:
                server.proc.wait()
            except KeyboardInterrupt:
                pass
            finally:
                server.stop()
    except PostgresSetupError as exc:
        print(f"localpostgres: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
