"""Evaluation protocols, each reported by name with its chance level.

- :func:`pair_verification`: the paper's 83.22 % protocol -- same/different on random pairs
  of the unseen classes, "same" iff the distance is below a threshold (chance 50 %).
- :func:`episodic_accuracy`: N-way K-shot episodes, nearest support (K = 1) or nearest class
  mean (K > 1), mean and 95 % confidence interval over many seeded episodes (chance 1/N).
- (the deployable classifier that enrols classes and rejects unknown parts is
  :class:`oneshot_steel.classifier.OneShotClassifier`)
- :func:`simpleshot`: SimpleShot's feature normalisation, before any of the above.

Everything works on embeddings: a model is run ONCE over the images (:func:`embed`), and
every function also accepts a precomputed ``[N, D]`` tensor instead of a model, so raw pixels
(``images.flatten(1).float()``) give the no-learning baseline with exactly the same code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score, roc_curve
from torch import nn

from .data.imageset import ImageSet
from .embedding import _embeddings, embed
from .sampling import EpisodeSampler, PairSampler

__all__ = [
    "EpisodicResult",
    "PairVerificationResult",
    "best_threshold",
    "embed",
    "episode_confusion",
    "episodic_accuracy",
    "mean_ci95",
    "paired_difference",
    "pair_verification",
    "simpleshot",
]

#: The paper's decision threshold: its contrastive margin m = 2.
PAPER_THRESHOLD = 2.0
#: Up to this many images, episodes are scored from a float64 Gram matrix (128 MiB at most).
_GRAM_MAX_IMAGES = 4096


def mean_ci95(values: Sequence[float] | torch.Tensor | np.ndarray) -> tuple[float, float]:
    """``(mean, 1.96 * std / sqrt(n))``: the normal-approximation 95 % confidence half-width
    of the mean (sample std, ddof = 1; NaN for a single value, where no spread is known)."""
    v = np.asarray(torch.as_tensor(values, dtype=torch.float64).cpu(), dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("mean_ci95 needs at least one value")
    ci = 1.96 * v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else float("nan")
    return float(v.mean()), float(ci)


@dataclass(frozen=True)
class PairedDifference:
    """Method a minus method b, scored on the same episodes: mean and 95 % CI half-width."""

    mean: float
    ci95: float

    @property
    def verdict(self) -> str:
        """``"ahead of"``, ``"behind"`` or ``"level with"``: a is ahead of (behind) b when the
        whole confidence interval of the difference lies above (below) zero."""
        if self.mean - self.ci95 > 0:
            return "ahead of"
        return "behind" if self.mean + self.ci95 < 0 else "level with"


def paired_difference(a: torch.Tensor, b: torch.Tensor) -> PairedDifference:
    """The paired difference ``a - b`` of per-episode scores of two methods.

    Why paired: when both methods saw the same episodes (same seed, same labels), most of the
    spread of each mean is which episodes were drawn, shared by both; the differences cancel
    it, so the CI is far narrower than comparing two means with their own CIs."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if a.shape != b.shape:
        raise ValueError(
            f"paired scores need the same episodes: got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return PairedDifference(*mean_ci95(a.double() - b.double()))


def simpleshot(features: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Centre ``features`` on the mean of ``reference`` and scale each row to unit length.

    SimpleShot's "CL2N" (Wang et al. 2019). ``reference`` must be features of the TRAINING
    classes (never the test classes). Why it helps: the training-class mean is the direction
    every image shares, whatever its defect; removing it and comparing directions (not
    lengths) leaves what differs between defects. Centring alone changes no Euclidean
    distance; it matters because of the normalisation that follows.
    """
    if features.ndim != 2 or reference.ndim != 2 or features.shape[1] != reference.shape[1]:
        raise ValueError(
            f"simpleshot needs [N, D] features and [M, D] reference features; got "
            f"{tuple(features.shape)} and {tuple(reference.shape)}"
        )
    return F.normalize(features.float() - reference.float().mean(dim=0), dim=1)


# ----------------------------------------------------------------------------- episodes
@dataclass
class EpisodicResult:
    """Accuracy of N-way K-shot episodes: mean, 95 % CI half-width and every episode's score."""

    mean: float
    ci95: float
    n_episodes: int
    n_way: int
    k_shot: int
    n_query: int
    chance: float
    classes: list[str]
    seed: int
    per_episode: torch.Tensor = field(repr=False)
    #: query decisions summed over all episodes, rows: true class, columns: predicted class,
    #: both in the order of ``classes`` (None where a scorer does not record them)
    confusion: list[list[int]] | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls,
        per_episode: torch.Tensor,
        imageset: ImageSet,
        n_way: int,
        k_shot: int,
        n_query: int,
        seed: int,
        confusion: torch.Tensor | None = None,
    ) -> EpisodicResult:
        """The result of episodes scored ``per_episode`` (drawn from ``imageset``'s classes)."""
        mean, ci = mean_ci95(per_episode)
        return cls(
            mean=mean,
            ci95=ci,
            n_episodes=len(per_episode),  # as drawn (fewer only under the TEST-ONLY knob)
            n_way=n_way,
            k_shot=k_shot,
            n_query=n_query,
            chance=1.0 / n_way,
            classes=list(imageset.classes),
            seed=seed,
            per_episode=per_episode,
            confusion=None if confusion is None else confusion.tolist(),
        )

    def __str__(self) -> str:
        return (
            f"{self.n_way}-way {self.k_shot}-shot: {100 * self.mean:.1f} % ± "
            f"{100 * self.ci95:.1f} (95 % CI, {self.n_episodes:,} episodes; "
            f"chance {100 * self.chance:.1f} %)"
        )


def episode_confusion(
    episode_classes: torch.Tensor, predicted: torch.Tensor, n_classes: int
) -> torch.Tensor:
    """Confusion matrix ``[C, C]`` (rows: true class, columns: predicted class) of every query
    decision of a batch of episodes: ``episode_classes [E, N]`` the class labels of each
    episode's positions, ``predicted [E, N*Q]`` the predicted position of each query (query
    ``i`` is of position ``i // Q``)."""
    n_query = predicted.shape[1] // episode_classes.shape[1]
    true = episode_classes.repeat_interleave(n_query, dim=1)
    pred = episode_classes.gather(1, predicted.to(episode_classes.device))
    flat = (true * n_classes + pred).flatten().cpu()
    return torch.bincount(flat, minlength=n_classes * n_classes).view(n_classes, n_classes)


def _episode_predictions(
    emb: torch.Tensor, support: torch.Tensor, query: torch.Tensor, use_gram: bool = True
) -> torch.Tensor:
    """Predicted class position ``[E, N*Q]`` of every query of every episode
    (``support [E, N, K]``, ``query [E, N, Q]`` image indices; query ``i`` is of position
    ``i // Q``).

    A query goes to the class whose prototype p (mean of the K support embeddings) minimises
    ``||x - p||^2 = ||x||^2 - 2 x.p + ||p||^2``. The first term is the same for every class,
    and ``x.p`` and ``||p||^2`` are averages of entries of the Gram matrix ``G = X X^T``
    (float64), computed once for all images: scoring an episode is then a few look-ups,
    whatever the embedding size (raw pixels have 10,000 dimensions).
    """
    e = support.shape[0]
    if not use_gram:  # for more images than fit a Gram matrix: gather embeddings instead
        per_episode = 4 * emb.shape[1] * support.shape[1] * (support.shape[2] + query.shape[2])
        chunk = max(1, (256 << 20) // per_episode)
        out = []
        for s in range(0, e, chunk):
            protos = emb[support[s : s + chunk]].mean(dim=2)  # [e, N, D]
            queries = emb[query[s : s + chunk]].flatten(1, 2)  # [e, N*Q, D]
            dist = torch.cdist(queries, protos, compute_mode="donot_use_mm_for_euclid_dist")
            out.append(dist.argmin(dim=2))
        return torch.cat(out)
    x = emb.double()
    gram = x @ x.T
    out = []
    for s in range(0, e, 4096):
        sup = support[s : s + 4096]  # [e, N, K]
        qry = query[s : s + 4096].flatten(1, 2)  # [e, N*Q]
        xp = gram[qry[:, :, None, None], sup[:, None, :, :]].mean(dim=-1)  # [e, N*Q, N]
        pp = gram[sup[..., :, None], sup[..., None, :]].mean(dim=(-2, -1))  # [e, N]
        score = pp[:, None, :] - 2 * xp  # ||x - p||^2 - ||x||^2
        out.append(score.argmin(dim=2))
    return torch.cat(out)


def episodic_accuracy(
    model_or_embeddings: nn.Module | torch.Tensor,
    imageset: ImageSet,
    n_way: int,
    k_shot: int,
    n_query: int,
    n_episodes: int,
    seed: int = 0,
    batch_size: int = 512,
    device: torch.device | str | None = None,
    *,
    query_set: ImageSet | None = None,
    query_embeddings: torch.Tensor | None = None,
) -> EpisodicResult:
    """N-way K-shot accuracy: each query goes to the nearest class mean of the support
    embeddings (the support image itself when K = 1), Euclidean distance.

    Every image is embedded once; the episodes are then scored in batched chunks from the
    embeddings' Gram matrix, so 10,000 episodes cost about as much as sampling them.

    With ``query_set`` (same classes, in the same order) the support comes from ``imageset``
    and the queries from ``query_set``: one-shot across conditions, e.g. the support window
    recorded at one motor load and the queries at another. Pass ``query_embeddings`` too
    when giving embeddings instead of a model.
    """
    emb = _embeddings(model_or_embeddings, len(imageset), imageset, batch_size, device)
    if emb.device.type == "mps":  # no float64 on MPS
        emb = emb.cpu()
    labels = imageset.labels.to(emb.device)
    query_labels = None
    if query_set is not None:
        if query_set.classes != imageset.classes:
            raise ValueError(
                f"query_set must hold the classes of the support set in the same order: "
                f"support {imageset.classes}, queries {query_set.classes}"
            )
        if query_embeddings is None:
            if not isinstance(model_or_embeddings, nn.Module):
                raise ValueError("pass query_embeddings (or a model) together with query_set")
            query_embeddings = model_or_embeddings
        q_emb = _embeddings(query_embeddings, len(query_set), query_set, batch_size, device)
        query_labels = query_set.labels.to(emb.device)
        emb = torch.cat([emb, q_emb.to(emb.device)])  # queries index past the support pool
    elif query_embeddings is not None:
        raise ValueError("query_embeddings needs query_set for its labels")
    sampler = EpisodeSampler(
        labels,
        n_way,
        k_shot,
        n_query,
        seed=seed,
        class_names=imageset.classes,
        query_labels=query_labels,
    )
    eps = sampler.sample(n_episodes)
    query = eps.query if query_set is None else eps.query + len(imageset)
    use_gram = emb.shape[0] <= _GRAM_MAX_IMAGES
    pred = _episode_predictions(emb, eps.support, query, use_gram)
    target = torch.arange(n_way, device=pred.device).repeat_interleave(n_query)
    acc = (pred == target).float().mean(dim=1).cpu()
    confusion = episode_confusion(eps.classes, pred, len(imageset.classes))
    return EpisodicResult.of(acc, imageset, n_way, k_shot, n_query, seed, confusion)


# ----------------------------------------------------------------------------- pairs
def best_threshold(distances: torch.Tensor, positive: torch.Tensor) -> tuple[float, float]:
    """``(threshold, accuracy)`` maximising the accuracy of "positive iff distance < threshold".

    All thresholds are tried at once: after sorting, predicting the first i distances
    positive scores ``(positives among them + negatives after them) / n``. The threshold is
    placed midway between neighbouring distances; ties keep the smallest threshold.
    """
    d, order = torch.sort(distances.double().cpu())
    pos = positive.double().cpu()[order]
    n = d.numel()
    tp = torch.cat([torch.zeros(1, dtype=torch.float64), pos.cumsum(0)])  # first i predicted +
    tn = (1 - pos).sum() - torch.cat([torch.zeros(1, dtype=torch.float64), (1 - pos).cumsum(0)])
    acc = (tp + tn) / n
    cuts = torch.cat(
        [d[:1] - 1.0, (d[:-1] + d[1:]) / 2, d[-1:] + 1.0]
    )  # n + 1 candidate thresholds
    valid = torch.ones(n + 1, dtype=torch.bool)
    valid[1:n] = d[1:] > d[:-1]  # a cut between equal distances cannot separate them
    acc = torch.where(valid, acc, torch.tensor(-1.0, dtype=torch.float64))
    i = int(acc.argmax())
    return float(cuts[i]), float(acc[i])


@dataclass
class PairVerificationResult:
    """The paper's same/different protocol on pairs of one set of classes."""

    accuracy: float  #: at ``threshold``
    threshold: float
    n_pairs: int
    n_same: int
    auc: float  #: ROC AUC of -distance as a "same" score (threshold-free)
    eer: float  #: equal error rate (false accepts = false rejects)
    chance: float = 0.5
    val_threshold: float | None = None  #: chosen on validation pairs of the training classes
    val_accuracy: float | None = None  #: on those validation pairs
    accuracy_at_val_threshold: float | None = None  #: on the test pairs
    distances: torch.Tensor = field(default=None, repr=False)
    same: torch.Tensor = field(default=None, repr=False)

    def __str__(self) -> str:
        s = (
            f"pair verification: {100 * self.accuracy:.1f} % at threshold {self.threshold:g} "
            f"({self.n_pairs:,} pairs, {self.n_same} same-class; chance 50 %), "
            f"ROC AUC {self.auc:.3f}, EER {100 * self.eer:.1f} %"
        )
        if self.val_threshold is not None:
            s += (
                f"; threshold {self.val_threshold:.3f} chosen on validation: "
                f"{100 * self.accuracy_at_val_threshold:.1f} %"
            )
        return s


def _pairs(emb: torch.Tensor, imageset: ImageSet, n_pairs: int, seed: int):
    labels = imageset.labels.to(emb.device)
    sampler = PairSampler(labels, n_pairs, 0.5, seed, class_names=imageset.classes)
    i1, i2, same = sampler.sample_epoch(0)
    return torch.linalg.vector_norm(emb[i1] - emb[i2], dim=1).cpu(), same.cpu()


def pair_verification(
    model_or_embeddings: nn.Module | torch.Tensor,
    imageset: ImageSet,
    n_pairs: int = 900,
    threshold: float | None = None,
    seed: int = 0,
    *,
    val_set: ImageSet | None = None,
    val_embeddings: torch.Tensor | None = None,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> PairVerificationResult:
    """Same/different verification on ``n_pairs`` random pairs of ``imageset`` (about half
    same-class), predicted "same" iff distance < ``threshold`` (default: the margin, 2.0).

    With ``val_set`` (held-out images of the TRAINING classes; pass ``val_embeddings`` too
    when giving embeddings instead of a model) a second threshold is chosen to maximise
    accuracy on validation pairs and applied to the test pairs. A threshold is never tuned
    on the test classes.
    """
    threshold = PAPER_THRESHOLD if threshold is None else float(threshold)
    emb = _embeddings(model_or_embeddings, len(imageset), imageset, batch_size, device)
    d, same = _pairs(emb, imageset, n_pairs, seed)
    y = same.numpy().astype(bool)
    both = 0 < y.sum() < y.size
    auc = float(roc_auc_score(y, -d.numpy())) if both else float("nan")
    eer = float("nan")
    if both:
        fpr, tpr, _ = roc_curve(y, -d.numpy())
        i = int(np.argmin(np.abs((1 - tpr) - fpr)))
        eer = float((fpr[i] + 1 - tpr[i]) / 2)
    result = PairVerificationResult(
        accuracy=float(((d < threshold).float() == same).float().mean()),
        threshold=threshold,
        n_pairs=n_pairs,
        n_same=int(same.sum()),
        auc=auc,
        eer=eer,
        distances=d,
        same=same,
    )
    if val_set is not None:
        if val_embeddings is None:
            if not isinstance(model_or_embeddings, nn.Module):
                raise ValueError("pass val_embeddings (or a model) together with val_set")
            val_embeddings = embed(model_or_embeddings, val_set, batch_size, device)
        v_emb = _embeddings(val_embeddings, len(val_set), val_set, batch_size, device)
        vd, vsame = _pairs(v_emb, val_set, n_pairs, seed + 1)
        result.val_threshold, result.val_accuracy = best_threshold(vd, vsame)
        result.accuracy_at_val_threshold = float(
            ((d < result.val_threshold).float() == same).float().mean()
        )
    elif val_embeddings is not None:
        raise ValueError("val_embeddings needs val_set for its labels")
    return result


# ----------------------------------------------------------------------------- classifier
