"""Checkpoint files: writing them atomically and reading them back safely.

A training run in ``out_dir`` leaves three files:

- ``model.pt``: everything needed to resume (weights, optimizer, grad-scaler, config, history,
  epoch, RNG states) -- rewritten after every epoch (every ``checkpoint_every`` epochs);
- ``best.pt``: the weights of the best epoch (``TrainConfig.select_epoch_by``: the lowest
  validation loss by default), with their config (no optimizer),
  written with the ``model.pt`` of the same epoch. It is the only copy of the best weights:
  ``model.pt`` does not repeat them, which keeps the paper net's ``model.pt`` at 483 MB
  instead of up to 644 MB (weights and Adam's two moments, 161 MB each);
- ``history.json``: the per-epoch losses and timings, readable without torch
  (:mod:`oneshot_steel.history`).

Every value stored is a tensor or a plain Python builtin (dict, list, str, int, float, bool,
None), so ``torch.load(..., weights_only=True)`` can read the files: unlike the authors'
pickled models, opening a checkpoint never runs code from the file. Writing and reading go
through :mod:`oneshot_steel.torch_io`: a failed write leaves the previous file, and every
file that cannot be used (not ours, corrupt, NaN weights) is named in a one-line error.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import RESUMABLE_FIELDS, TrainConfig
from .data.imageset import ImageSet
from .errors import CheckpointError
from .history import HISTORY_FILE, new_history, read_history, record_epoch
from .models import CompactEmbeddingNet, PaperEmbeddingNet, build_model
from .torch_io import load_file, refuse_non_finite, write_companion_json, write_file
from .truncate import knob_mismatch

__all__ = [
    "BEST_FILE",
    "HISTORY_FILE",
    "MODEL_FILE",
    "build_from_spec",
    "check_resumable",
    "data_fingerprint",
    "load_checkpoint",
    "load_weights",
    "model_spec",
    "new_history",
    "read_checkpoint",
    "read_history",
    "record_epoch",
    "restore_run",
    "save_epoch",
    "write_checkpoint",
]

MODEL_FILE = "model.pt"
BEST_FILE = "best.pt"
#: Bumped when the layout of the checkpoint dict changes.
FORMAT_VERSION = 1
#: The class each model name builds (by name: ResNet-18 is imported only when used).
_CLASSES: dict[str, str] = {
    "paper": PaperEmbeddingNet.__name__,
    "compact": CompactEmbeddingNet.__name__,
    "resnet18": "ResNet18Embedding",
    "wdcnn": "WDCNNEmbeddingNet",
    "gru": "GRUEmbeddingNet",
}
#: TrainConfig fields added after checkpoint format 1 that change what any run computes, with
#: the value that means "as before", so runs written before they existed still load and
#: resume. Fields missing from an old config and not listed here (``ssl_batch``,
#: ``temperature``) only matter to self-supervised runs, which did not exist then.
_ADDED_LATER = {
    "crop_size": 0,
    "pretrained": False,
    "simpleshot": False,
    "within_class_whitening": 0.0,
    "coarse_view": False,
    "select_epoch_by": "val_loss",
}
_REQUIRED = ("format", "kind", "model", "config", "epoch", "state_dict")


def write_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a file, and
    a failed write (disk full) is a :class:`CheckpointError` naming ``path``."""
    return write_file(path, lambda tmp: torch.save(payload, tmp))


def read_checkpoint(
    path: str | os.PathLike, device: torch.device | str | None = None, *, mmap: bool = False
) -> dict:
    """Load a checkpoint dict with ``weights_only=True``; :class:`CheckpointError` if unusable.

    ``path`` may be a run folder (its ``model.pt`` is read) or a file. ``mmap=True`` maps the
    tensors instead of reading them (CPU only): cheap when only the metadata is needed.
    """
    path = Path(path) / MODEL_FILE if Path(path).is_dir() else Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at {path}. Train first (train_siamese / train_episodic write "
            f"out_dir/{MODEL_FILE}) or check the path."
        )
    ckpt = load_file(path, device, mmap=mmap)
    missing = [k for k in _REQUIRED if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(
            f"{path} is not a One-Shot Steel checkpoint (missing {missing}). Load bare state "
            "dicts with model.load_state_dict(torch.load(path, weights_only=True))."
        )
    if ckpt["format"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} uses checkpoint format {ckpt['format']}, this version of the package "
            f"reads format {FORMAT_VERSION}; retrain, or use the package version that wrote it."
        )
    if knob := knob_mismatch(ckpt.get("test_steps")):  # the one guard (see .truncate)
        raise CheckpointError(f"Cannot use {path}: {knob}.")
    spec = ckpt["model"]
    if not (
        isinstance(spec, dict)
        and isinstance(spec.get("name"), str)
        and isinstance(spec.get("kwargs"), dict)
        and isinstance(ckpt["config"], dict)
        and isinstance(ckpt["state_dict"], dict)
    ):
        raise CheckpointError(
            f"{path} is damaged: its model, config or weights entry is not what this package "
            "writes ({'name': ..., 'kwargs': {...}}, a dict, a state dict). Train again."
        )
    return ckpt


def build_from_spec(spec: dict[str, Any], path: Path | None = None) -> nn.Module:
    """The untrained embedding net described by a checkpoint's ``model`` entry (read from
    ``path``: a setting or model this version does not know is a :class:`CheckpointError`)."""
    try:
        return build_model(spec["name"], **spec["kwargs"])
    except (TypeError, ValueError) as exc:
        if path is None:
            raise
        what = f"a {_describe(spec)}" if spec["name"] in _CLASSES else f"a model {spec['name']!r}"
        raise CheckpointError(
            f"{path} asks for {what} that this version cannot build ({exc}). It was written "
            "by another version of the package, or edited: use that version, or train again."
        ) from exc


def _describe(spec: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v}" for k, v in spec["kwargs"].items())
    return f"{spec['name']!r} model ({args})"


def load_weights(
    net: nn.Module, state_dict: dict[str, torch.Tensor], spec: dict[str, Any], path: Path
) -> None:
    """``net.load_state_dict(state_dict)`` read from ``path``, with a :class:`CheckpointError`
    that explains a mismatch, and refuses NaN or infinite weights (a run that blew up)."""
    expected = _CLASSES.get(spec["name"])
    if expected is None or type(net).__name__ != expected:
        raise CheckpointError(
            f"{path} holds a {_describe(spec)} ({expected or '?'}) but it was loaded into a "
            f"{type(net).__name__}. Build build_model({spec['name']!r}, ...) instead, or let "
            "load_checkpoint build the right model (omit model=)."
        )
    refuse_non_finite(state_dict, path)
    try:
        net.load_state_dict(state_dict)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = "; ".join(line.strip() for line in first[:4])
        raise CheckpointError(
            f"{path} holds a {_describe(spec)} whose weights do not fit this "
            f"{type(net).__name__} ({detail[:400]}). Build the model with the checkpoint's "
            "settings, or let load_checkpoint build it (omit model=)."
        ) from exc


def _sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def data_fingerprint(data: ImageSet | None) -> dict[str, Any] | None:
    """What identifies a training/validation set: size, classes and a hash of pixels + labels.

    Stored with the checkpoint so a run is never resumed, nor a model reused, on other data
    (for example the synthetic stand-in instead of the real NEU images).
    """
    if data is None:
        return None
    return {
        "n_images": len(data),
        "image_size": data.image_size,
        "classes": list(data.classes),
        "synthetic": bool(data.synthetic),
        "sha256": _sha256(data.images) + _sha256(data.labels)[:16],
    }


def model_spec(config: dict[str, Any], image_size: int) -> dict[str, Any]:
    """How to rebuild the embedding net of a run: ``{"name", "kwargs"}`` for ``build_model``."""
    name, dim = config["model"], config["embedding_dim"]
    if name == "paper":
        return {"name": "paper", "kwargs": {"image_size": image_size, "embedding_dim": dim}}
    if name == "compact":
        kwargs = {"embedding_dim": dim, "width": config["width"]}
        return {
            "name": "compact",
            "kwargs": kwargs
            | ({"centre": True} if config.get("simpleshot") else {})
            | ({"within_class": True} if config.get("within_class_whitening") else {})
            | ({"coarse_view": True} if config.get("coarse_view") else {}),
        }
    if name == "resnet18":
        return {"name": "resnet18", "kwargs": {"embedding_dim": dim}}
    if name in ("wdcnn", "gru"):  # signal windows; any length, so none is recorded
        return {"name": name, "kwargs": {"embedding_dim": dim, "width": config["width"]}}
    raise ValueError(
        f"Unknown model {name!r}; TrainConfig.model must be 'paper', 'compact', 'resnet18', "
        "'wdcnn' or 'gru'"
    )


def check_resumable(
    ckpt: dict,
    config: dict[str, Any],
    kind: str,
    data: dict,
    path: Path,
    may_change: frozenset[str] = RESUMABLE_FIELDS,
) -> None:
    """Raise :class:`CheckpointError` unless ``ckpt`` is an earlier state of this very run:
    same kind, same config (except the ``may_change`` keys), same data, not more epochs.
    (The TEST-ONLY knob was checked when :func:`read_checkpoint` read ``ckpt``.)"""
    old = {**_ADDED_LATER, **ckpt["config"]}
    diff = [
        f"{k}: {old.get(k)!r} -> {v!r}"
        for k, v in config.items()
        if k not in may_change and k in old and old[k] != v
    ]
    problems = []
    if ckpt["kind"] != kind:
        problems.append(f"it holds a {ckpt['kind']} run, this is a {kind} run")
    if diff:
        problems.append("the config differs (" + "; ".join(diff) + ")")
    if ckpt.get("data") != data:
        problems.append("it was trained on other data (image count, classes or pixels differ)")
    if ckpt["epoch"] > config["epochs"]:
        problems.append(
            f"it already ran {ckpt['epoch']} epochs, more than epochs={config['epochs']}"
        )
    if problems:
        raise CheckpointError(
            f"Cannot continue from {path}: " + "; ".join(problems) + ". Use another out_dir, "
            "pass resume=False to start afresh (overwrites the file), or delete the folder."
        )


def load_checkpoint(
    path: str | os.PathLike,
    device: torch.device | str | None = None,
    *,
    weights: str = "best",
    model: nn.Module | None = None,
) -> tuple[nn.Module, TrainConfig, dict]:
    """``(embedding_net, TrainConfig, history)`` from a run folder, ``model.pt`` or ``best.pt``.

    ``weights="best"``: the best validation epoch (``TrainConfig.select_epoch_by``), read
    from the ``best.pt`` next to ``model.pt`` (older checkpoints kept a copy inside
    ``model.pt``); ``"last"``: the final epoch (what the paper used). A ``best.pt`` path
    holds its epoch's weights only. ``model`` loads into an existing net instead of building
    one; a net of another kind or size gives a :class:`CheckpointError`. The net is returned
    in eval mode on ``device``.
    """
    if weights not in ("best", "last"):
        raise ValueError(f"weights must be 'best' or 'last'; got {weights!r}")
    path = Path(path) / MODEL_FILE if Path(path).is_dir() else Path(path)
    ckpt = read_checkpoint(path, mmap=True)  # the optimizer state (2/3 of it) is never read
    state, source = ckpt["state_dict"], path
    if weights == "best":
        state, in_best_file = _best_weights(path, ckpt)
        source = path.with_name(BEST_FILE) if in_best_file else path
    if state is None:
        warnings.warn(
            f"The best epoch of {path} was saved in {path.with_name(BEST_FILE)}, which is "
            "missing or from another run; returning the last epoch's weights. Copy the run's "
            "best.pt next to it, or pass weights='last' to silence this.",
            stacklevel=2,
        )
        state = ckpt["state_dict"]
    net = build_from_spec(ckpt["model"], path) if model is None else model
    load_weights(net, state, ckpt["model"], source)
    net.to(device if device is not None else "cpu").eval()
    return net, TrainConfig.from_dict(ckpt["config"]), ckpt.get("history") or {}


def _same_run(a: dict, b: dict) -> bool:
    """Whether two checkpoints come from one run: same kind, model, data and config."""
    keep = [k for k in {*a["config"], *b["config"]} if k not in RESUMABLE_FIELDS]
    return (
        a["kind"] == b["kind"]
        and a["model"] == b["model"]
        and a.get("data") == b.get("data")
        and all(a["config"].get(k) == b["config"].get(k) for k in keep)
    )


def _best_weights(
    path: Path, ckpt: dict, device: torch.device | str | None = None, *, read: bool = True
) -> tuple[dict[str, torch.Tensor] | None, bool]:
    """``(weights of the best epoch of ckpt, whether they are in the best.pt next to path)``.

    ``best.pt`` counts only when it is this run's and holds the epoch ``ckpt``'s history calls
    best (a crash between the two writes or a copied file can leave another). Else: the copy
    older versions kept in ``model.pt``, or its own weights when its epoch is the best; None
    when they are lost. ``read=False`` only checks ``best.pt`` (memory-mapped): ``(None, True)``.
    """
    best_epoch = (ckpt.get("history") or {}).get("best_epoch")
    best_path = path.with_name(BEST_FILE)
    if best_path != path and best_path.is_file():
        best = read_checkpoint(best_path, device if read else None, mmap=not read)
        if best["epoch"] == best_epoch and _same_run(best, ckpt):
            return (best["state_dict"] if read else None), True
    if ckpt.get("best_state_dict") is not None:  # written by version 0.1 before best.pt alone
        return ckpt["best_state_dict"], False
    if best_epoch is None or best_epoch == ckpt["epoch"]:
        return ckpt["state_dict"], False
    return None, False


def save_epoch(
    out_dir: Path,
    meta: dict[str, Any],
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    history: dict[str, Any],
    best_state: dict[str, torch.Tensor] | None,
    *,
    is_best: bool,
    full: bool,
) -> dict[str, torch.Tensor] | None:
    """When ``full``, write ``model.pt`` and ``history.json``, then ``best.pt`` if the best
    weights changed since the last full save; return the best weights still to be written.

    ``best_state`` is that pending copy: the best epoch's weights when it fell between two full
    saves (``checkpoint_every > 1``), or what :func:`restore_run` could not find in ``best.pt``;
    None when ``best.pt`` is up to date. It is written after ``model.pt``: see restore_run.
    """
    state = net.state_dict()
    if not full:
        return {k: v.detach().clone() for k, v in state.items()} if is_best else best_state
    rng = {"torch": torch.get_rng_state()}  # for the record: resuming does not need it
    device = next(iter(state.values())).device if state else torch.device("cpu")
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    payload = {
        **meta,
        "state_dict": state,
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "history": history,
        "rng": rng,
    }
    write_checkpoint(out_dir / MODEL_FILE, payload)
    write_companion_json(out_dir / HISTORY_FILE, history)  # removes a stale one on failure
    if is_best or best_state is not None:
        best = {**meta, "state_dict": state, "history": history}
        if not is_best:
            best.update(epoch=history["best_epoch"], state_dict=best_state)
        write_checkpoint(out_dir / BEST_FILE, best)
    return None


def restore_run(
    path: Path,
    device: torch.device,
    config: dict[str, Any],
    kind: str,
    data: dict,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    may_change: frozenset[str] = RESUMABLE_FIELDS,
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """Load ``model.pt`` into ``net``/``optimizer``/``scaler``; return ``(history, pending)``.

    ``pending`` is None when the ``best.pt`` next to ``path`` holds this history's best epoch;
    otherwise the best weights for :func:`save_epoch` to write into ``best.pt`` at the next
    full save (the copy an older ``model.pt`` carried, or its own weights if they are the best).
    """
    ckpt = read_checkpoint(path, device)
    check_resumable(ckpt, config, kind, data, path, may_change)
    load_weights(net, ckpt["state_dict"], ckpt["model"], path)
    try:
        for i, moments in (ckpt["optimizer"].get("state") or {}).items():
            tensors = {k: v for k, v in moments.items() if isinstance(v, torch.Tensor)}
            refuse_non_finite({f"optimizer state {i} {k}": v for k, v in tensors.items()}, path)
        optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"Cannot resume from {path}: its optimizer state does not fit ({exc}); it is "
            "damaged. Pass resume=False to start afresh, or delete the folder."
        ) from exc
    pending, in_best_file = _best_weights(path, ckpt, device, read=False)
    if pending is None and not in_best_file:
        warnings.warn(
            f"{path.with_name(BEST_FILE)} is missing or does not hold epoch "
            f"{ckpt['history']['best_epoch']}, the best epoch of {path}: those weights are lost. "
            "Training continues; best.pt is written again when an epoch beats that one.",
            stacklevel=2,
        )
    return ckpt["history"], pending
