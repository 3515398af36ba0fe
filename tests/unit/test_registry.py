"""The model registry: which artifact is the champion, promotion and rollback, and the checks
that refuse a bad artifact (models/registry.py, leadscore promote)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from models import registry
from models.artifact import load
from streams.cli import main
from tests.variants import copy_into, fewer_trees


@pytest.fixture
def reg(tmp_path: Path, small_model: Path) -> tuple[Path, Path, Path]:
    """A registry with the small model (A) and a variant (B, newer)."""
    root = tmp_path / "registry"
    a = copy_into(small_model, root)
    os.utime(a / "model.txt", (1_000_000_000, 1_000_000_000))
    b = fewer_trees(small_model, root, trees=5)
    return root, a, b


def test_champion_is_the_newest_without_a_pointer_then_the_pointer(reg) -> None:
    root, a, b = reg
    assert registry.champion_dir(root) == b
    ptr = registry.promote(root, a.name)
    assert registry.champion_dir(root) == a
    assert ptr.version == load(a).version and ptr.previous == load(b).version
    # a half-written artifact (.partial-*) is never a candidate
    shutil.copytree(b, root / ".partial-x")
    assert root / ".partial-x" not in registry.artifacts(root)


def test_validate_accepts_a_good_artifact_and_reproduces_its_examples(reg) -> None:
    _, a, b = reg
    assert registry.validate(b, load(a)).version == load(b).version


def test_a_tampered_model_is_refused_by_its_hash(reg) -> None:
    _, a, b = reg
    text = (b / "model.txt").read_text()
    (b / "model.txt").write_text(text.replace("shrinkage=", "shrinkage=0", 1))
    with pytest.raises(registry.Refused) as e:
        registry.validate(b, load(a))
    assert e.value.reason == "hash"


def test_wrong_examples_fail_the_smoke_scoring(reg) -> None:
    _, a, b = reg
    ex = orjson.loads((b / registry.EXAMPLES).read_bytes())
    ex["probability"] = [min(1.0, p + 0.01) for p in ex["probability"]]
    (b / registry.EXAMPLES).write_bytes(orjson.dumps(ex))
    with pytest.raises(registry.Refused) as e:
        registry.validate(b, load(a))
    assert e.value.reason == "smoke"
    (b / registry.EXAMPLES).unlink()
    with pytest.raises(registry.Refused) as e:
        registry.validate(b, load(a))
    assert e.value.reason == "no_examples"


def test_another_state_configuration_is_refused(reg) -> None:
    _, a, b = reg
    serving = load(a).config.state_config
    # a serving model whose records were folded with other half-lives than the candidate's
    other = dataclasses.replace(serving, half_lives_days=(3.0, 30.0))
    current = SimpleNamespace(config=SimpleNamespace(state_config=other))
    with pytest.raises(registry.Refused) as e:
        registry.validate(b, current)  # type: ignore[arg-type]
    assert e.value.reason == "state_config"


def test_promote_and_rollback_from_the_command_line(reg, capsys) -> None:
    root, a, b = reg
    va, vb = load(a).version, load(b).version
    assert main(["promote", "--local", "--registry", str(root), va]) == 0
    assert f"champion: {va} (was {vb})" in capsys.readouterr().out
    assert main(["promote", "--local", "--registry", str(root), f"leadscore-{vb}"]) == 0
    assert registry.read_pointer(root) == registry.Pointer(vb, va, registry.read_pointer(
        root).promoted_at)
    assert main(["promote", "--local", "--registry", str(root), "--rollback"]) == 0
    assert registry.champion_dir(root) == a
    assert main(["promote", "--local", "--registry", str(root), "--list"]) == 0
    listed = capsys.readouterr().out
    assert f"* {va}" in listed and f"  {vb}" in listed


def test_promote_mistakes_are_one_line_exit_2(reg, capsys) -> None:
    root, a, b = reg
    assert main(["promote", "--local", "--registry", str(root), "0123456789ab"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no artifact of version 0123456789ab" in err and "\n" not in err
    assert main(["promote", "--local", "--registry", str(root), "--rollback"]) == 2
    assert "nothing to roll back to" in capsys.readouterr().err
    (b / registry.EXAMPLES).unlink()
    assert main(["promote", "--local", "--registry", str(root), b.name]) == 2
    assert "refused (no_examples)" in capsys.readouterr().err
    assert not (root / registry.POINTER).exists()


def test_shadow_names_a_challenger_and_promoting_it_ends_the_shadow(reg, capsys) -> None:
    root, a, b = reg
    va, vb = load(a).version, load(b).version
    assert main(["promote", "--local", "--registry", str(root), va]) == 0
    assert main(["promote", "--local", "--registry", str(root), "--shadow", vb]) == 0
    assert registry.challenger_dir(root) == b and registry.champion_dir(root) == a
    assert main(["promote", "--local", "--registry", str(root), "--shadow", va]) == 2  # champion
    assert main(["promote", "--local", "--registry", str(root), "--list"]) == 0
    assert f"~ {vb}" in capsys.readouterr().out
    assert main(["promote", "--local", "--registry", str(root), vb]) == 0
    assert registry.challenger_dir(root) is None and registry.champion_dir(root) == b
    assert main(["promote", "--local", "--registry", str(root), "--shadow", va]) == 0
    assert main(["promote", "--local", "--registry", str(root), "--shadow", "none"]) == 0
    assert registry.challenger_dir(root) is None
