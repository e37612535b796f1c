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
    check_function,
)
from .registry import register


# ------------------------------------------------------------ chapter 5: training
@register("ch05.pair_loss")
def _ch05_pair_loss(candidate: Any) -> CheckResult:
    """``candidate(net, images, idx1, idx2, same, margin)``: mean contrastive loss of the pairs.

    No augmentation: the images are scaled with :func:`~oneshot_steel.augment.to_model_input`.
    The reference embeds both sides in one pass of a small paper branch (32 px, no BatchNorm,
    so one pass or two give the same numbers) and applies
    :func:`~oneshot_steel.losses.contrastive_loss`; three batches, margins 1, 2 and 4.
    """
    from ..augment import to_model_input
    from ..losses import contrastive_loss, euclidean_distance
    from ..models import PaperEmbeddingNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = PaperEmbeddingNet(image_size=32).eval()
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20, 1, 32, 32), generator=g, dtype=torch.uint8)

    def reference(net, images, idx1, idx2, same, margin):
        e1, e2 = net(to_model_input(torch.cat([images[idx1], images[idx2]]))).chunk(2)
        return contrastive_loss(euclidean_distance(e1, e2), same, margin)

    inputs = []
    for n, margin in ((8, 2.0), (16, 1.0), (6, 4.0)):
        idx1 = torch.randint(0, 20, (n,), generator=g)
        idx2 = (idx1 + 1 + torch.randint(0, 19, (n,), generator=g)) % 20
        same = (torch.rand(n, generator=g) < 0.5).float()
        same[:2] = torch.tensor([1.0, 0.0])  # both kinds of pair in every batch
        inputs.append((net, images, idx1, idx2, same, margin))
    with torch.no_grad():
        return check_function(
            candidate,
            reference,
            inputs,
            "contrastive loss of a batch of pairs",
            rtol=1e-4,
            atol=1e-5,
            hint="x = torch.cat([images[idx1], images[idx2]]).float() / 127.5 - 1; e1, e2 = "
            "net(x).chunk(2); D = ||e1 - e2||; mean of same * D^2 / 2 + (1 - same) * "
            "max(0, margin - D)^2 / 2.",
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
