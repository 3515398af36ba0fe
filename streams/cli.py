"""``leadscore``: the one console script. Each subcommand is registered by the module that
owns it (``add_arguments``); heavy imports (Faust, LightGBM) happen inside the command that
needs them so ``leadscore --help`` and ``leadscore kafka status`` stay instant.

User mistakes (a wrong argument, a bad LEADSCORE_* value, no Java, a port in use, no Kafka
broker answering, refused credentials) end with one line on stderr and exit status 2;
nothing the user can fix prints a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from models.errors import UsageError
from streams.commands.args import Parser
from streams.kafkaconfig import KafkaUnavailable
from streams.local.kafka import KafkaSetupError
from streams.settings import describe_invalid

Registrar = Callable[[argparse._SubParsersAction], None]


def _model_command(name: str, module: str, help_: str) -> Registrar:
    """Register a models/ command: the module owns its arguments and its run."""

    def register(sub: argparse._SubParsersAction) -> None:
        import importlib

        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip())
        mod.add_arguments(p)
        p.set_defaults(func=mod.run_from_args)

    return register


def _registrars() -> list[Registrar]:
    """Subcommands, in --help order. Modules that own a command provide add_arguments()."""
    from streams.commands import (
        crmsync,
        demo,
        drift,
        evaluate,
        export,
        kafka,
        pager,
        produce,
        promote,
        replay,
        topics,
        worker,
    )

    return [
        crmsync.add_arguments,
        demo.add_arguments,
        drift.add_arguments,
        evaluate.add_arguments,
        export.add_arguments,
        kafka.add_arguments,
        pager.add_arguments,
        produce.add_arguments,
        promote.add_arguments,
        replay.add_arguments,
        _model_command("retrain", "models.retrain",
                       "train a challenger and compare it with the champion on the newest "
                       "outcomes"),
        _model_command("simulate", "models.simulate",
                       "write realistic synthetic event history (JSON lines)"),
        topics.add_arguments,
        _model_command("train", "models.train",
                       "train, calibrate and save a model artifact from an event file"),
        worker.add_arguments,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="leadscore",
        description="Real-time lead scoring on Kafka: calibrated probabilities, reasons in "
        "points, alerts when a lead heats up.",
        epilog="Settings come from LEADSCORE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for register in _registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["worker"]:
        # Before the parser imports the model commands, and with them LightGBM, which would
        # bring scikit-learn into the worker's memory (streams.commands.worker says why).
        from streams.commands.worker import lightgbm_without_sklearn

        lightgbm_without_sklearn()
    parser = build_parser()
    args = parser.parse_args(words)
    try:
        return int(args.func(args) or 0)
    except (UsageError, KafkaSetupError, KafkaUnavailable) as exc:
        print(f"leadscore {args.command}: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a LEADSCORE_* variable the settings class refuses
        print(f"leadscore {args.command}: {describe_invalid(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
