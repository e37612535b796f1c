"""Divergence checks of the one training loop: a run that blew up is stopped, never saved.

A run can blow up without a NaN loss. With a learning rate far too high, BatchNorm's running
variances overflow to inf; in eval mode every image is then divided by inf, every image gets
the same embedding, and the validation loss stays finite (that of distances all 0), low
enough to be picked as the best epoch. So after every epoch, before anything is written,
:func:`check_epoch` looks at

- the loss of every step and the validation loss (NaN or infinite),
- every parameter, buffer (BatchNorm's running statistics) and optimizer moment,
- the embeddings of the check images (the validation images; without them a fixed sample of
  training images): NaN or infinite, or all collapsed onto one point
  (:func:`embedding_spread` below :data:`COLLAPSE_TOLERANCE`).

Any of these raises :class:`~oneshot_steel.errors.TrainingDivergedError`, so the last good
checkpoint is what stays on disk and a collapsed epoch is never the best one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from .errors import TrainingDivergedError

__all__ = ["COLLAPSE_TOLERANCE", "check_epoch", "embedding_spread", "first_non_finite"]

#: Embeddings whose :func:`embedding_spread` is below this have collapsed onto one point.
#: A collapsed net gives exactly 0 (float32 rounding alone: about 1e-7); healthy runs of the
#: smoke and quick presets, of every net, from their first epoch on, stay above 1e-2
#: (measured on the synthetic stand-in and the real NEU-CLS images; the numbers are in the
#: commit that set this value).
COLLAPSE_TOLERANCE = 1e-4


def embedding_spread(embeddings: torch.Tensor) -> float:
    """How far apart the images' embeddings are for their size: the mean distance to their
    centroid over their mean length (0 to 2; 0 when every image has the same embedding).

    Relative, so it means the same for any embedding scale; computed in float64, so the huge
    embeddings of a blown-up net do not overflow into inf/inf.
    """
    e = embeddings.detach().double()
    spread = torch.linalg.vector_norm(e - e.mean(dim=0), dim=1).mean()
    size = torch.linalg.vector_norm(e, dim=1).mean()
    return float(spread / size) if size > 0 else 0.0


def first_non_finite(tensors: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    """The name of the first floating-point tensor holding NaN or inf, or None."""
    for name, t in tensors:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(t.isfinite().all()):
            return name
    return None


def _bad_state(net: nn.Module, optimizer: torch.optim.Optimizer | None) -> str | None:
    """What in ``net`` or its optimizer state holds NaN or inf, in words (None: nothing)."""
    if (name := first_non_finite(net.named_parameters())) is not None:
        return f"the weights {name} became NaN or infinite"
    if (name := first_non_finite(net.named_buffers())) is not None:
        what = " (BatchNorm running statistics)" if "running_" in name else ""
        return f"the buffer {name}{what} became NaN or infinite"
    if optimizer is not None:
        names = {p: n for n, p in net.named_parameters()}
        for param, state in optimizer.state.items():
            moments = ((f"{names.get(param, '?')} ({k})", v) for k, v in state.items())
            if (name := first_non_finite(moments)) is not None:
                return f"the optimizer's state of {name} became NaN or infinite"
    return None


def _bad_embeddings(embeddings: torch.Tensor, what: str, distinct: bool) -> str | None:
    """What is wrong with the embeddings of the check images, in words (None: nothing)."""
    if not bool(embeddings.isfinite().all()):
        return f"the embeddings of the {len(embeddings)} {what} hold NaN or infinite values"
    spread = embedding_spread(embeddings)
    if distinct and spread < COLLAPSE_TOLERANCE:
        return (
            f"all {len(embeddings)} {what} get the same embedding (output): their spread is "
            f"{spread:.1e} of their size, under {COLLAPSE_TOLERANCE:g}, so the net has "
            "collapsed onto one point and tells nothing apart"
        )
    return None


def check_epoch(
    epoch: int,
    losses: torch.Tensor,
    val_loss: float | None,
    net: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    embeddings: torch.Tensor,
    *,
    what: str,
    distinct: bool,
    lr: float,
    kept: Path | None,
) -> None:
    """Raise :class:`TrainingDivergedError` if epoch ``epoch`` (0-based) blew up.

    ``losses``: the loss of each step (CPU); ``embeddings``: of the check images, ``what``
    they are in words; ``distinct``: whether those images differ at all (identical images
    legitimately share one embedding); ``kept``: the checkpoint that stays on disk.
    """
    bad = (~torch.isfinite(losses)).nonzero().flatten()
    if len(bad):
        step = int(bad[0])
        problem = f", step {step + 1} of {len(losses)} (loss {float(losses[step])})"
    elif val_loss is not None and not torch.isfinite(torch.tensor(val_loss)):
        problem = f", validation (loss {val_loss})"
    else:
        found = _bad_state(net, optimizer) or _bad_embeddings(embeddings, what, distinct)
        if found is None:
            return
        problem = f": {found}"
    note = "No checkpoint was written."
    if kept is not None and kept.is_file():
        note = f"The last good checkpoint {kept} is kept unchanged."
    raise TrainingDivergedError(
        f"Training diverged in epoch {epoch + 1}{problem}. {note} Try a lower learning rate "
        f"(lr={lr:g} now; e.g. lr={lr / 10:g}: TrainConfig(lr=...), or --lr on the command "
        "line) or TrainConfig(amp=False), and check the data for blank or corrupt images."
    )
