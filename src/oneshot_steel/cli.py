"""``python -m oneshot_steel COMMAND``: the command line of the package.

Each subcommand is a pair of functions: ``_add_<name>(subparsers)`` declares its arguments and
sets ``handler``, and ``_cmd_<name>(args) -> int`` runs it. The data commands live in
:mod:`.cli_data`, the engine commands in :mod:`.cli_engine` and :mod:`.cli_reproduce`, the
vibration commands in :mod:`.cli_vibration` (shared argument types in :mod:`.cli_args`); this
module is the single entry point. To add a command, write that pair and append the ``_add_``
function to :data:`COMMANDS`. Handlers raise the package's errors; :func:`main` turns any of
them (and bad arguments or paths) into ``error: ...`` on stderr and exit status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import __version__
from .cli_data import _add_fetch_data, _add_make_synthetic
from .cli_engine import _add_evaluate, _add_train
from .cli_reproduce import _add_benchmark, _add_reproduce
from .cli_vibration import (
    _add_evaluate_vibration,
    _add_fetch_vibration_data,
    _add_train_vibration,
)
from .errors import OneShotSteelError

#: Exit status of every reported error, as argparse uses for bad arguments.
EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"error: {message} (see `{self.prog} --help`)\n")


#: Every subcommand's ``_add_`` function, in the order ``--help`` lists them.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_fetch_data,
    _add_make_synthetic,
    _add_train,
    _add_evaluate,
    _add_reproduce,
    _add_benchmark,
    _add_fetch_vibration_data,
    _add_train_vibration,
    _add_evaluate_vibration,
]


def build_parser(prog: str = "python -m oneshot_steel") -> argparse.ArgumentParser:
    """The full parser: one subparser per entry of :data:`COMMANDS`."""
    parser = _Parser(
        prog=prog,
        description="One-Shot Steel: one-shot recognition of steel surface defects.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m oneshot_steel") -> int:
    """Run one command; return its exit status (0 ok, 2 error, 130 interrupted)."""
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a bad argument (already reported)
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (OneShotSteelError, OSError, ValueError) as err:
        # The first line is the whole story for most errors; FetchError adds its details below.
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
