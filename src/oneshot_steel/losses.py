"""Losses: the paper's contrastive loss (eq. 1), its analytic gradient, and the prototypical loss.

Label convention used everywhere in this package: ``same = 1`` for a pair of images of the
SAME class, ``same = 0`` for different classes, exactly as the paper writes eq. (1).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

__all__ = [
    "contrastive_loss",
    "contrastive_loss_grad",
    "euclidean_distance",
    "nt_xent_loss",
    "prototypical_loss",
]

Reduction = Literal["mean", "sum", "none"]

#: Added under the square root of the distance. Without it d sqrt(s)/ds = 1/(2 sqrt(s)) is
#: infinite at s = 0 (two identical embeddings) and one such pair turns every gradient to NaN.
DISTANCE_EPS = 1e-12


def euclidean_distance(
    e1: torch.Tensor, e2: torch.Tensor, eps: float = DISTANCE_EPS
) -> torch.Tensor:
    """Eq. (2): ``D = ||e1 - e2||_2`` per row, computed as ``sqrt(sum (e1-e2)^2 + eps)``.

    The ``eps`` keeps the gradient finite (zero) when ``e1 == e2`` and shifts D by at most
    ``sqrt(eps)`` = 1e-6. Half-precision embeddings (autocast) are upcast to float32 first,
    where ``eps`` does not underflow.
    """
    diff = e1 - e2
    if diff.dtype in (torch.float16, torch.bfloat16):
        diff = diff.float()
    return torch.sqrt(diff.pow(2).sum(dim=-1) + eps)


def _reduce(loss: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")


def _check_pairs(distance: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    if distance.shape != same.shape:
        raise ValueError(
            f"distance and same must have the same shape (one label per pair); got "
            f"{tuple(distance.shape)} and {tuple(same.shape)}"
        )
    if not margin > 0:
        raise ValueError(f"the margin must be positive; got {margin}")
    return same.to(distance.dtype)


def contrastive_loss(
    distance: torch.Tensor,
    same: torch.Tensor,
    margin: float = 2.0,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Eq. (1) of the paper: ``L = y D^2 / 2 + (1 - y) max(0, m - D)^2 / 2``, mean over pairs.

    Args:
        distance: Euclidean distances ``D >= 0`` between the two embeddings, shape ``[B]``.
        same: ``y``; 1 (or True) when the two images show the SAME class, 0 otherwise.
        margin: ``m``. Different-class pairs farther apart than ``m`` cost nothing, so the
            loss stops pushing them; same-class pairs are always pulled together.
        reduction: ``"mean"`` (the paper), ``"sum"`` or ``"none"`` (per-pair losses).

    How the authors' public code differs: there ``y = 1`` means DIFFERENT classes (the
    roles of the two terms are swapped) and the loss is applied to ``0.5 * D`` with
    ``m = 2``. Since ``max(0, 2 - D/2)^2 = max(0, 4 - D)^2 / 4``, that is the same family
    with an effective margin of 4 on the raw distance and both terms scaled by 1/4. Their
    evaluation nevertheless thresholds the raw distance at 2.
    """
    y = _check_pairs(distance, same, margin)
    loss = 0.5 * y * distance.pow(2) + 0.5 * (1 - y) * torch.clamp(margin - distance, min=0).pow(2)
    return _reduce(loss, reduction)


def contrastive_loss_grad(
    distance: torch.Tensor, same: torch.Tensor, margin: float = 2.0
) -> torch.Tensor:
    """Analytic ``dL_i/dD_i`` of each pair's loss in eq. (1): ``y D - (1 - y) max(0, m - D)``.

    A same-class pair is pulled in with a force equal to its distance; a different-class
    pair closer than ``m`` is pushed out with force ``m - D``, and feels nothing beyond ``m``.
    For the batch mean divide by ``B``. By the chain rule through eq. (2) the gradient on an
    embedding is ``dL/de1 = dL/dD * (e1 - e2) / D = -dL/de2``.
    """
    y = _check_pairs(distance, same, margin)
    return y * distance - (1 - y) * torch.clamp(margin - distance, min=0)


def prototypical_loss(
    support: torch.Tensor, query: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Prototypical-network loss (Snell et al., 2017) of one N-way episode.

    Args:
        support: embeddings ``[N, K, D]``; row ``i`` holds the K shots of class ``i``.
        query: embeddings ``[N, Q, D]`` (row ``i`` of class ``i``) or ``[N * Q, D]`` (that
            tensor flattened, class-major).

    Each class prototype is the mean of its support embeddings; a query's logits are the
    negative squared Euclidean distances to the N prototypes, so the softmax prefers the
    nearest prototype. Returns ``(cross-entropy loss, accuracy)``, both 0-d tensors; the
    accuracy is the fraction of queries whose nearest prototype is their own class.
    """
    if support.ndim != 3:
        raise ValueError(f"support must be [N, K, D]; got shape {tuple(support.shape)}")
    n, _, d = support.shape
    if query.ndim == 3:
        if query.shape[0] != n or query.shape[2] != d:
            raise ValueError(
                f"query [N, Q, D] must match support [N={n}, K, D={d}]; got {tuple(query.shape)}"
            )
        q_per_class = query.shape[1]
        query = query.reshape(n * q_per_class, d)
    elif query.ndim == 2:
        if query.shape[1] != d or query.shape[0] % n != 0:
            raise ValueError(
                f"flat query must be [N*Q, D] with N={n}, D={d}; got {tuple(query.shape)}"
            )
        q_per_class = query.shape[0] // n
    else:
        raise ValueError(f"query must be [N, Q, D] or [N*Q, D]; got shape {tuple(query.shape)}")
    prototypes = support.mean(dim=1)  # [N, D]
    logits = -(query[:, None, :] - prototypes[None, :, :]).pow(2).sum(dim=-1)  # [N*Q, N]
    target = torch.arange(n, device=support.device).repeat_interleave(q_per_class)
    loss = F.cross_entropy(logits, target)
    accuracy = (logits.argmax(dim=1) == target).to(logits.dtype).mean()
    return loss, accuracy


def nt_xent_loss(
    view1: torch.Tensor, view2: torch.Tensor, temperature: float = 0.2
) -> torch.Tensor:
    """Self-supervised contrastive loss (NT-Xent, Chen et al. 2020) of two views of B images.

    Args:
        view1, view2: embeddings ``[B, D]``; row ``i`` of both comes from the same image.
        temperature: scales the cosine similarities; small values punish hard negatives most.

    No labels: each embedding must pick its partner view out of the other ``2B - 2`` views in
    the batch (cross-entropy over cosine similarities / temperature). Unlike eq. (1), which
    only has to separate the few training classes, this asks the net to tell every image
    from every other, a richer task that the learned texture features carry to new classes.
    """
    if view1.ndim != 2 or view1.shape != view2.shape or view1.shape[0] < 2:
        raise ValueError(
            f"nt_xent_loss needs two [B, D] views of the same shape with B >= 2; got "
            f"{tuple(view1.shape)} and {tuple(view2.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    b = view1.shape[0]
    z = F.normalize(torch.cat([view1, view2]).float(), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))  # an embedding is not its own partner
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    return F.cross_entropy(logits, target)
