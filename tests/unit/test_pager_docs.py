"""The routing files a new user copies are valid: the README's example and deploy/pager/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.integrations.pager.config import load, parse

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_routing_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_ANA_URL", "https://hooks.slack.com/services/T0/B0/x")
    monkeypatch.setenv("CRM_HOOK_TOKEN", "t")
    readme = (ROOT / "README.md").read_text()
    [block] = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    config = parse(block)
    assert [r.name for r in config.routes] == ["ana", "emea", "everything-else"]
    assert config.webhooks["ana"].url.startswith("https://hooks.slack.com/")


def test_the_local_routing_file_sends_to_the_loopback_receiver() -> None:
    config = load(ROOT / "deploy" / "pager" / "local.toml")
    assert all(h.url.startswith("http://127.0.0.1:8099/") for h in config.webhooks.values())
    assert config.routes[-1].match.owner is None  # a catch-all last
