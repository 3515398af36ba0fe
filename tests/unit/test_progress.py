"""Progress lines: in place on a terminal, a line every few seconds in a file; a first Kafka
download reports how much has arrived instead of looking hung."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from models.progress import Progress
from streams.local import kafka as localkafka


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_file_gets_whole_lines_at_most_every_interval_and_the_last_one() -> None:
    out = io.StringIO()
    p = Progress(out, every=3600)
    for i in range(100):
        p(f"step {i}")
    p.done()
    assert out.getvalue() == "step 0\nstep 99\n"
    assert "\r" not in out.getvalue()


def test_a_terminal_gets_one_line_rewritten_in_place() -> None:
    out = _Tty()
    p = Progress(out)
    p("downloading 10 MB")
    p("downloading 9 MB")
    p.done("done")
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\rdone" + " " * 12 + "\n")
    assert text.count("\r") == 3


def test_fetch_reports_megabytes_while_maven_downloads(tmp_path: Path, monkeypatch) -> None:
    # A stand-in for Maven's download only (this test is about the progress lines, not Kafka):
    # it writes 3 MB into the local repository over ~2.5 s, then the jar Kafka needs.
    mvn = tmp_path / "mvn"
    mvn.write_text("""#!/usr/bin/env python3
import sys, time, pathlib
repo = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-Dmaven.repo.local="))
out = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-DoutputDirectory="))
ver = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-Dkafka.version="))
pathlib.Path(repo).mkdir(parents=True, exist_ok=True)
for i in range(3):
    (pathlib.Path(repo) / f"part{i}.jar").write_bytes(b"x" * 1_000_000)
    time.sleep(0.9)
pathlib.Path(out).mkdir(parents=True, exist_ok=True)
(pathlib.Path(out) / f"kafka_2.13-{ver}.jar").write_bytes(b"jar")
""")
    mvn.chmod(mvn.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(localkafka, "find_maven", lambda: str(mvn))
    spec = localkafka.BrokerSpec(port=1, controller_port=2, state_dir=tmp_path / "state",
                                 cache_dir=tmp_path / "cache")
    lines: list[str] = []
    libs = localkafka.fetch(spec, progress=lines.append)
    assert (libs / f"kafka_2.13-{spec.version}.jar").exists()
    assert len(lines) >= 3
    assert "MB so far" in lines[0] and "Maven Central" in lines[0]
    assert "2 MB so far" in " ".join(lines) or "3 MB so far" in " ".join(lines)
    assert "cached for later runs" in lines[-1]


def test_simulate_journey_and_training_reads_write_whole_lines_into_a_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from models import journey, simulate
    from models.snapshots import read_events

    simulate.run(200, 20, seed=1, out=str(tmp_path / "a.jsonl"))
    journey.run(200, 20, 1, str(tmp_path / "b.jsonl"), None)
    read_events(str(tmp_path / "a.jsonl"), progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert any(ln.startswith("simulate [") and "100%" in ln for ln in lines)
    assert any(ln.startswith("journey 200/200") for ln in lines)
    assert any(ln.startswith("read ") and "valid" in ln for ln in lines)
    assert len(lines) <= 8  # first and last line of each step, not a hundred updates
