"""The model registry as records of a compacted topic, and back into a registry folder.

Why a topic: a champion named in a folder (``champion.json``) reaches only the workers that
read that folder, so a group converged only with a shared volume. On the model topic
(``LEADSCORE_TOPIC_MODELS``) every worker reads every record (a Faust GlobalTable,
``streams/worker/tables.py``) and :class:`Mirror` writes what it holds into the worker's own
registry; the registry's checks and the hot swap do the rest (``models/registry.py``).

Records (keys are text; the GlobalTable JSON-encodes them, so on the topic a key is a JSON
string; values are raw bytes):

- ``artifact/<version>/<i>``: chunk ``i`` of the packed artifact (:func:`pack`);
- ``artifact/<version>``: what the chunks make: ``{"version", "chunks", "bytes", "sha256",
  "files", "published_at"}``;
- ``champion``: the registry's pointer (``champion.json``: version, previous, challenger).

They are published in that order on the topic's one partition, so a reader that sees a pointer
already has the chunks of every artifact it names. Compaction keeps the newest record per key;
an artifact's records are immutable (its version is its content hash), so compaction never
takes a chunk away from an artifact the pointer may name.

WHY chunks of 512 KiB rather than a larger ``max.message.bytes``: Kafka's defaults cap a
record near 1 MiB on the broker (``message.max.bytes``), in librdkafka's producer
(``message.max.bytes``, 1,000,000) and in the consumers' fetch sizes, and managed clusters cap
the topic setting (8 MiB on some). The demo's artifact packs to about 130 kB (one record), but
a model of a few thousand trees is several MB of text: chunked, it needs no setting changed
anywhere, on any cluster.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from models import artifact
from models import registry as reg
from models.errors import UsageError

CHUNK = 512 * 1024
POINTER_KEY = "champion"
MARKER = ".published"  # in a mirrored artifact: the sha256 of the packed bytes it came from
FORMAT = 1


def artifact_key(version: str, chunk: int | None = None) -> str:
    return f"artifact/{version}" if chunk is None else f"artifact/{version}/{chunk}"


def pack(folder: Path) -> bytes:
    """The artifact's files (every regular file not starting with a dot), zlib-compressed:
    a JSON header line with names and sizes, then the files' bytes back to back."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    blobs = [p.read_bytes() for p in files]
    head = orjson.dumps({"format": FORMAT,
                         "files": [[p.name, len(b)] for p, b in zip(files, blobs, strict=True)]})
    return zlib.compress(head + b"\n" + b"".join(blobs), 6)


def unpack(data: bytes) -> dict[str, bytes]:
    """:func:`pack`'s files by name; ValueError when the bytes are not such a pack."""
    try:
        raw = zlib.decompress(data)
        head, _, body = raw.partition(b"\n")
        doc = orjson.loads(head)
    except (zlib.error, orjson.JSONDecodeError) as e:
        raise ValueError(f"not a packed artifact ({e})") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not a packed artifact (unknown format)")
    out, at = {}, 0
    for name, size in doc["files"]:
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith(".") \
                or not name or not isinstance(size, int) or size < 0:
            raise ValueError(f"not a packed artifact (file name {name!r})")
        out[name] = body[at:at + size]
        at += size
    if at != len(body):
        raise ValueError("not a packed artifact (sizes do not add up)")
    return out


def artifact_records(folder: Path) -> list[tuple[str, bytes]]:
    """The records that publish the artifact at ``folder``: its chunks, then their summary.
    The version is the one the artifact claims (the worker's checks compare it with the
    content hash after the mirror wrote it)."""
    version = reg.claimed_version(folder)
    if version is None:
        raise UsageError(f"{folder} is not a model artifact (no version.json)")
    data = pack(folder)
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    meta = {"version": version, "chunks": len(chunks), "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "files": sorted(unpack(data)),
            "published_at": datetime.now(UTC).isoformat(timespec="seconds")}
    return ([(artifact_key(version, i), c) for i, c in enumerate(chunks)]
            + [(artifact_key(version), orjson.dumps(meta))])


def pointer_record(ptr: reg.Pointer) -> tuple[str, bytes]:
    return POINTER_KEY, orjson.dumps({"version": ptr.version, "previous": ptr.previous,
                                      "promoted_at": ptr.promoted_at,
                                      "challenger": ptr.challenger})


def parse_pointer(raw: bytes) -> reg.Pointer:
    doc = orjson.loads(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), str):
        raise ValueError("not a champion pointer (no \"version\")")
    ch = doc.get("challenger")
    return reg.Pointer(reg.normalise(doc["version"]), doc.get("previous"),
                       doc.get("promoted_at"),
                       reg.normalise(ch) if isinstance(ch, str) and ch else None)


def meta_of(get: Callable[[str], bytes | None], version: str) -> dict | None:
    raw = get(artifact_key(version))
    if raw is None:
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


@dataclass
class Synced:
    """What one :meth:`Mirror.sync` did: artifacts written, whether the pointer was, and the
    problems (one sentence each) with what the topic holds."""

    written: list[str]
    pointer: reg.Pointer | None
    problems: list[str]


class Mirror:
    """Writes what the model topic holds into a local registry folder.

    ``get(key)`` reads the topic's newest value for a key (the worker's GlobalTable, or a dict
    read from the topic by ``leadscore promote``). The pointer is written when it differs from
    the one this mirror wrote last (so a worker started after a promotion takes the topic's
    champion, and a ``leadscore promote --local`` on the folder stands until the topic's
    pointer changes again); an artifact is written when the registry lacks it or holds
    another copy than the one published (see :meth:`fetch`)."""

    def __init__(self, registry: Path) -> None:
        self.registry = registry
        self.applied_pointer: bytes | None = None
        self.applied: dict[str, bytes] = {}  # version -> the summary record it was written from

    def sync(self, get: Callable[[str], bytes | None]) -> Synced:
        done = Synced([], None, [])
        raw = get(POINTER_KEY)
        if raw is None:
            return done
        try:
            ptr = parse_pointer(raw)
        except (ValueError, orjson.JSONDecodeError) as e:
            if raw != self.applied_pointer:
                done.problems.append(f"the topic's champion pointer is unreadable ({e})")
                self.applied_pointer = raw
            return done
        for version in filter(None, (ptr.version, ptr.challenger)):
            try:
                if self.fetch(get, version):
                    done.written.append(version)
            except ValueError as e:
                done.problems.append(str(e))
        # The artifacts first: a pointer never names a version the folder lacks.
        if raw != self.applied_pointer and all(
                reg.is_artifact(self.registry / f"{reg.PREFIX}{v}")
                for v in filter(None, (ptr.version, ptr.challenger))):
            reg.write_pointer(self.registry, ptr)
            self.applied_pointer = raw
            done.pointer = ptr
        return done

    def fetch(self, get: Callable[[str], bytes | None], version: str) -> bool:
        """Write the published artifact ``version`` into the registry unless it holds that very
        copy (its marker names the same packed bytes, or, for an artifact that was not
        mirrored, its content hash is ``version``). True when written; ValueError (a
        sentence) when the topic does not hold it whole."""
        summary = get(artifact_key(version))
        if summary is None:
            raise ValueError(f"the model topic names {version} but does not hold it")
        if self.applied.get(version) == summary:
            return False
        meta = meta_of(get, version)
        if meta is None or not isinstance(meta.get("chunks"), int):
            raise ValueError(f"the model topic's record of {version} is unreadable")
        target = self.registry / f"{reg.PREFIX}{version}"
        if reg.is_artifact(target) and _same_copy(target, version, str(meta.get("sha256"))):
            self.applied[version] = summary
            return False
        parts = [get(artifact_key(version, i)) for i in range(meta["chunks"])]
        if any(p is None for p in parts):
            raise ValueError(f"the model topic holds {version} incompletely "
                             f"({sum(p is None for p in parts)} of {meta['chunks']} chunks "
                             "missing)")
        data = b"".join(p for p in parts if p is not None)
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise ValueError(f"the model topic's chunks of {version} do not make the "
                             "published bytes (sha256 differs)")
        files = unpack(data)
        self._write(target, files, str(meta["sha256"]))
        self.applied[version] = summary
        return True

    def _write(self, target: Path, files: dict[str, bytes], sha: str) -> None:
        self.registry.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.registry))
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        (tmp / MARKER).write_text(sha)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=".replaced-", dir=self.registry))
            os.replace(target, old / target.name)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another worker mirroring into the same (shared) folder was first: its copy is
            # this one if it carries the same marker.
            shutil.rmtree(tmp, ignore_errors=True)
            if not _same_copy(target, "", sha):
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _same_copy(folder: Path, version: str, sha: str) -> bool:
    try:
        return (folder / MARKER).read_text().strip() == sha
    except FileNotFoundError:
        return artifact.content_hash(folder) == version
    except OSError:
        return False
