"""Named checks of the book's second part, *Reproducing the paper*: chapters 5-7 (training,
one-shot evaluation, baselines).

Imported by the package's ``__init__``, which registers them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .generic import (
    CheckResult,
    _as_array,
    _call,
    _close_problem,
    _fail,
    _passed,
)
from .registry import register


# ------------------------------------------------------------ chapter 5: training
@register("ch05.active_pairs")
def _ch05_active_pairs(candidate: Any) -> CheckResult:
    """``candidate(distance, same, margin)`` -> a boolean mask of the pairs whose loss still
    has a gradient: the pairs that teach the network anything in this step.

    The reference is where :func:`~oneshot_steel.losses.contrastive_loss_grad` is not zero.
    Cases: distances exactly 0 and exactly at the margin, both labels, three margins.
    """
    from ..losses import contrastive_loss_grad

    what = "the pairs whose contrastive loss has a non-zero gradient"
    hint = (
        "dL/dD = y D - (1 - y) max(0, m - D): a same-class pair teaches unless D = 0; a "
        "different-class pair only while D < m (at D = m its push has just vanished)."
    )
    g = torch.Generator().manual_seed(5)
    distance = torch.cat(
        [torch.tensor([0.0, 0.0, 2.0, 2.0, 1.0, 4.0]), 5 * torch.rand(90, generator=g)]
    )
    same = (torch.rand(96, generator=g) < 0.5).float()
    same[:6] = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    for margin in (2.0, 1.0, 4.0):
        want = contrastive_loss_grad(distance, same, margin) != 0
        got = _call(candidate, what, hint, distance.clone(), same.clone(), margin)
        try:
            mask = torch.as_tensor(_as_array(got)).reshape(-1) != 0
        except (TypeError, ValueError, RuntimeError):
            _fail(what, f"expected a mask with one entry per pair, got {type(got).__name__}", hint)
        if mask.shape != want.shape:
            _fail(what, f"expected {len(want)} entries, got {mask.numel()}", hint)
        wrong = torch.nonzero(mask != want).flatten()
        if len(wrong):
            i = int(wrong[0])
            kind = "same-class" if same[i] else "different-class"
            _fail(
                what,
                f"with margin {margin:g}, {len(wrong)} pair(s) wrong, e.g. a {kind} pair at "
                f"D = {float(distance[i]):.4g}: expected {'active' if want[i] else 'inactive'}",
                hint,
            )
    return _passed(what, "96 pairs, 3 margins")


# ------------------------------------------------------------ chapter 6: one-shot evaluation
def _ch06_embedded_set(seed: int, n_classes: int = 5, per_class: int = 24, dim: int = 8):
    """Overlapping Gaussian clusters as embeddings, with an ImageSet carrying their labels."""
    from ..data.imageset import ImageSet

    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    centres = 1.5 * torch.randn(n_classes, dim, generator=g)
    emb = centres[labels] + torch.randn(len(labels), dim, generator=g)  # errors do happen
    n = len(labels)
    data = ImageSet(
        torch.zeros(n, 1, 4, 4, dtype=torch.uint8),
        labels,
        [f"c{i}" for i in range(n_classes)],
        [f"x{i}" for i in range(n)],
    )
    return emb, data


@register("ch06.episode_accuracy")
def _ch06_episode_accuracy(candidate: Any) -> CheckResult:
    """``candidate(emb [M, D], support [E, N, K], query [E, N, Q])`` -> accuracy per episode [E].

    The episodes come from :class:`~oneshot_steel.sampling.EpisodeSampler`; the reference is
    ``per_episode`` of :func:`~oneshot_steel.evaluate.episodic_accuracy` on the same episodes
    (same sampler, same seed), for 1-shot and 5-shot, 3-way and 5-way.
    """
    from ..evaluate import episodic_accuracy
    from ..sampling import EpisodeSampler

    what = "accuracy of each N-way K-shot episode"
    hint = (
        "prototypes = emb[support].mean(dim=2) -> [E, N, D]; queries = emb[query] -> [E, N, Q, D]; "
        "the distance of every query to every prototype of ITS episode, argmin over N, compared "
        "with the query's row index n; average over the N * Q queries of each episode."
    )
    cases = [(3, 1, 5, 40, 0), (3, 5, 4, 30, 1), (5, 1, 3, 25, 2), (5, 5, 2, 20, 3)]
    for n_case, (n_way, k_shot, n_query, n_episodes, seed) in enumerate(cases, start=1):
        emb, data = _ch06_embedded_set(seed)
        eps = EpisodeSampler(data.labels, n_way, k_shot, n_query, seed=seed).sample(n_episodes)
        want = episodic_accuracy(emb, data, n_way, k_shot, n_query, n_episodes, seed).per_episode
        got = _call(candidate, what, hint, emb.clone(), eps.support.clone(), eps.query.clone())
        problem = _close_problem(got, want, 1e-6, 1e-6)
        if problem:
            _fail(what, f"on {n_way}-way {k_shot}-shot episodes (case {n_case}), {problem}", hint)
    return _passed(what, f"{len(cases)} episode settings")


@register("ch06.best_threshold")
def _ch06_best_threshold(candidate: Any) -> CheckResult:
    """``candidate(distances [P], same [P])`` -> a threshold t maximising the accuracy of
    "same iff distance < t". Any t reaching the best accuracy passes; the best accuracy comes
    from :func:`~oneshot_steel.evaluate.best_threshold`. Cases: overlapping classes, separable
    classes, tied (rounded) distances.
    """
    from ..evaluate import best_threshold

    what = "a threshold chosen for the best accuracy"
    hint = (
        "sort the distances; try a threshold between each pair of neighbours (and below the "
        "smallest and above the largest), keep the one with the highest accuracy of "
        "(distances < t) == same."
    )
    g = torch.Generator().manual_seed(0)
    cases = []
    for n, gap in ((200, 0.8), (60, 3.0), (300, 0.3)):
        same = (torch.rand(n, generator=g) < 0.5).float()
        d = (1.0 + gap * (1 - same) + 0.6 * torch.randn(n, generator=g)).abs()
        cases.append((d, same))
    cases.append(((cases[0][0] * 10).round() / 10, cases[0][1]))  # ties
    for n_case, (d, same) in enumerate(cases, start=1):
        _, best = best_threshold(d, same)
        t = _call(candidate, what, hint, d.clone(), same.clone())
        try:
            t = float(t)
        except (TypeError, ValueError):
            _fail(what, f"expected a number, got {t!r:.100}", hint)
        right, best_right = int(((d < t).float() == same).sum()), round(best * len(d))
        if right < best_right:  # counts, not float means: no rounding can fail a right answer
            _fail(
                what,
                f"on case {n_case} ({len(d)} pairs) your threshold {t:.4g} classifies "
                f"{right} pairs right, the best threshold {best_right}",
                hint,
            )
    return _passed(what, f"{len(cases)} sets of pairs")


# ------------------------------------------------------------ chapter 7: baselines
@register("ch07.proportion_ci")
def _ch07_proportion_ci(candidate: Any) -> CheckResult:
    """``candidate(k, n)`` -> ``(p, half_width)`` of ``k`` right answers out of ``n``: exactly
    what :func:`~oneshot_steel.evaluate.mean_ci95` returns for ``k`` ones and ``n - k``
    zeros, computed without building the list (the sample standard deviation of 0/1
    values has a closed form). Cases include the paper's 749/900 and 0/n, n/n."""
    from ..evaluate import mean_ci95

    what = "a proportion with its 95 % confidence half-width"
    hint = (
        "p = k / n; the sample variance (ddof = 1) of k ones and n - k zeros is "
        "n p (1 - p) / (n - 1); the half-width is 1.96 * sqrt(variance / n)."
    )
    cases = [(749, 900), (508, 1800), (17, 20), (0, 50), (30, 30), (1, 2), (5, 1000)]
    for k, n in cases:
        want = mean_ci95(torch.cat([torch.ones(k), torch.zeros(n - k)]))
        result = _call(candidate, what, hint, k, n)
        try:
            got = tuple(float(x) for x in result)
        except (TypeError, ValueError):
            _fail(what, f"expected a pair (p, half_width), got {result!r:.100}", hint)
        if _close_problem(np.array(got), np.array(want), 1e-6, 1e-9):
            _fail(
                what,
                f"for k = {k}, n = {n} expected p = {want[0]:.6f} and half-width "
                f"{want[1]:.6f}, got {got[0]:.6f} and {got[1]:.6f}",
                hint,
            )
    return _passed(what, f"{len(cases)} counts")
