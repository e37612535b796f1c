"""The subcommands that reproduce and measure: ``reproduce`` (the paper's Tables 2 and 3 over
several seeds) and ``benchmark`` (the speed measurements of ``benchmarks/``).

Each is a pair ``_add_<name>(subparsers)`` / ``_cmd_<name>(args) -> int``, listed in
:data:`oneshot_steel.cli.COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys

from .cli_args import (
    _PRESETS,
    _add_data_arg,
    _add_device_arg,
    _class_list,
    _device,
    _out_dir,
    _positive_int,
    _seed_list,
)
from .errors import OneShotSteelError
from .files import repo_root


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
    _add_data_arg(p, own_images=False)  # NEU-CLS only: the paper's tables
    p.add_argument("--out", type=_out_dir, required=True, metavar="DIR", help="results folder")
    p.add_argument(
        "--seeds", type=_seed_list, default=[0, 1, 2], metavar="0,1,2", help="default: 0,1,2"
    )
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="epochs of every Siamese net, one-shot and Table 3 (default: the preset's)",
    )
    p.add_argument(
        "--cnn-epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="epochs of Table 3's CNN (default: the preset's)",
    )
    p.add_argument(
        "--train-classes",
        type=_class_list,
        default=None,  # the paper's split, filled in by _cmd_reproduce
        metavar="A,B,C",
        help="classes the one-shot nets train on (default: the paper's training classes)",
    )
    p.add_argument(
        "--test-classes",
        type=_class_list,
        default=None,
        metavar="A,B,C",
        help="unseen classes they are tested on, at least 3 (default: the paper's test classes)",
    )
    _add_device_arg(p)
    p.add_argument("--no-progress", action="store_true", help="no progress messages")
    p.set_defaults(handler=_cmd_reproduce)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .baselines import CNNConfig
    from .data import resolve_data_root
    from .data.splits import PAPER_TEST_CLASSES, PAPER_TRAIN_CLASSES
    from .reproduce import reproduce
    from .train import TrainConfig

    train_classes = list(PAPER_TRAIN_CLASSES if args.train_classes is None else args.train_classes)
    test_classes = list(PAPER_TEST_CLASSES if args.test_classes is None else args.test_classes)
    overlap = sorted(set(train_classes) & set(test_classes))
    if overlap:
        raise ValueError(f"--train-classes and --test-classes share {','.join(overlap)}")
    if len(test_classes) < 3:
        raise ValueError("--test-classes needs at least 3 classes (the episodes are 3-way)")
    if len(train_classes) < 2:
        raise ValueError("--train-classes needs at least 2 classes (for different-class pairs)")
    root = resolve_data_root(args.data)  # a clear error for a bad path, before any work
    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    cnn_epochs = {} if args.cnn_epochs is None else {"epochs": args.cnn_epochs}
    reproduce(
        args.preset,
        root,
        args.out,
        args.seeds,
        device=args.device,
        progress=not args.no_progress,
        siamese_config=TrainConfig.preset(args.preset, **epochs),
        cnn_config=CNNConfig.preset(args.preset, **cnn_epochs),
        train_classes=train_classes,
        test_classes=test_classes,
    )
    print((args.out / "results.md").read_text(encoding="utf-8"))
    return 0


# --------------------------------------------------------------------------- benchmark
_BENCHMARKS = ("bench_training", "bench_inference")


def _add_benchmark(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="time training and inference against a naive paper-style pipeline (needs a "
        "source checkout)",
        description="Run benchmarks/bench_training.py and benchmarks/bench_inference.py from "
        "the source checkout and print their results (ratios against a paper-style pipeline "
        "measured in the same run). The benchmarks ship with the repository, not with the "
        "installed package: run this inside a clone.",
    )
    p.add_argument(
        "--device", type=_device, choices=("cpu", "cuda"), default=None, help="default: the best"
    )
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller sets")
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="NEU-CLS folder or 'synthetic' (default: $ONESHOT_STEEL_DATA, else the benchmarks' own "
        "default folder, else the stand-in)",
    )
    p.add_argument(
        "--only", choices=("training", "inference"), default=None, help="run one of the two"
    )
    p.add_argument("--out", type=_out_dir, default=None, metavar="DIR", help="write JSON results")
    p.set_defaults(handler=_cmd_benchmark)


def _cmd_benchmark(args: argparse.Namespace) -> int:
    import importlib.util

    root = repo_root()
    folder = root / "benchmarks" if root is not None else None
    if folder is None or not folder.is_dir():
        raise OneShotSteelError(
            "The benchmarks ship with the source checkout, not the installed package: clone "
            "the repository and run `python -m oneshot_steel benchmark` inside it."
        )
    names = [n for n in _BENCHMARKS if args.only is None or n.endswith(args.only)]
    argv = (["--device", args.device] if args.device else []) + (["--quick"] if args.quick else [])
    argv += ["--data", args.data] if args.data else []
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
