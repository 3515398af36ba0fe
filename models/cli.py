"""``python -m models.<command>``: the same commands as ``leadscore <command>``, for use
without the console script. One wrapper, so every module's entry point behaves alike."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from models.errors import UsageError


def module_main(name: str, doc: str | None,
                add_arguments: Callable[[argparse.ArgumentParser], None],
                run_from_args: Callable[[argparse.Namespace], int],
                argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run; a UsageError becomes argparse's one-line error (exit 2)."""
    p = argparse.ArgumentParser(prog=f"leadscore {name}",
                                description=(doc or name).split("\n")[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return run_from_args(args)
    except UsageError as e:
        p.error(str(e))
