"""The console script: readable help, one-line errors, a clear word when Java/Maven is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli import build_parser, main
from streams.local import kafka as localkafka


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True,
                          text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)


def test_help_lists_every_subcommand():
    text = build_parser().format_help()
    for sub in ("demo", "kafka", "worker"):
        assert sub in text


@pytest.mark.parametrize("args, fragment", [
    (["kafka", "start", "--port", "abc"], "not a port number: 'abc'"),
    (["kafka", "start", "--port", "70000"], "port out of range"),
    (["kafka", "restart"], "invalid choice: 'restart'"),
    (["no-such-command"], "invalid choice: 'no-such-command'"),
    ([], "required: COMMAND"),
])
def test_bad_arguments_give_one_line_and_exit_2(args, fragment):
    res = _run(args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert fragment in lines[0]


def test_missing_java_is_one_line_not_a_traceback(tmp_path):
    bin_dir = Path(sys.executable).parent  # python only: no java, no mvn on this PATH
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env.update(PATH=str(bin_dir), LEADSCORE_STATE_DIR=str(tmp_path),
               LEADSCORE_KAFKA_PORT=str(localkafka.free_port()))
    res = _run(["kafka", "start"], env)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        "leadscore kafka: Java 17+ is needed to run Kafka and was not found on PATH "
        "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
    ]


def test_missing_maven_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(localkafka.shutil, "which", lambda name: None)
    spec = localkafka.BrokerSpec(port=1, controller_port=2, state_dir=tmp_path,
                                 cache_dir=tmp_path / "empty-cache")
    with pytest.raises(localkafka.KafkaSetupError, match="Maven is needed"):
        localkafka.fetch(spec)


def test_status_of_a_broker_that_never_ran_exits_3(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEADSCORE_STATE_DIR", str(tmp_path))
    from streams.settings import get_settings

    get_settings.cache_clear()
    try:
        rc = main(["kafka", "status", "--port", str(localkafka.free_port())])
    finally:
        get_settings.cache_clear()
    assert rc == 3
    assert capsys.readouterr().out.startswith("stopped: no local Kafka")
