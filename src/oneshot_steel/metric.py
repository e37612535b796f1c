"""How a one-shot model compares features: SimpleShot's finish and a within-class whitening.

A nearest-prototype rule is only as good as the space it measures distances in. SimpleShot
(chapter 8) centres the features on the training classes' mean and scales them to unit
length; :func:`within_class_whitening` then shrinks the directions along which images of one
training class vary without changing class. Both are fitted on the TRAINING classes only, and
a centred compact net applies them itself (:func:`finish_feature`), so its checkpoint, its
int8 copy and every caller see the same features.

A net with a coarse view (chapter 8, "A second, coarser view") also embeds every image
shrunk to half size (:func:`shrink_by_half`), finishes each scale with its own statistics, and
joins the two unit vectors (:func:`join_views`).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from .augment import to_model_input
from .data.imageset import ImageSet

__all__ = [
    "add_coarse_view",
    "finish_feature",
    "fit_centres",
    "fit_whitening",
    "join_views",
    "shrink_by_half",
    "within_class_whitening",
]


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


def shrink_by_half(x: torch.Tensor) -> torch.Tensor:
    """``x`` ``[B, C, H, W]`` shrunk to half size by averaging 2 x 2 pixels (an odd last row or
    column is dropped). Why: a texture seen at half size has already lost its finest detail,
    whatever the camera, so this view's feature moves little when a new camera is softer or
    coarser (chapter 8's shifted cameras)."""
    return nn.functional.avg_pool2d(x, 2)


def join_views(features: list[torch.Tensor]) -> torch.Tensor:
    """One unit-length feature from the finished features of each view (each unit length):
    concatenated, so each view weighs the same in a distance, and scaled to unit length."""
    if len(features) == 1:
        return features[0]
    return nn.functional.normalize(torch.cat(features, dim=1), dim=1)


@torch.no_grad()
def fit_centres(net: nn.Module, views: list[torch.Tensor | None]) -> None:
    """Store in a centred compact net each view's mean raw feature over TRAINING images
    (``views``: one ``[N, D]`` tensor per view, from ``net.raw_views``; None keeps that
    view's statistics), and reset that view's whitening to the identity."""
    for i, f in enumerate(views):
        if f is None:
            continue
        mean, metric_mean, metric = net.view_buffers(i)
        mean.copy_(f.float().mean(dim=0))
        if metric is not None:
            metric_mean.zero_()
            metric.copy_(torch.eye(len(metric), device=metric.device))


@torch.no_grad()
def fit_whitening(
    net: nn.Module, views: list[torch.Tensor | None], labels: torch.Tensor, strength: float
) -> None:
    """Fit each view's within-class whitening in a net that has one, on the raw features of
    labelled TRAINING images centred by :func:`fit_centres` (None keeps that view's)."""
    for i, f in enumerate(views):
        if f is None:
            continue
        mean, metric_mean, metric = net.view_buffers(i)
        centred = nn.functional.normalize(f.float() - mean, dim=1)
        fitted_mean, matrix = within_class_whitening(centred, labels, strength)
        metric_mean.copy_(fitted_mean)
        metric.copy_(matrix)


def add_coarse_view(
    net: nn.Module,
    train_images: ImageSet | torch.Tensor,
    train_labels: torch.Tensor | None = None,
    whitening: float | None = None,
    batch_size: int = 256,
) -> nn.Module:
    """A copy of a trained, centred compact net that also embeds each image at half size.

    The copy keeps ``net``'s weights and its statistics for the image itself; the coarse
    view's centre (and, in a net that whitens within-class, its whitening of strength
    ``whitening``: the run's ``TrainConfig.within_class_whitening``, 10.0 in the recipe
    `best`) is fitted on ``train_images`` (an ImageSet of the TRAINING classes, which brings
    its labels, or uint8 ``[N, C, H, W]`` with ``train_labels``; at least 64 px). No
    training: what chapter 8 measures against shifted cameras; ``TrainConfig(coarse_view=
    True)`` builds the view into a run from the start.
    """
    if isinstance(train_images, ImageSet):
        train_labels = train_images.labels if train_labels is None else train_labels
        train_images = train_images.images
    x = train_images
    if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.ndim != 4 or not len(x):
        what = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"add_coarse_view needs the training images as an ImageSet or a non-empty uint8 "
            f"batch [N, C, H, W] (ImageSet.images); got {what}"
        )
    if not getattr(net, "centre", False) or getattr(net, "coarse_view", True):
        raise ValueError(
            "add_coarse_view needs a centred CompactEmbeddingNet without a coarse view (such "
            f"as the recipe `best`); got {type(net).__name__}"
        )
    if net.within_class and (train_labels is None or whitening is None):
        raise ValueError(
            "this net whitens within-class: pass train_labels and whitening (its "
            "TrainConfig.within_class_whitening, 10.0 for the recipe `best`)"
        )
    twin = type(net)(
        net.embedding_dim,
        net.width,
        in_channels=net.in_channels,
        centre=True,
        within_class=net.within_class,
        coarse_view=True,
    )
    missing = twin.load_state_dict(copy.deepcopy(net.state_dict()), strict=False).missing_keys
    assert all(k.startswith("coarse_") for k in missing), missing  # only the new buffers
    device = next(net.parameters()).device
    twin.to(device).eval()
    if min(x.shape[-2:]) < 2 * twin.min_size:
        raise ValueError(
            f"add_coarse_view needs training images of at least {2 * twin.min_size} px (their "
            f"half size must be {twin.min_size}); got {tuple(x.shape[-2:])}"
        )
    with torch.no_grad():  # the half-size view only: the image's own statistics are kept
        chunks = [
            twin.raw(shrink_by_half(to_model_input(chunk.to(device))))
            for chunk in x.split(batch_size)
        ]
    coarse = torch.cat(chunks).float()
    fit_centres(twin, [None, coarse])  # the image's own statistics stay the trained ones
    if net.within_class:
        fit_whitening(twin, [None, coarse], train_labels.to(device), whitening)
    return twin
