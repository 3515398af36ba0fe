"""``leadscore promote VERSION``: make an artifact of the registry the champion.

The registry is ``LEADSCORE_MODEL_DIR`` (or ``--registry``): a folder of artifacts. The artifact
is checked as a worker would check it before swapping it in (content hash, features, state
configuration against the current champion, smoke scoring of its stored examples), then
``champion.json`` is replaced atomically; every worker watching the folder swaps within
``LEADSCORE_MODEL_CHECK_SECONDS``. The champion it replaces is kept as ``previous``:
``leadscore promote --rollback`` (or ``leadscore promote PREVIOUS``) goes back to it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.errors import UsageError
from streams.settings import get_settings


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "promote",
        help="make a model of the registry the champion (workers swap it in); --rollback",
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
    p.add_argument("--list", action="store_true", dest="list_",
                   help="list the registry's artifacts and which is the champion")
    p.set_defaults(func=run_from_args)


def run_from_args(args: argparse.Namespace) -> int:
    from models import registry

    root: Path = args.registry or get_settings().model_dir
    if not root.is_dir() or registry.is_artifact(root):
        raise UsageError(f"{root} is not a registry (a folder of artifacts); "
                         "set LEADSCORE_MODEL_DIR or --registry")
    if args.list_:
        champion = registry.champion_dir(root)
        shadowed = registry.challenger_dir(root)
        for p in registry.artifacts(root):
            mark = "*" if p == champion else "~" if p == shadowed else " "
            print(f"{mark} {registry.claimed_version(p) or '?'}  {p.name}")
        return 0
    if args.shadow is not None:
        if args.version or args.rollback:
            raise UsageError("--shadow takes its own VERSION; give no other")
        wanted = None if args.shadow.lower() == "none" else args.shadow
        from models.artifact import load as load_

        champ = registry.champion_dir(root)
        try:
            ptr = registry.shadow(root, wanted,
                                  load_(champ) if registry.is_artifact(champ) else None)
        except registry.Refused as e:
            raise UsageError(f"refused ({e.reason}): {e}") from e
        print(f"challenger: {ptr.challenger or 'none'} (champion {ptr.version}); workers "
              f"watching {root} follow within LEADSCORE_MODEL_CHECK_SECONDS", file=sys.stdout)
        return 0
    if args.rollback == bool(args.version):
        raise UsageError("give a VERSION or --rollback (one of them)")
    version = args.version
    if args.rollback:
        pointer = registry.read_pointer(root)
        if pointer is None or not pointer.previous:
            raise UsageError(f"nothing to roll back to: {root / registry.POINTER} names no "
                             "previous champion")
        version = pointer.previous
    current_dir = registry.champion_dir(root)
    current = None
    if registry.is_artifact(current_dir):
        from models.artifact import load

        current = load(current_dir)
    try:
        ptr = registry.promote(root, version, current)
    except registry.Refused as e:
        raise UsageError(f"refused ({e.reason}): {e}") from e
    was = f" (was {ptr.previous})" if ptr.previous and ptr.previous != ptr.version else ""
    print(f"champion: {ptr.version}{was}; workers watching {root} swap within "
          f"LEADSCORE_MODEL_CHECK_SECONDS ({get_settings().model_check_seconds:g} s)",
          file=sys.stdout)
    return 0
