"""The deployment files, checked without Docker or a cluster.

``go run ./deploy/validate`` loads docker-compose.yml with compose-go (the loader behind
``docker compose config``) and strictly decodes every manifest in deploy/k8s into the
Kubernetes (and prometheus-operator) Go types; see deploy/validate/main.go. These tests run
it on the repository, prove it rejects broken copies, and compare what it read with the
worker's settings. The first run downloads and compiles the Go modules (minutes); later runs
use Go's caches.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# Compiling the validator from cold caches takes minutes on a small machine.
pytestmark = pytest.mark.timeout(1200)

DEPLOY_FILES = [
    ROOT / "Dockerfile",
    ROOT / "docker-compose.yml",
    ROOT / "deploy" / "compose" / "live-traffic.sh",
    *sorted((ROOT / "deploy" / "k8s").glob("*.yaml")),
    *sorted((ROOT / "deploy" / "k8s").glob("*Dockerfile")),
]


def _go() -> str:
    go = shutil.which("go")
    assert go, "the Go toolchain (go) is needed to validate the deployment files"
    return go


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One `go run ./deploy/validate` on the repository: its result and JSON summary."""
    summary = tmp_path_factory.mktemp("validate") / "summary.json"
    proc = subprocess.run(
        [_go(), "run", "./deploy/validate", "-summary", str(summary)],
        cwd=ROOT, capture_output=True, text=True, timeout=1100,
    )
    return {"proc": proc, "summary": json.loads(summary.read_text()) if summary.exists()
            else None}


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory, validated: dict) -> Path:
    """The same program as a binary, for the negative cases (no re-link per run)."""
    exe = tmp_path_factory.mktemp("validate-bin") / "validate"
    subprocess.run([_go(), "build", "-o", str(exe), "./deploy/validate"], cwd=ROOT,
                   check=True, timeout=1100)
    return exe


def test_validator_accepts_the_compose_file_and_the_manifests(validated: dict) -> None:
    proc = validated["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validate: OK" in proc.stdout
    # Where a real `docker compose` exists, it must agree (not on the development machines,
    # which have a Docker client without the compose plugin: then this part does nothing).
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        config = subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT,
                                capture_output=True, text=True)
        assert config.returncode == 0, config.stderr


def _broken_k8s_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    copy = tmp_path / "k8s"
    shutil.copytree(ROOT / "deploy" / "k8s", copy)
    text = (copy / file).read_text()
    assert old in text, (file, old)
    (copy / file).write_text(text.replace(old, new, 1))
    return copy


def _broken_compose_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "docker-compose.yml").read_text()
    assert old in text, old
    copy = tmp_path / "docker-compose.yml"
    copy.write_text(text.replace(old, new, 1))
    return copy


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("statefulset.yaml", "readinessProbe:", "readynessProbe:",
         'unknown field "spec.template.spec.containers[0].readynessProbe"'),
        ("servicemonitor.yaml", "interval: 15s", "intervall: 15s",
         'unknown field "spec.endpoints[0].intervall"'),
        ("statefulset.yaml", "      port: web\n            periodSeconds: 5",
         "      port: 8080\n            periodSeconds: 5",
         "readiness probe port 8080 is not a port of the container"),
    ],
    ids=["misspelled-statefulset-field", "misspelled-servicemonitor-field", "probe-port"],
)
def test_validator_rejects_a_broken_manifest(validator: Path, tmp_path: Path, file: str,
                                             old: str, new: str, expected: str) -> None:
    k8s = _broken_k8s_copy(tmp_path, file, old, new)
    proc = subprocess.run([str(validator), "-k8s", str(k8s)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expected in proc.stderr


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  stop_grace_period: 60s", "  stop_grace_perod: 60s",
         "stop_grace_perod"),
        ('"127.0.0.1:6067:6066"', '"6067:6066"',
         'service worker-2 publishes port 6067 on "", not 127.0.0.1'),
        ("./deploy/compose/live-traffic.sh:", "./deploy/compose/live-trafic.sh:",
         "deploy/compose/live-trafic.sh does not exist in the repository"),
        ("${LIVE_TRAFFIC_RATE:-100}", "${LIVE_TRAFFIC_RATE}",
         'The "LIVE_TRAFFIC_RATE" variable is not set'),
    ],
    ids=["unknown-key", "port-on-all-interfaces", "missing-bind-mount", "unset-variable"],
)
def test_validator_rejects_a_broken_compose_file(validator: Path, tmp_path: Path, old: str,
                                                 new: str, expected: str) -> None:
    compose = _broken_compose_copy(tmp_path, old, new)
    proc = subprocess.run([str(validator), "-compose", str(compose)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expected in proc.stderr


def test_probes_and_ports_match_the_worker_settings(validated: dict) -> None:
    summary = validated["summary"]
    assert summary is not None, validated["proc"].stderr
    port = Settings.model_fields["web_port"].default
    [worker] = summary["k8s"]["workers"]
    assert worker["container_ports"] == {"web": port}
    assert worker["probes"] == {
        "readiness": {"path": "/readyz", "port": port},
        "liveness": {"path": "/healthz", "port": port},
        "startup": {"path": "/healthz", "port": port},
    }
    env = worker["env"]
    assert env["LEADSCORE_WEB_PORT"] == str(port)
    assert env["LEADSCORE_WEB_HOST"] == "0.0.0.0"
    assert env["LEADSCORE_CANONICAL_URL"] == (
        f"http://$(POD_NAME).leadscore-workers.$(POD_NAMESPACE).svc:{port}")

    services = summary["compose"]["services"]
    workers = sorted(name for name in services if name.startswith("worker-"))
    assert workers == ["worker-1", "worker-2"]
    for name in workers:
        env = services[name]["environment"]
        assert env["LEADSCORE_WEB_PORT"] == str(port)
        assert env["LEADSCORE_CANONICAL_URL"] == f"http://{name}:{port}"
        assert [p.split("->")[1] for p in services[name]["ports"]] == [str(port)]
    assert {p for name in workers for p in services[name]["ports"]} == {
        f"127.0.0.1:6066->{port}", f"127.0.0.1:6067->{port}"}


def test_every_leadscore_variable_is_a_setting(validated: dict) -> None:
    known = {f"LEADSCORE_{name.upper()}" for name in Settings.model_fields}
    used: dict[str, set[str]] = {}
    for path in DEPLOY_FILES:
        for name in re.findall(r"\bLEADSCORE_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    summary = validated["summary"]
    assert summary is not None, validated["proc"].stderr
    for service, spec in summary["compose"]["services"].items():
        for name in spec["environment"]:
            if name.startswith("LEADSCORE_"):
                used.setdefault(name, set()).add(f"docker-compose.yml ({service})")
    for worker in summary["k8s"]["workers"]:
        for name in worker["env"]:
            if name.startswith("LEADSCORE_"):
                used.setdefault(name, set()).add(f"deploy/k8s ({worker['statefulset']})")
    unknown = {name: sorted(where) for name, where in used.items() if name not in known}
    assert not unknown, f"not settings in streams/settings.py: {unknown}"
    assert "LEADSCORE_KAFKA_BOOTSTRAP" in used  # the scan found something


def test_live_traffic_script_is_valid_sh() -> None:
    proc = subprocess.run(["sh", "-n", str(ROOT / "deploy" / "compose" / "live-traffic.sh")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
