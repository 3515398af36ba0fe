"""The model topic's records (models/publish.py) without a broker: an artifact packed into
chunks and mirrored back into another registry is the same artifact; what the topic holds
incompletely or wrongly is reported, never written as if whole."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from models import publish, registry
from models.artifact import content_hash, load
from tests.variants import copy_into, fewer_trees


@pytest.fixture
def artifacts(small_model: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "source"
    return root, copy_into(small_model, root), fewer_trees(small_model, root, trees=5)


def _topic(records: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """A compacted topic's newest value per key."""
    return dict(records)


def test_an_artifact_travels_in_chunks_and_arrives_whole(artifacts, tmp_path, monkeypatch):
    root, a, _ = artifacts
    monkeypatch.setattr(publish, "CHUNK", 40_000)  # several chunks from the small model
    records = publish.artifact_records(a)
    va = load(a).version
    assert len(records) > 3 and all(len(v) <= 40_000 for _, v in records[:-1])
    assert records[-1][0] == f"artifact/{va}"  # the summary after its chunks
    held = _topic([*records, publish.pointer_record(registry.Pointer(va, None, None))])
    dest = tmp_path / "worker"
    done = publish.Mirror(dest).sync(held.get)
    assert done.written == [va] and done.pointer is not None and not done.problems
    got = dest / f"leadscore-{va}"
    assert sorted(p.name for p in got.iterdir() if not p.name.startswith(".")) \
        == sorted(p.name for p in a.iterdir())
    assert all((got / p.name).read_bytes() == p.read_bytes() for p in a.iterdir())
    assert registry.champion_dir(dest) == got and registry.validate(got).version == va


def test_the_pointer_is_written_once_per_change_and_a_challenger_comes_along(artifacts,
                                                                            tmp_path):
    root, a, b = artifacts
    va, vb = load(a).version, load(b).version
    held = _topic([*publish.artifact_records(a), *publish.artifact_records(b),
                   publish.pointer_record(registry.Pointer(va, None, None, vb))])
    dest = tmp_path / "worker"
    mirror = publish.Mirror(dest)
    assert sorted(mirror.sync(held.get).written) == sorted([va, vb])
    assert registry.challenger_dir(dest) == dest / f"leadscore-{vb}"
    # a local promotion stands until the topic's pointer changes
    registry.promote(dest, vb)
    again = mirror.sync(held.get)
    assert again.pointer is None and not again.written
    assert registry.champion_dir(dest) == dest / f"leadscore-{vb}"
    held.update([publish.pointer_record(registry.Pointer(va, vb, "now"))])
    assert mirror.sync(held.get).pointer == registry.Pointer(va, vb, "now")
    assert registry.champion_dir(dest) == dest / f"leadscore-{va}"


def test_an_incomplete_or_garbled_artifact_is_reported_not_written(artifacts, tmp_path,
                                                                   monkeypatch):
    root, a, _ = artifacts
    va = load(a).version
    monkeypatch.setattr(publish, "CHUNK", 40_000)
    records = publish.artifact_records(a)
    pointer = publish.pointer_record(registry.Pointer(va, None, None))
    dest = tmp_path / "worker"
    missing = _topic([*records[1:], pointer])
    done = publish.Mirror(dest).sync(missing.get)
    assert "incompletely" in done.problems[0] and done.pointer is None
    assert not registry.artifacts(dest) and not (dest / registry.POINTER).exists()
    garbled = _topic([*records, pointer])
    first = records[0][1]
    garbled[records[0][0]] = first[:-1] + bytes([first[-1] ^ 1])
    done = publish.Mirror(dest).sync(garbled.get)
    assert "sha256 differs" in done.problems[0] and not registry.artifacts(dest)
    unnamed = _topic([pointer])
    assert "does not hold it" in publish.Mirror(dest).sync(unnamed.get).problems[0]


def test_a_republished_copy_replaces_a_bad_one(artifacts, tmp_path):
    root, a, _ = artifacts
    va = load(a).version
    bad = tmp_path / "bad" / a.name
    bad.parent.mkdir()
    copy_into(a, bad.parent)
    (bad / "model.txt").write_text((bad / "model.txt").read_text().replace("tree", "tree ", 1))
    pointer = publish.pointer_record(registry.Pointer(va, None, None))
    dest = tmp_path / "worker"
    mirror = publish.Mirror(dest)
    mirror.sync(_topic([*publish.artifact_records(bad), pointer]).get)
    assert content_hash(dest / a.name) != va  # written as published: the checks refuse it
    with pytest.raises(registry.Refused):
        registry.validate(dest / a.name)
    assert mirror.sync(_topic([*publish.artifact_records(a), pointer]).get).written == [va]
    assert registry.validate(dest / a.name).version == va


def test_unpack_refuses_what_is_not_a_pack() -> None:
    for data in (b"", b"garbage", publish.zlib.compress(b'{"format": 9}\n')):
        with pytest.raises(ValueError, match="not a packed artifact"):
            publish.unpack(data)
    evil = publish.zlib.compress(orjson.dumps({"format": 1, "files": [["../x", 1]]}) + b"\nx")
    with pytest.raises(ValueError, match="file name"):
        publish.unpack(evil)
