"""The engine subcommands of ``python -m oneshot_steel``: ``train`` and ``evaluate`` (the
paper's tables and the benchmarks: :mod:`.cli_reproduce`).

Each is a pair ``_add_<name>(subparsers)`` / ``_cmd_<name>(args) -> int``, listed in
:data:`oneshot_steel.cli.COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from .cli_args import (
    _PRESETS,
    _add_data_arg,
    _add_device_arg,
    _class_list,
    _distance,
    _int,
    _load_data,
    _out_dir,
    _positive_float,
    _positive_int,
    json_text,
)
from .errors import CheckpointError


# --------------------------------------------------------------------------- train
def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train an embedding network on the one-shot class split",
        description="Train the paper's Siamese network with the contrastive loss (or another "
        "model and loss, see --model and --loss) on the training classes (default: the "
        "paper's); the remaining classes stay unseen for testing. "
        "Writes OUT/model.pt (resumable), OUT/best.pt and OUT/history.json.",
    )
    p.add_argument("--preset", choices=_PRESETS, default="quick", help="default: quick")
    p.add_argument(
        "--recipe",
        choices=_RECIPES,
        default=None,
        help="a named recipe: model, loss, image size and settings in one word; 'best' is the "
        "book's best one-shot model (chapter 8, alias of selfsup-windows). --preset sets its "
        "length; --model, --loss, --crop-size, --image-size override it. Default: the paper's",
    )
    _add_data_arg(p)
    p.add_argument("--out", type=_out_dir, required=True, metavar="DIR", help="run folder")
    p.add_argument("--seed", type=_int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="Adam's learning rate (default: the preset's); lower it when training diverges",
    )
    p.add_argument(
        "--train-classes",
        type=_class_list,
        default=None,  # the paper's split; data.splits (torch) is imported only when a command runs
        metavar="A,B,C",
        help="classes to train on (default: the paper's training classes); the others are the "
        "unseen test classes",
    )
    p.add_argument(
        "--model",
        choices=("paper", "compact", "resnet18"),
        default=None,
        help="default: the preset's",
    )
    p.add_argument(
        "--loss",
        choices=("contrastive", "prototypical", "selfsup"),
        default=None,
        help="contrastive (pairs, the paper's), prototypical (episodes) or selfsup (NT-Xent on "
        "two views of each image, no labels; chapter 8). Default: contrastive",
    )
    p.add_argument(
        "--crop-size",
        type=_int,
        default=None,
        metavar="PX",
        help="train on random PX x PX windows (compact/resnet18 only; default 0: whole images)",
    )
    p.add_argument(
        "--image-size",
        type=_positive_int,
        default=None,
        metavar="PX",
        help="default: the recipe's (100 for the paper's)",
    )
    p.add_argument(
        "--coarse-view",
        action="store_true",
        help="recipe best: also embed each image at half size (1.3-1.4x the query time; "
        "sturdier when a new camera is softer or coarser, about 1 point lower 1-shot on NEU; "
        "chapter 8)",
    )
    p.add_argument("--val-fraction", type=float, default=0.2, help="default: 0.2; 0: no validation")
    _add_device_arg(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_cmd_train)


_SYNTHETIC = "SYNTHETIC stand-in data (procedural images, not NEU-CLS)"


_RECIPES = ("best", "selfsup-windows", "paper")
_LOSSES = {"siamese": "contrastive", "episodic": "prototypical", "selfsup": "selfsup"}


def _cmd_train(args: argparse.Namespace) -> int:
    from .config import recipe
    from .data.splits import PAPER_TRAIN_CLASSES, one_shot_split
    from .train import train_episodic, train_self_supervised, train_siamese

    chosen = recipe(args.recipe or "paper")
    loss = args.loss or _LOSSES[chosen.kind]
    fit = {
        "contrastive": train_siamese,
        "prototypical": train_episodic,
        "selfsup": train_self_supervised,
    }[loss]

    data = _load_data(args.data, args.image_size or chosen.size(args.preset), args.fit)
    if data.synthetic:
        print(f"training on {_SYNTHETIC}", file=sys.stderr)
    train_classes = list(PAPER_TRAIN_CLASSES if args.train_classes is None else args.train_classes)
    test_classes = [c for c in data.classes if c not in train_classes]
    for name in train_classes:
        data.class_index(name)  # a clear error for a misspelled class
    if not test_classes:
        raise ValueError(
            f"--train-classes {','.join(train_classes)} leaves no class of {data.classes} "
            "unseen for testing; train on fewer classes"
        )
    split = one_shot_split(data, train_classes, test_classes, args.val_fraction, args.seed)
    overrides: dict[str, object] = {"seed": args.seed}
    overrides |= {"crop_size": args.crop_size} if args.crop_size is not None else {}
    overrides |= {"model": args.model} if args.model else {}
    overrides |= {"lr": args.lr} if args.lr is not None else {}
    overrides |= {"coarse_view": True} if args.coarse_view else {}
    if args.model and args.model != "compact":
        overrides["simpleshot"] = False  # only the compact net keeps the SimpleShot mean
    config = replace(chosen.config(args.preset), **overrides)
    history = fit(
        config,
        split.train,
        split.val if len(split.val) else None,  # --val-fraction 0: no validation
        args.out,
        device=args.device,
        progress=not args.no_progress,
    )
    best, at = history.get("best_val_loss"), history.get("best_epoch")
    chosen_by = ""
    if best is not None:
        accuracy = history["val_accuracy"][history["epoch"].index(at)]
        chosen_by = (
            f" (val loss {best:.4f}, val accuracy {accuracy:.4f}; by {config.select_epoch_by})"
        )
    print(
        f"trained {config.model} net (recipe {chosen.name}, {args.preset}, {loss} loss, seed {args.seed}) on "
        f"{','.join(train_classes)} ({len(split.train)} train / {len(split.val)} val images); "
        f"unseen: {','.join(test_classes)}; best epoch {at}"
        + chosen_by
        + (f"; data: {_SYNTHETIC}" if data.synthetic else ""),
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
    p.add_argument(
        "--threshold",
        type=_distance,
        default=None,
        help="a distance >= 0 (default: the margin; for recipe best, the threshold chosen on "
        "the run's validation pairs when the data holds them)",
    )
    p.add_argument("--seed", type=_int, default=0, help="episode and pair seed (default: 0)")
    p.add_argument(
        "--weights", choices=("best", "last"), default="best", help="default: best (on val)"
    )
    _add_device_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .checkpoint import read_checkpoint
    from .divergence import COLLAPSE_TOLERANCE, embedding_spread
    from .evaluate import embed, episodic_accuracy, pair_verification
    from .train import load_checkpoint

    ckpt = read_checkpoint(args.checkpoint)
    size = ((ckpt.get("data") or {}).get("train") or {}).get("image_size") or ckpt["model"][
        "kwargs"
    ].get("image_size", 100)
    threshold = args.threshold if args.threshold is not None else ckpt["config"].get("margin")
    trained_on_synthetic = ((ckpt.get("data") or {}).get("train") or {}).get("synthetic")
    fingerprints = ckpt.get("data") or {}
    del ckpt
    net, config, _ = load_checkpoint(args.checkpoint, args.device, weights=args.weights)
    data = _load_data(args.data, size, args.fit)
    val_set = _validation_set(data, fingerprints, config.seed)
    if args.classes:
        data = data.subset(args.classes)
    if args.n_way > len(data.classes):
        raise ValueError(
            f"--n-way {args.n_way} needs at least {args.n_way} classes; the data has "
            f"{len(data.classes)} ({','.join(data.classes)})"
        )
    warnings = []
    if trained_on_synthetic is not None and bool(trained_on_synthetic) != data.synthetic:
        trained, scored = (
            ("the SYNTHETIC stand-in", "real images")
            if trained_on_synthetic
            else ("real images", "the SYNTHETIC stand-in")
        )
        warnings.append(
            f"the model was trained on {trained} and is evaluated on {scored}: these numbers "
            "say nothing about how it does on the data it was meant for"
        )
    emb = embed(net, data, device=args.device)
    if not bool(emb.isfinite().all()):  # finite weights (load_checkpoint checks) can overflow
        raise CheckpointError(
            f"{args.checkpoint} gives NaN or infinite embeddings of these images although its "
            "weights are finite: the run blew up. Train again with a lower learning rate."
        )
    if embedding_spread(emb) < COLLAPSE_TOLERANCE and bool((data.images != data.images[0]).any()):
        warnings.append(
            f"every image gets the same embedding from {args.checkpoint}: the model has "
            "collapsed (a run that blew up?) and the numbers below are chance; train again"
        )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    ep = episodic_accuracy(
        emb, data, args.n_way, args.k_shot, args.queries, args.episodes, args.seed
    )
    val = {} if val_set is None else {"val_set": val_set, "val_embeddings": embed(net, val_set)}
    pv = pair_verification(emb, data, args.pairs, threshold, seed=args.seed, **val)
    if args.threshold is None and config.simpleshot and pv.val_threshold is not None:
        # A SimpleShot net's features have unit length: the contrastive margin means nothing
        # for them, so its default threshold is the one chosen on the validation pairs.
        pv = pair_verification(emb, data, args.pairs, pv.val_threshold, seed=args.seed, **val)
    result = {
        "checkpoint": str(args.checkpoint),
        "data": {
            "source": data.source,
            "synthetic": data.synthetic,
            "n_images": len(data),
            "image_size": data.image_size,
        },
        "classes": list(data.classes),
        "features": {"dim": int(emb.shape[1]), "coarse_view": config.coarse_view},
        "warnings": warnings,
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
            "val_threshold": pv.val_threshold,
            "accuracy_at_val_threshold": pv.accuracy_at_val_threshold,
        },
    }
    if args.json:
        print(json_text(result))
    else:
        synthetic = " (SYNTHETIC data)" if data.synthetic else ""
        view = ", with the coarse view" if config.coarse_view else ""
        print(
            f"{len(data)} images of {','.join(data.classes)}{synthetic}; {emb.shape[1]}-d features{view}"
        )
        print(ep)
        print(pv)
    return 0


def _validation_set(data, fingerprints: dict, seed: int):
    """The run's own validation images (held-out images of its TRAINING classes) when ``data``
    holds them, rebuilt by the same split and checked against the checkpoint's fingerprint;
    else None. The pair threshold chosen on them is the paper's protocol for the test pairs."""
    from .checkpoint import data_fingerprint
    from .data.splits import one_shot_split

    train_classes = (fingerprints.get("train") or {}).get("classes") or []
    if not fingerprints.get("val") or not set(train_classes) <= set(data.classes):
        return None
    test_classes = [c for c in data.classes if c not in train_classes]
    if not test_classes:
        return None
    n_val, n_train = fingerprints["val"]["n_images"], fingerprints["train"]["n_images"]
    split = one_shot_split(data, train_classes, test_classes, n_val / (n_val + n_train), seed)
    return split.val if data_fingerprint(split.val) == fingerprints["val"] else None
