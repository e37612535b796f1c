"""Named checks of part 2 (chapters 6-9: evaluation, baselines, better models, inspection).

Imported by the package's ``__init__``, which registers them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._core import (
    CheckResult,
    _as_array,
    _call,
    _close_problem,
    _fail,
    _passed,
    check_function,
    register,
)


# ------------------------------------------------------------ chapter 6: one-shot evaluation
def _ch06_embedded_set(seed: int, n_classes: int = 5, per_class: int = 24, dim: int = 8):
    """Overlapping Gaussian clusters as embeddings, with an ImageSet carrying their labels."""
    from ..data.imageset import ImageSet

    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    centres = 1.5 * torch.randn(n_classes, dim, generator=g)
    emb = centres[labels] + torch.randn(len(labels), dim, generator=g)  # errors do happen
    n = len(labels)
    data = ImageSet(torch.zeros(n, 1, 4, 4, dtype=torch.uint8), labels,
                    [f"c{i}" for i in range(n_classes)], [f"x{i}" for i in range(n)])
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
            _fail(what, f"on case {n_case} ({len(d)} pairs) your threshold {t:.4g} classifies "
                  f"{right} pairs right, the best threshold {best_right}", hint)
    return _passed(what, f"{len(cases)} sets of pairs")


# ------------------------------------------------------------ chapter 7: baselines
@register("ch07.knn_predict")
def _ch07_knn_predict(candidate: Any, data: Any = None) -> CheckResult:
    """``candidate(x [N, D], labels [N], support_idx [C])`` -> predicted class of every image.

    The rule of the paper's KNN baseline: each image gets the label of its nearest support
    (Euclidean distance), the supports being one image per class. The reference is
    :func:`~oneshot_steel.baselines.knn_paper_protocol` (scikit-learn 1-NN) on the same pixels;
    the confusion matrices must be equal. Cases: random images with the supports given in
    class order and out of it, and (when ``data`` is given) the chapter's own images at 32x32
    with the paper's supports ``Cr_1`` ... ``Sc_1``.
    """
    from pathlib import Path

    from sklearn.metrics import confusion_matrix

    from ..baselines import knn_paper_protocol, raw_pixels
    from ..data.imageset import ImageSet

    what = "1-nearest-neighbour predictions of the paper's KNN protocol"
    hint = (
        "d = torch.cdist(x, x[support_idx]) gives [N, C] distances; the nearest support is "
        "d.argmin(dim=1), and its CLASS is labels[support_idx][nearest] (the supports need not "
        "be listed in class order)."
    )
    g = torch.Generator().manual_seed(0)
    cases = []
    for n_cls, per, size in ((4, 15, 8), (6, 10, 6)):
        n = n_cls * per
        images = torch.randint(0, 256, (n, 1, size, size), generator=g, dtype=torch.uint8)
        labels = torch.arange(n_cls).repeat_interleave(per)
        first = torch.arange(n_cls) * per + torch.randint(0, per, (n_cls,), generator=g)
        support = first[torch.randperm(n_cls, generator=g)]  # out of class order on purpose
        named = ImageSet(
            images, labels, [f"c{i}" for i in range(n_cls)], [f"img{i}.bmp" for i in range(n)]
        )
        ref = knn_paper_protocol(named, size=size, supports=[f"img{int(i)}" for i in support])
        cases.append((raw_pixels(images, size), labels, support, ref))
    if data is not None:
        ref = knn_paper_protocol(data, size=32)
        stems = {Path(p).stem: i for i, p in enumerate(data.paths)}
        support = torch.tensor([stems[Path(p).stem] for p in ref.supports])
        cases.append((raw_pixels(data.images, 32), data.labels.clone(), support, ref))
    for n_case, (x, labels, support, ref) in enumerate(cases, start=1):
        got = _call(candidate, what, hint, x.clone(), labels.clone(), support.clone())
        try:
            pred = _as_array(got).astype(np.int64).ravel()
        except (TypeError, ValueError):
            _fail(what, f"expected a tensor of class indices, got {type(got).__name__}", hint)
        if pred.shape != (len(labels),):
            _fail(what, f"expected {len(labels)} predictions, got shape {tuple(pred.shape)}", hint)
        cm = confusion_matrix(labels.numpy(), pred, labels=list(range(len(ref.classes))))
        if cm.tolist() != ref.confusion:
            right = int(np.trace(cm))
            _fail(
                what,
                f"on case {n_case} of {len(cases)} you classify {right} of {len(labels)} "
                f"images right, the reference {ref.n_correct} (confusion matrices differ)",
                hint,
            )
    return _passed(what, f"{len(cases)} image sets")


# ------------------------------------------------------------ chapter 9: inspection in practice
@register("ch09.cheapest_threshold")
def _ch09_cheapest_threshold(candidate: Any) -> CheckResult:
    """``candidate(d_known, d_unknown, cost_fa, cost_fr)`` -> a rejection threshold t.

    A part is accepted iff its distance is <= t (the rule of ``OneShotClassifier.predict``).
    Any t whose cost ``cost_fa * (unknown accepted) + cost_fr * (known rejected)`` equals the
    minimum of :func:`~oneshot_steel.deploy.cheapest_threshold` passes. Cases: overlapping
    distances at equal, false-accept-heavy and false-reject-heavy costs; tied distances;
    separable distances (the cost can reach 0).
    """
    from ..deploy import cheapest_threshold

    what = "the cheapest rejection threshold"
    hint = (
        "try a threshold between each pair of neighbouring distances (and one below and one "
        "above all of them); at each, count the unknown parts with d <= t (false accepts) and "
        "the known parts with d > t (false rejects); keep the threshold of the lowest "
        "cost_fa * false_accepts + cost_fr * false_rejects."
    )
    g = torch.Generator().manual_seed(0)
    known = (1.0 + 0.4 * torch.randn(120, generator=g)).abs()
    unknown = (1.8 + 0.5 * torch.randn(60, generator=g)).abs()
    cases = [(known, unknown, 1.0, 1.0), (known, unknown, 10.0, 1.0), (known, unknown, 1.0, 10.0)]
    cases.append(((known * 5).round() / 5, (unknown * 5).round() / 5, 3.0, 1.0))  # ties
    cases.append((0.5 * known, unknown + 2.0, 1.0, 1.0))  # separable
    for n_case, (dk, du, cfa, cfr) in enumerate(cases, start=1):
        _, best = cheapest_threshold(dk, du, cfa, cfr)
        t = _call(candidate, what, hint, dk.clone(), du.clone(), cfa, cfr)
        try:
            t = float(t)
        except (TypeError, ValueError):
            _fail(what, f"expected a number, got {t!r:.100}", hint)
        fa, fr = int((du <= t).sum()), int((dk > t).sum())
        cost = cfa * fa + cfr * fr
        if cost > best + 1e-9:
            _fail(
                what,
                f"on case {n_case} (costs {cfa:g} per false accept, {cfr:g} per false reject) "
                f"your threshold {t:.4g} gives {fa} false accepts and {fr} false rejects, cost "
                f"{cost:g}; the cheapest threshold costs {best:g}",
                hint,
            )
    return _passed(what, f"{len(cases)} cases")


# ------------------------------------------------------------ chapter 8: better models
@register("ch08.simpleshot")
def _ch08_simpleshot(candidate: Any) -> CheckResult:
    """``candidate(features [N, D], reference [M, D])`` -> centred on the reference mean, unit
    rows; compared with :func:`~oneshot_steel.experiments.simpleshot` on random inputs,
    including a reference whose mean is far from zero (forgetting to centre then fails)."""
    from ..evaluate import simpleshot

    g = torch.Generator().manual_seed(8)
    cases = [
        (torch.randn(12, 5, generator=g), torch.randn(30, 5, generator=g)),
        (torch.rand(20, 16, generator=g) + 3.0, torch.rand(7, 16, generator=g) + 2.5),
    ]
    return check_function(
        candidate,
        simpleshot,
        cases,
        "SimpleShot normalisation",
        hint="subtract reference.mean(dim=0) from every feature row, then divide each row by "
        "its own Euclidean norm (torch.nn.functional.normalize(x, dim=1)).",
    )
