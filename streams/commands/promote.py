"""``leadscore promote VERSION``: make an artifact of the registry the champion.

The registry is ``LEADSCORE_MODEL_DIR`` (or ``--registry``): a folder of artifacts, mirrored
from the model topic (LEADSCORE_TOPIC_MODELS) first. The artifact is checked as a worker would
check it before swapping it in (content hash, features, state configuration against the
current champion, smoke scoring of its stored examples), ``champion.json`` is replaced
atomically, and the artifact and the pointer are published on the model topic: every worker
mirrors them and swaps within ``LEADSCORE_MODEL_CHECK_SECONDS``. The champion it replaces is
kept as ``previous``: ``leadscore promote --rollback`` (or ``leadscore promote PREVIOUS``)
goes back to it. ``--publish DIR`` puts a newly trained artifact on the topic (the champion
only when the topic has none yet); ``--local`` works on the folder alone, without Kafka.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from models import registry
from models.errors import UsageError
from models.publish import POINTER_KEY, Mirror, artifact_key, artifact_records, meta_of, pack
from models.publish import pointer_record as pointer_record_
from streams.settings import Settings, get_settings

if TYPE_CHECKING:
    from models.scoring import Scorer


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "promote",
        help="make a model of the registry the champion on every worker (the model topic); "
        "--rollback, --shadow, --publish",
        description=(__doc__ or "").split("\n\n")[1].replace("\n", " "),
    )
    p.add_argument("version", nargs="?", metavar="VERSION",
                   help="the artifact's version (its content hash, or leadscore-<hash>)")
    p.add_argument("--rollback", action="store_true",
                   help="promote the previous champion (champion.json's \"previous\")")
    p.add_argument("--registry", type=Path, default=None, metavar="DIR",
                   help="the folder of artifacts (default: $LEADSCORE_MODEL_DIR)")
    p.add_argument("--shadow", metavar="VERSION|none", default=None,
                   help="score VERSION in shadow beside the champion (results on "
                   "LEADSCORE_TOPIC_SHADOW, never paged); none stops it")
    p.add_argument("--publish", type=Path, default=None, metavar="DIR",
                   help="check the artifact DIR (from leadscore train), copy it into the "
                   "registry and publish it on the model topic; it becomes the champion only "
                   "if the topic has none yet")
    p.add_argument("--list", action="store_true", dest="list_",
                   help="list the registry's artifacts and which is the champion")
    p.add_argument("--local", action="store_true",
                   help="the registry folder only: neither read nor publish on the model "
                   "topic (workers that share the folder still follow it)")
    p.set_defaults(func=run_from_args)


def run_from_args(args: argparse.Namespace) -> int:
    s = get_settings()
    root: Path = args.registry or s.model_dir
    chosen = [bool(args.version), args.rollback, args.shadow is not None,
              args.publish is not None, args.list_]
    if sum(chosen) != 1:
        raise UsageError("give one of VERSION, --rollback, --shadow VERSION|none, "
                         "--publish DIR, --list")
    if registry.is_artifact(root) or (root.exists() and not root.is_dir()) \
            or (args.local and not root.is_dir()):
        raise UsageError(f"{root} is not a registry (a folder of artifacts); "
                         "set LEADSCORE_MODEL_DIR or --registry")
    kafka = None if args.local else Topic(s, root)
    if args.list_:
        return _list(root, kafka)
    if args.publish is not None:
        return _publish(args.publish, root, kafka)
    if args.shadow is not None:
        wanted = None if args.shadow.lower() == "none" else args.shadow
        if wanted is not None and kafka is not None:
            kafka.fetch(wanted)
        champ = registry.champion_dir(root)
        try:
            ptr = registry.shadow(root, wanted, _load(champ))
        except registry.Refused as e:
            raise UsageError(f"refused ({e.reason}): {e}") from e
        _announce(kafka, ptr)
        print(f"challenger: {ptr.challenger or 'none'} (champion {ptr.version}); "
              + _who(kafka, root, s), file=sys.stdout)
        return 0
    version = args.version
    if args.rollback:
        pointer = registry.read_pointer(root)
        if pointer is None or not pointer.previous:
            raise UsageError(f"nothing to roll back to: {root / registry.POINTER} names no "
                             "previous champion")
        version = pointer.previous
    if kafka is not None:
        kafka.fetch(version)
    try:
        ptr = registry.promote(root, version, _load(registry.champion_dir(root)))
    except registry.Refused as e:
        raise UsageError(f"refused ({e.reason}): {e}") from e
    _announce(kafka, ptr)
    was = f" (was {ptr.previous})" if ptr.previous and ptr.previous != ptr.version else ""
    print(f"champion: {ptr.version}{was}; " + _who(kafka, root, s), file=sys.stdout)
    return 0


class Topic:
    """The model topic as ``leadscore promote`` sees it: read once (its records mirrored into
    the registry, so the folder starts from what the workers follow), then published to."""

    def __init__(self, s: Settings, root: Path) -> None:
        from streams.kafkaconfig import wait_for_brokers
        from streams.worker import modeltopic

        wait_for_brokers(s)
        modeltopic.ensure_topic(s)
        self.s, self.root = s, root
        self.held = modeltopic.read(s)
        self.mirror = Mirror(root)
        done = self.mirror.sync(self.held.get)
        for problem in done.problems:
            print(f"warning: model topic {s.topic_models}: {problem}", file=sys.stderr)

    def has_pointer(self) -> bool:
        return POINTER_KEY in self.held

    def fetch(self, version: str) -> None:
        """The topic's copy of ``version`` into the registry, when the folder lacks it."""
        v = registry.normalise(version)
        if registry.is_artifact(self.root / f"{registry.PREFIX}{v}") \
                or artifact_key(v) not in self.held:
            return  # registry.find explains an unknown version
        try:
            self.mirror.fetch(self.held.get, v)
        except ValueError as e:
            raise UsageError(f"model topic {self.s.topic_models}: {e}") from e

    def publish(self, versions: list[str], ptr: registry.Pointer | None) -> int:
        """Publish the artifacts the topic lacks (or holds another copy of), then ``ptr``."""
        from streams.worker import modeltopic

        records: list[tuple[str, bytes]] = []
        for v in versions:
            folder = registry.find(self.root, v)
            meta = meta_of(self.held.get, v)
            if meta is None or meta.get("sha256") != hashlib.sha256(pack(folder)).hexdigest():
                records += artifact_records(folder)
        if ptr is not None:
            records.append(pointer_record_(ptr))
        if records:
            modeltopic.publish(self.s, records)
        return len(records)

    def versions(self) -> list[str]:
        return sorted(k.split("/")[1] for k in self.held
                      if k.startswith("artifact/") and k.count("/") == 1)


def _announce(kafka: Topic | None, ptr: registry.Pointer) -> None:
    if kafka is not None:
        kafka.publish([v for v in (ptr.version, ptr.challenger) if v], ptr)


def _who(kafka: Topic | None, root: Path, s: Settings) -> str:
    wait = f"LEADSCORE_MODEL_CHECK_SECONDS ({s.model_check_seconds:g} s)"
    if kafka is None:
        return f"workers watching {root} follow within {wait}"
    return f"published on {s.topic_models}: every worker follows within {wait}"


def _load(path: Path) -> Scorer | None:
    """The artifact scoring now (its state configuration is what a new one must share)."""
    if not registry.is_artifact(path):
        return None
    from models.artifact import load

    return load(path)


def _list(root: Path, kafka: Topic | None) -> int:
    champion = registry.champion_dir(root) if root.is_dir() else None
    shadowed = registry.challenger_dir(root) if root.is_dir() else None
    local = set()
    for p in registry.artifacts(root):
        mark = "*" if p == champion else "~" if p == shadowed else " "
        v = registry.claimed_version(p)
        local.add(v)
        print(f"{mark} {v or '?'}  {p.name}")
    for v in kafka.versions() if kafka is not None else []:
        if v not in local:
            print(f"  {v}  (on the model topic only)")
    return 0


def _publish(folder: Path, root: Path, kafka: Topic | None) -> int:
    if kafka is None:
        raise UsageError("--publish puts an artifact on the model topic: drop --local")
    if not registry.is_artifact(folder):
        raise UsageError(f"{folder} is not a model artifact (no model.txt)")
    current = _load(registry.champion_dir(root))
    try:
        scorer = registry.validate(folder, current)
    except registry.Refused as e:
        raise UsageError(f"refused ({e.reason}): {e}") from e
    target = root / f"{registry.PREFIX}{scorer.version}"
    if not registry.is_artifact(target):
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
        shutil.copytree(folder, tmp, dirs_exist_ok=True)
        tmp.rename(target)
    first = not kafka.has_pointer()
    ptr = registry.promote(root, scorer.version, current) if first else None
    kafka.publish([scorer.version], ptr)
    print(f"published {scorer.version} on {kafka.s.topic_models}"
          + ("; the topic had no champion: it is the champion now" if first
             else f"; champion unchanged: leadscore promote {scorer.version} makes it one"),
          file=sys.stdout)
    return 0
