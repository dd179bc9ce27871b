"""The shape of a command of ``starter.py`` and the one way they report: JSON on stdout, exit codes.

A command is a :class:`Command`: a name, a help line, a function ``(args, settings) -> int``
(plain or ``async``) and optionally a function that adds its arguments to its parser.
Refusals are typed (:mod:`intake.errors`) and turned into output and exit codes here:
0 success, 1 refused, invalid or unavailable, 2 usage error.  No command ends in a
traceback: anything unexpected is reported by its type only (its text may quote input),
unless ``HASA_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from infra.codec import KeyConfigError
from infra.settings import Settings
from intake.errors import Refused, Unavailable, UsageError

Runner = Callable[[argparse.Namespace, Settings], Any]


@dataclass(frozen=True)
class Command:
    """One subcommand: ``run(args, settings)`` returns the exit code (or an awaitable of it)."""

    name: str
    help: str
    run: Runner
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


def emit(obj: Any) -> None:
    """One JSON line on stdout."""
    text = obj.model_dump_json() if isinstance(obj, BaseModel) else json.dumps(obj, ensure_ascii=False, default=str)
    sys.stdout.write(text + "\n")


def build_parser(prog: str, description: str, commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in commands:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.arguments is not None:
            command.arguments(p)
    return parser


async def _run(command: Command, args: argparse.Namespace, settings: Settings) -> int:
    result = command.run(args, settings)
    if inspect.isawaitable(result):
        result = await result
    return int(result)


def run_command(  # noqa: PLR0911, PLR0913  # the CLI's one entry point: one return per exit path
    prog: str,
    description: str,
    commands: Sequence[Command],
    argv: Sequence[str] | None = None,
    *,
    setup: Callable[[], None] | None = None,
    errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Parse ``argv``, run the command, and turn what it raised into output and an exit code.

    ``errors`` are the exception types that mean "Temporal or the case could not be reached".
    """
    args = build_parser(prog, description, commands).parse_args(argv)
    if setup is not None:
        setup()
    command = next(c for c in commands if c.name == args.command)
    try:
        settings = Settings.from_env()
    except ValueError as err:  # ClientConfigError and the legal settings: the message names the setting
        sys.stderr.write(f"{prog}: {err}\n")
        return 2
    try:
        return asyncio.run(_run(command, args, settings))
    except UsageError as err:
        sys.stderr.write(f"{prog}: {err}\n")
        return 2
    except Refused as err:
        emit(err.as_dict())
        sys.stderr.write(f"{prog}: refused: {err.summary()}\n")
        return 1
    except (Unavailable, KeyConfigError) as err:
        emit({"error": str(err)})
        sys.stderr.write(f"{prog}: {err}\n")
        return 1
    except errors as err:
        sys.stderr.write(f"{prog}: cannot reach Temporal or the case: {err}\n")
        return 1
    except Exception as err:
        if os.environ.get("HASA_DEBUG") == "1":
            raise
        # Only the type: the text of an unexpected error can quote personal input.
        sys.stderr.write(f"{prog}: internal error ({type(err).__name__}); run with HASA_DEBUG=1 for the traceback\n")
        return 1
