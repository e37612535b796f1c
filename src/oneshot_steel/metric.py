"""How a one-shot model compares features: SimpleShot's finish and a within-class whitening.

A nearest-prototype rule is only as good as the space it measures distances in. SimpleShot
(chapter 8) centres the features on the training classes' mean and scales them to unit
length; :func:`within_class_whitening` then shrinks the directions along which images of one
training class vary without changing class. Both are fitted on the TRAINING classes only, and
a centred compact net applies them itself (:func:`finish_feature`), so its checkpoint, its
int8 copy and every caller see the same features.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["finish_feature", "within_class_whitening"]


def within_class_whitening(
    features: torch.Tensor, labels: torch.Tensor, strength: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and the matrix ``W`` that whiten features by the TRAINING classes' spread.

    ``W = (S_w + strength * mean_eig * I)^(-1/2)``, where ``S_w`` is the mean of the
    classes' covariance matrices (the within-class scatter of linear discriminant analysis)
    and ``mean_eig`` its mean eigenvalue; apply it as ``normalize((f - mean) @ W)``.

    Why: a direction along which images of one training class vary without changing class
    (an overall brightness change, say) is likely a nuisance for unseen classes too, so it
    is shrunk; directions with little within-class spread are kept. ``strength`` sets how far
    (``inf``: no change; small values whiten fully, which overfits the few training
    classes). Chapter 8's recipe `best` uses 10, chosen on its selection split. ``features``
    and ``labels`` must come from the TRAINING classes, at least two images of each.
    """
    if features.ndim != 2 or labels.shape != features.shape[:1]:
        raise ValueError(
            f"within_class_whitening needs [N, D] features and [N] labels; got "
            f"{tuple(features.shape)} and {tuple(labels.shape)}"
        )
    if not (math.isfinite(strength) and strength > 0):
        raise ValueError(f"strength must be a finite number > 0; got {strength}")
    x = features.double()
    classes, counts = labels.unique(return_counts=True)
    if len(classes) < 2 or int(counts.min()) < 2:
        raise ValueError(
            f"within_class_whitening needs at least 2 classes with at least 2 images each; "
            f"got {dict(zip(classes.tolist(), counts.tolist(), strict=True))}"
        )
    scatter = torch.stack([torch.cov(x[labels == c].T) for c in classes]).mean(dim=0)
    evals, evecs = torch.linalg.eigh(scatter)
    evals = evals.clamp(min=0)  # a covariance has none below 0; rounding can make some
    scale = (evals + strength * evals.mean()).rsqrt()
    return x.mean(dim=0).float(), ((evecs * scale) @ evecs.T).float()


def finish_feature(
    f: torch.Tensor,
    base_mean: torch.Tensor,
    metric_mean: torch.Tensor | None = None,
    metric: torch.Tensor | None = None,
) -> torch.Tensor:
    """What a centred compact net returns for its raw feature ``f``: SimpleShot (minus the
    base-class mean, unit length), then, with a ``metric``, ``normalize((z - metric_mean) @
    metric)`` (:func:`within_class_whitening`). One function, so the net and its int8 copy
    (:mod:`oneshot_steel.deploy`) cannot disagree."""
    z = nn.functional.normalize(f - base_mean, dim=1)
    if metric is None:
        return z
    return nn.functional.normalize((z - metric_mean) @ metric, dim=1)
