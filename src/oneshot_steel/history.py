"""The training history of a run: per-epoch losses, accuracies and timings, kept in every
checkpoint and in ``history.json`` (readable without torch, for plots and reports)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import CheckpointError

__all__ = ["HISTORY_FILE", "SELECT_BY", "new_history", "read_history", "record_epoch"]

HISTORY_FILE = "history.json"
#: The per-epoch lists of a training history, in the order :func:`record_epoch` fills them.
_EPOCH_LISTS = ("epoch", "train_loss", "val_loss", "val_accuracy", "seconds")
#: What can pick the best epoch (``TrainConfig.select_epoch_by``).
SELECT_BY = ("val_loss", "val_accuracy")


def new_history(kind: str) -> dict[str, Any]:
    """An empty training history (the layout of ``history.json``)."""
    lists = {k: [] for k in _EPOCH_LISTS}
    return {"kind": kind, **lists, "total_seconds": 0.0, "best_epoch": None, "best_val_loss": None}


def record_epoch(
    history: dict[str, Any],
    epoch: int,
    train_loss: float,
    val: dict[str, float],
    seconds: float,
    select_by: str = "val_loss",
) -> bool:
    """Append one epoch to ``history``; return whether it is the best epoch so far.

    ``select_by`` says what "best" means: ``"val_loss"``, the lowest validation loss;
    ``"val_accuracy"``, the highest validation accuracy, a tie going to the lower loss (a
    loss can rank epochs by how confident the net is rather than by how often it is right).
    Without validation data "best" is simply the latest epoch, as in the paper.
    """
    if select_by not in SELECT_BY:
        raise ValueError(f"select_by must be one of {SELECT_BY}; got {select_by!r}")
    loss, accuracy = val.get("val_loss"), val.get("val_accuracy")
    row = (epoch, train_loss, loss, accuracy, seconds)
    for key, value in zip(_EPOCH_LISTS, row, strict=True):
        history[key].append(value)
    history["total_seconds"] += seconds
    best = history["best_epoch"]
    if loss is None or best is None:
        is_best = True
    elif select_by == "val_accuracy":
        at = history["epoch"].index(best)
        best_accuracy, best_loss = history["val_accuracy"][at], history["val_loss"][at]
        is_best = accuracy > best_accuracy or (accuracy == best_accuracy and loss < best_loss)
    else:
        is_best = loss < history["best_val_loss"]
    if is_best:
        history["best_epoch"], history["best_val_loss"] = epoch, loss
    return is_best


def read_history(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``history.json`` of a run folder: per-epoch losses, accuracies and seconds."""
    path = Path(out_dir) / HISTORY_FILE
    if not path.is_file():
        raise CheckpointError(f"No training history at {path}; train a model into {out_dir} first.")
    try:
        history = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{path} is not a training history ({exc}); delete it. The same history is kept "
            f"in the run's checkpoint: load_checkpoint({str(out_dir)!r})[2] reads it."
        ) from exc
    if not isinstance(history, dict) or not all(k in history for k in _EPOCH_LISTS):
        raise CheckpointError(
            f"{path} is not a training history (it lacks the per-epoch lists "
            f"{list(_EPOCH_LISTS)}); delete it. The same history is kept in the run's "
            f"checkpoint: load_checkpoint({str(out_dir)!r})[2] reads it."
        )
    return history
