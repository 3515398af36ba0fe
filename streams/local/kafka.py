"""A real, single-node Apache Kafka (KRaft) for development, the demo and the tests.

Why not a container or a tarball: the machines this runs on reach Maven Central but not
the Apache download mirrors, and may have no Docker engine. So the broker's jars are
resolved from Maven Central by Maven (``deploy/kafka/pom.xml``) into a cache directory
outside git, and the broker is started straight from that classpath with ``java``.

Everything here is plain functions over a :class:`BrokerSpec` so that the CLI
(``leadscore kafka start|stop|status``) and the pytest session fixture share one code
path. Errors the user can fix (no Java, no Maven, port taken) are raised as
:class:`KafkaSetupError` with a one-line message; the CLI prints it without a traceback.

A broker can also listen with security (:class:`BrokerSecurity`): SASL_SSL with SCRAM-SHA-512
and PLAIN users, and SSL requiring a client certificate, beside its PLAINTEXT listener. The
clients' security settings are tested against it (tests/integration/test_security.py), on a
real broker rather than a stand-in.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_DEPLOY_DIR = REPO_ROOT / "deploy" / "kafka"
DEFAULT_KAFKA_VERSION = "4.1.1"
MIN_JAVA = 17


class KafkaSetupError(Exception):
    """A problem the user can fix; its message is one line and says how."""


_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")  # user names and passwords quoted into broker config


@dataclass(frozen=True)
class BrokerSecurity:
    """Two listeners besides PLAINTEXT: SASL_SSL on ``sasl_ssl_port`` (SCRAM-SHA-512 users,
    added to the storage when it is formatted, and PLAIN users, in the listener's JAAS
    configuration) and SSL on ``ssl_port``, which requires a client certificate signed by a CA
    in ``truststore``. The certificates are the caller's: the tests make their own.

    ``keystore`` is one PEM file: the broker's unencrypted PKCS#8 private key, then its
    certificate chain (the certificate must name 127.0.0.1, which clients check).
    """

    sasl_ssl_port: int
    ssl_port: int
    keystore: Path
    truststore: Path
    scram_users: tuple[tuple[str, str], ...] = ()  # (name, password), SCRAM-SHA-512
    plain_users: tuple[tuple[str, str], ...] = ()  # (name, password), PLAIN

    def __post_init__(self) -> None:
        for name, password in (*self.scram_users, *self.plain_users):
            if not (_SAFE.match(name) and _SAFE.match(password)):
                raise KafkaSetupError("broker user names and passwords may hold only letters, "
                                      "digits, '_', '.' and '-'")

    @property
    def sasl_ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_ssl_port}"

    @property
    def ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ssl_port}"

    def listeners(self) -> str:
        return f",SASL_SSL://127.0.0.1:{self.sasl_ssl_port},SSL://127.0.0.1:{self.ssl_port}"

    def properties(self) -> str:
        plain = "".join(f' user_{n}="{p}"' for n, p in self.plain_users)
        return "\n".join([
            "# Security listeners (streams/local/kafka.py BrokerSecurity).",
            "sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "listener.name.sasl_ssl.plain.sasl.jaas.config="
            f"org.apache.kafka.common.security.plain.PlainLoginModule required{plain};",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={self.keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.truststore}",
            "listener.name.ssl.ssl.client.auth=required",
            "",
        ])

    def format_arguments(self) -> list[str]:
        return [arg for n, p in self.scram_users
                for arg in ("--add-scram", f"SCRAM-SHA-512=[name={n},password={p}]")]


@dataclass(frozen=True)
class BrokerSpec:
    """Where one local broker lives and listens.

    ``state_dir`` holds the formatted storage, the rendered config, the pid file and the
    log, so several brokers (the CLI's on 9092, a test session's on a free port) never mix.
    """

    port: int
    controller_port: int
    state_dir: Path
    cache_dir: Path
    version: str = DEFAULT_KAFKA_VERSION
    partitions: int = 4
    heap_mb: int = 512
    security: BrokerSecurity | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "broker.log"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def libs_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.version}" / "libs"


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    version: str | None
    log_file: Path


# --------------------------------------------------------------------------- prerequisites


def _java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        raise KafkaSetupError(f"could not read the Java version from `{java} -version`")
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def find_java() -> str:
    """Return the java executable, or explain how to get one (Kafka 4 needs Java 17+)."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    java = str(candidate) if candidate and candidate.exists() else shutil.which("java")
    if not java:
        raise KafkaSetupError(
            f"Java {MIN_JAVA}+ is needed to run Kafka and was not found on PATH "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
        )
    major = _java_major(java)
    if major < MIN_JAVA:
        raise KafkaSetupError(f"Kafka 4 needs Java {MIN_JAVA}+, but {java} is Java {major}")
    return java


def find_maven() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaSetupError(
            "Maven is needed once to fetch Kafka from Maven Central and was not found on PATH "
            "(Debian/Ubuntu: apt-get install maven)"
        )
    return mvn


# --------------------------------------------------------------------------- fetching


# What a first fetch downloads into the Maven cache (Maven's own plugins, then Kafka's jars),
# measured on a clean cache: for the progress line only.
FIRST_FETCH_MB = 64


def _tree_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total / 1e6


def fetch(spec: BrokerSpec, *, quiet: bool = True,
          progress: Callable[[str], None] | None = None) -> Path:
    """Resolve the Kafka jars into the cache (once); return the directory of jars.

    Resolution is done into a temporary directory and renamed at the end, so an
    interrupted download never leaves a half-filled classpath that looks complete.
    ``progress`` gets a line about every second while Maven downloads (megabytes so far):
    the first run takes 10-60 s and should not look hung.
    """
    libs = spec.libs_dir
    if libs.is_dir() and any(libs.glob(f"kafka_2.13-{spec.version}.jar")):
        return libs
    pom = KAFKA_DEPLOY_DIR / "pom.xml"
    if not pom.exists():
        raise KafkaSetupError(f"{pom} is missing: run leadscore from a checkout of the project")
    mvn = find_maven()
    tmp = libs.with_name(f"libs.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    repo = spec.cache_dir / "m2"
    cmd = [
        mvn, "-B", *(["-q"] if quiet else []), "-f", str(pom),
        f"-Dmaven.repo.local={repo}",
        f"-Dkafka.version={spec.version}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}", "-DincludeScope=runtime",
    ]  # fmt: skip
    before = _tree_mb(repo) if progress else 0.0
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
        while proc.poll() is None:
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                if progress:
                    got = _tree_mb(repo) - before
                    progress(f"downloading Apache Kafka {spec.version} from Maven Central into "
                             f"{repo}: {got:,.0f} MB so far (about {FIRST_FETCH_MB} MB on a "
                             f"first run), {time.monotonic() - t0:.0f} s")
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        tail = output.strip().splitlines()[-5:]
        raise KafkaSetupError(
            f"Maven could not fetch Kafka {spec.version}: " + " | ".join(tail)
        )
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    if progress:
        progress(f"Apache Kafka {spec.version}: {_tree_mb(libs):,.0f} MB of jars in {libs} "
                 f"({time.monotonic() - t0:.0f} s; cached for later runs)")
    return libs


# --------------------------------------------------------------------------- process control


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# Listening ports come from below the kernel's ephemeral range (Linux: 32768-60999 by default):
# a port the OS hands out as an ephemeral one can be taken, while a broker is down, by some
# client's outgoing connection, and the broker could then not bind it again on restart.
LISTEN_PORTS = (20000, 32000)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A free loopback port outside the ephemeral range, so that a stopped service can always
    bind it again (a broker restarted on the same ports after an outage)."""
    import random

    low_eph, high_eph = _ephemeral_range()
    lo, hi = LISTEN_PORTS
    candidates = [p for p in range(lo, hi) if not low_eph <= p <= high_eph]
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.choice(candidates)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # crowded: any free port
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_pid(spec: BrokerSpec) -> int | None:
    try:
        pid = int(spec.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # A recycled pid is not our broker: check its command line names kafka.Kafka.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid
    return pid if b"kafka.Kafka" in cmdline else None


def running_version(spec: BrokerSpec) -> str | None:
    """The version the running broker printed at startup ("Kafka version: X")."""
    try:
        text = spec.log_file.read_text(errors="replace")
    except OSError:
        return None
    found = re.findall(r"Kafka version: (\S+)", text)
    return found[-1] if found else None


def status(spec: BrokerSpec) -> BrokerStatus:
    pid = _read_pid(spec)
    up = pid is not None and port_in_use(spec.port)
    return BrokerStatus(
        running=up,
        pid=pid,
        bootstrap=spec.bootstrap,
        version=running_version(spec) if pid else None,
        log_file=spec.log_file,
    )


def _render_config(spec: BrokerSpec) -> None:
    template = Template((KAFKA_DEPLOY_DIR / "server.properties.template").read_text())
    sec = spec.security
    spec.config_file.write_text(
        template.substitute(
            port=spec.port,
            controller_port=spec.controller_port,
            data_dir=spec.data_dir,
            partitions=spec.partitions,
            offsets_partitions=10,
            secure_listeners=sec.listeners() if sec else "",
            secure_protocols=",SASL_SSL:SASL_SSL,SSL:SSL" if sec else "",
            security=sec.properties() if sec else "",
        )
    )


def _classpath(libs: Path) -> str:
    return os.pathsep.join(str(p) for p in sorted(libs.glob("*.jar")))


def _format_storage(spec: BrokerSpec, java: str, cp: str) -> None:
    if (spec.data_dir / "meta.properties").exists():
        return
    spec.data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [java, "-cp", cp, _log4j_opt(), "kafka.tools.StorageTool", "format",
         # "--cluster-id=" form: a random id may start with "-", which argparse4j would
         # read as an option (seen: "argument --cluster-id/-t: expected one argument").
         f"--cluster-id={_cluster_id()}", "-c", str(spec.config_file),
         *(spec.security.format_arguments() if spec.security else [])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        last = " ".join((proc.stdout + proc.stderr).strip().splitlines()[-1:])
        for _, password in spec.security.scram_users if spec.security else ():
            last = last.replace(password, "***")
        raise KafkaSetupError(f"formatting Kafka storage failed: {last}")


def _log4j_opt() -> str:
    return f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.properties'}"


def _cluster_id() -> str:
    # KRaft cluster ids are 16 random bytes, URL-safe base64 without padding (22 chars).
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def wait_ready(bootstrap: str, timeout: float = 60.0, pid: int | None = None) -> None:
    """Block until the broker answers a metadata request (a TCP accept is not enough). For
    the local broker's PLAINTEXT listener; a cluster with security settings is checked with
    streams.kafkaconfig.wait_for_brokers."""
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout
    admin = None
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    while time.monotonic() < deadline:
        if pid is not None and not _alive(pid):
            raise KafkaSetupError("the broker process exited during startup")
        if port_in_use(int(port), host or "127.0.0.1"):
            # Created only once the port accepts, so librdkafka does not log refusals.
            admin = admin or AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
            try:
                md = admin.list_topics(timeout=2)
                if md.brokers:
                    return
            except Exception:  # noqa: BLE001 - not ready yet; retried until the deadline
                pass
        time.sleep(0.2)
    raise KafkaSetupError(f"Kafka at {bootstrap} did not become ready within {timeout:.0f} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child still "exists"; treat it as dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when its parent dies (Linux). For brokers and
    workers started by a test session, so a killed session leaves nothing running."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start(spec: BrokerSpec, *, timeout: float = 90.0, tied_to_parent: bool = False,
          progress: Callable[[str], None] | None = None) -> tuple[BrokerStatus, bool, float]:
    """Start the broker in the background; return (status, started_now, seconds_to_ready).

    A second start finds the running broker and returns it (started_now False). A port
    held by anything else is an error, never a second broker racing for it. With
    ``tied_to_parent`` the broker dies with the calling process (tests); otherwise it
    outlives it (``leadscore kafka start``). ``progress`` hears about a first download.
    """
    current = status(spec)
    if current.running:
        return current, False, 0.0
    extra = (spec.security.sasl_ssl_port, spec.security.ssl_port) if spec.security else ()
    for p in (spec.port, spec.controller_port, *extra):
        if port_in_use(p):
            raise KafkaSetupError(
                f"port {p} on 127.0.0.1 is already in use by another process; "
                "stop it or choose another port with --port"
            )
    java = find_java()
    libs = fetch(spec, progress=progress)
    spec.state_dir.mkdir(parents=True, exist_ok=True)
    _render_config(spec)
    cp = _classpath(libs)
    _format_storage(spec, java, cp)
    t0 = time.monotonic()
    with open(spec.log_file, "ab") as log:
        proc = subprocess.Popen(
            [java, f"-Xmx{spec.heap_mb}m", f"-Xms{min(spec.heap_mb, 256)}m", "-XX:+UseG1GC",
             "-Djava.awt.headless=true", _log4j_opt(), "-cp", cp, "kafka.Kafka",
             str(spec.config_file)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the CLI process and Ctrl-C in its terminal
            preexec_fn=die_with_parent if tied_to_parent else None,
        )  # fmt: skip
    spec.pid_file.write_text(str(proc.pid))
    try:
        wait_ready(spec.bootstrap, timeout=timeout, pid=proc.pid)
    except KafkaSetupError as exc:
        _terminate(proc.pid, grace=5)
        spec.pid_file.unlink(missing_ok=True)
        raise KafkaSetupError(f"{exc}; see {spec.log_file}") from None
    elapsed = time.monotonic() - t0
    # The version line is logged during startup; give the log a moment to flush.
    for _ in range(20):
        if running_version(spec):
            break
        time.sleep(0.05)
    return status(spec), True, elapsed


def _terminate(pid: int, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def stop(spec: BrokerSpec, *, grace: float = 30.0) -> bool:
    """Stop the broker cleanly (SIGTERM, then SIGKILL after ``grace``); False if none ran."""
    pid = _read_pid(spec)
    if pid is None:
        spec.pid_file.unlink(missing_ok=True)
        return False
    _terminate(pid, grace)
    spec.pid_file.unlink(missing_ok=True)
    return True
