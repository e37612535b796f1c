"""Transductive episodes: the unlabelled queries of an episode move its prototypes.

An inductive rule (:func:`oneshot_steel.evaluate.episodic_accuracy`) labels each query alone.
With one support image per class, a prototype is a single, noisy example; the queries of the
episode, though unlabelled, show where each class really lies. Soft k-means (Ren et al. 2018,
"Meta-learning for semi-supervised few-shot classification") starts from the support means
and, a few times, assigns every query softly to the prototypes and moves each prototype to
the weighted mean of its supports and queries. This uses the test images of an episode
together, so its accuracy is a different protocol: report it in its own row, never mixed
with inductive ones.
"""

from __future__ import annotations

import torch

from .data.imageset import ImageSet
from .evaluate import EpisodicResult, episode_confusion
from .sampling import EpisodeSampler

__all__ = ["refine_prototypes", "transductive_accuracy"]


def refine_prototypes(
    support: torch.Tensor, queries: torch.Tensor, beta: float = 5.0, steps: int = 3
) -> torch.Tensor:
    """Prototypes ``[E, N, D]`` of episodes with ``support [E, N, K, D]`` and unlabelled
    ``queries [E, M, D]``, after ``steps`` soft k-means updates.

    Each update weighs query ``x`` for class ``n`` by ``softmax_n(-beta ||x - p_n||^2)`` and
    sets ``p_n`` to (sum of its K supports + weighted sum of the queries) / (K + total
    weight). ``beta`` is a sharpness for unit-length (SimpleShot) features; choose it on
    validation data, never on the test classes.
    """
    if support.ndim != 4 or queries.ndim != 3 or support.shape[-1] != queries.shape[-1]:
        raise ValueError(
            f"need support [E, N, K, D] and queries [E, M, D]; got {tuple(support.shape)} and "
            f"{tuple(queries.shape)}"
        )
    if beta <= 0 or steps < 0:
        raise ValueError(f"need beta > 0 and steps >= 0; got {beta}, {steps}")
    k = support.shape[2]
    protos = support.mean(dim=2)
    for _ in range(steps):
        w = torch.softmax(-beta * torch.cdist(queries, protos) ** 2, dim=2)  # [E, M, N]
        protos = (support.sum(dim=2) + w.transpose(1, 2) @ queries) / (k + w.sum(dim=1))[..., None]
    return protos


def transductive_accuracy(
    features: torch.Tensor,
    imageset: ImageSet,
    n_way: int,
    k_shot: int,
    n_query: int,
    n_episodes: int,
    seed: int = 0,
    *,
    beta: float = 5.0,
    steps: int = 3,
) -> EpisodicResult:
    """N-way K-shot accuracy with prototypes refined on each episode's queries.

    The episodes are exactly those of :func:`~oneshot_steel.evaluate.episodic_accuracy` with
    the same arguments, so the two rules can be compared episode by episode.
    """
    if features.ndim != 2 or features.shape[0] != len(imageset):
        raise ValueError(
            f"need features [N={len(imageset)}, D], one row per image; got {tuple(features.shape)}"
        )
    emb = features.float().cpu()
    sampler = EpisodeSampler(
        imageset.labels, n_way, k_shot, n_query, seed=seed, class_names=imageset.classes
    )
    eps = sampler.sample(n_episodes)
    target = torch.arange(n_way).repeat_interleave(n_query)
    pred = []
    for s in range(0, len(eps.support), 1000):
        queries = emb[eps.query[s : s + 1000]].flatten(1, 2)
        protos = refine_prototypes(emb[eps.support[s : s + 1000]], queries, beta, steps)
        pred.append(torch.cdist(queries, protos).argmin(dim=2))
    pred = torch.cat(pred)
    acc = (pred == target).float().mean(dim=1)
    confusion = episode_confusion(eps.classes, pred, len(imageset.classes))
    return EpisodicResult.of(acc, imageset, n_way, k_shot, n_query, seed, confusion)
