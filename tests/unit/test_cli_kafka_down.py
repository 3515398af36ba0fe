"""Every command that talks to Kafka, facing no broker (a closed loopback port), a bad
LEADSCORE_* value or a worker exposed without a token: one line on stderr, exit 2, within the
time the line states. Real processes, so nothing librdkafka or Faust prints can hide."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.local.kafka import free_port
from streams.worker.views import is_loopback

TIMEOUT_S = "1"
PAGER_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "pager" / "local.toml"


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    clean.update({"LEADSCORE_STATE_DIR": str(tmp_path), "LEADSCORE_KAFKA_CONNECT_TIMEOUT":
                  TIMEOUT_S, **env})
    # The subprocess timeout is the bound: the command must be done well before it.
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True,
                          text=True, timeout=60, env=clean, stdin=subprocess.DEVNULL,
                          cwd=tmp_path)


def _one_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.fixture
def closed_port() -> int:
    return free_port()  # bound, then released: nothing listens there


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "page_view"}\n')
    return path


@pytest.mark.parametrize("command", [
    ["worker"], ["topics", "create"], ["produce", "--events", "EVENTS"],
    ["demo", "--bootstrap", "BOOTSTRAP"], ["pager", "--config", str(PAGER_CONFIG)],
    ["crm-sync"], ["promote", "0123456789ab"], ["promote", "--list"],
], ids=["worker", "topics-create", "produce", "demo-external", "pager", "crm-sync",
        "promote", "promote-list"])
def test_no_broker_is_one_line_naming_the_wait(command: list[str], closed_port: int,
                                                events: Path, tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{closed_port}"
    args = [events.name if a == "EVENTS" else bootstrap if a == "BOOTSTRAP" else a
            for a in command]
    line = _one_line(_run(args, tmp_path, LEADSCORE_KAFKA_BOOTSTRAP=bootstrap))
    named = "--bootstrap" if "demo" in command else "LEADSCORE_KAFKA_BOOTSTRAP"
    assert line.startswith(f"leadscore {command[0]}: no Kafka broker answers at {bootstrap} "
                           f"after {TIMEOUT_S} s ({named}, "
                           "LEADSCORE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT; last error: "), line
    assert "Connection refused" in line


# In-process from here: these stop before any Kafka client exists, so nothing outside Python
# could print; capsys sees all of stderr.


def _main(args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
          **env: str) -> tuple[int, str]:
    from streams.cli import main
    from streams.settings import get_settings

    for k in [k for k in os.environ if k.startswith("LEADSCORE_")]:
        monkeypatch.delenv(k)
    for k, v in {"LEADSCORE_STATE_DIR": str(tmp_path),
                 "LEADSCORE_KAFKA_CONNECT_TIMEOUT": TIMEOUT_S, **env}.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    try:
        return main(args), ""
    finally:
        get_settings.cache_clear()


def _err_line(capsys: pytest.CaptureFixture[str], rc: int) -> str:
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("command", "env", "expected"), [
    (["kafka", "status"], {"LEADSCORE_KAFKA_PORT": "abc"},
     "leadscore kafka: invalid settings: LEADSCORE_KAFKA_PORT='abc': Input should be a valid "
     "integer, unable to parse string as an integer"),
    (["worker"], {"LEADSCORE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
     "leadscore worker: invalid settings: LEADSCORE_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs "
     "LEADSCORE_KAFKA_SASL_MECHANISM and LEADSCORE_KAFKA_SASL_USERNAME and "
     "LEADSCORE_KAFKA_SASL_PASSWORD"),
    (["topics", "create"], {"LEADSCORE_KAFKA_SASL_PASSWORD": "s3cret-Q9"},
     "leadscore topics: invalid settings: LEADSCORE_KAFKA_SASL_PASSWORD set, but "
     "LEADSCORE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT: set it to SASL_SSL (or unset them)"),
    (["produce", "--events", "/etc/hostname"], {"LEADSCORE_WEB_PORT": "0"},
     "leadscore produce: invalid settings: LEADSCORE_WEB_PORT='0': Input should be greater "
     "than or equal to 1"),
], ids=["port-abc", "sasl-incomplete", "password-without-sasl", "web-port-0"])
def test_a_bad_setting_is_one_line(command: list[str], env: dict[str, str], expected: str,
                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    rc, _ = _main(command, monkeypatch, tmp_path, **env)
    assert _err_line(capsys, rc) == expected


def test_worker_refuses_to_serve_lookups_beyond_loopback_without_a_token(
        tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    rc, _ = _main(["worker"], monkeypatch, tmp_path, LEADSCORE_WEB_HOST="0.0.0.0",
                  LEADSCORE_KAFKA_BOOTSTRAP=f"127.0.0.1:{closed_port}")
    assert _err_line(capsys, rc) == (
        "leadscore worker: LEADSCORE_WEB_HOST=0.0.0.0 is not a loopback address and "
        "LEADSCORE_API_TOKEN is not set, so anyone reaching port 6066 could read every lead's "
        "score: set LEADSCORE_API_TOKEN, or LEADSCORE_API_ALLOW_UNAUTHENTICATED=true if the "
        "network already keeps others out")


@pytest.mark.parametrize("env", [{"LEADSCORE_API_TOKEN": "tok-1"},
                                 {"LEADSCORE_API_ALLOW_UNAUTHENTICATED": "true"}],
                         ids=["with-token", "explicitly-allowed"])
def test_a_token_or_the_explicit_setting_lets_it_start(
        env: dict[str, str], tmp_path: Path, closed_port: int,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Past the exposure check, the next thing it needs is a broker: the closed port says so.
    rc, _ = _main(["worker"], monkeypatch, tmp_path, LEADSCORE_WEB_HOST="0.0.0.0",
                  LEADSCORE_KAFKA_BOOTSTRAP=f"127.0.0.1:{closed_port}", **env)
    assert "no Kafka broker answers" in _err_line(capsys, rc)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("", False), ("10.0.0.7", False),
    ("worker-1", False), ("localhost.example.com", False),
])
def test_only_loopback_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
