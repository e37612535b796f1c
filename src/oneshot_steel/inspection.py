"""The inspection line of chapters 9 and 10: the network it runs, and the rehearsal that scores it.

- :func:`inspection_net`: the network chapter 9 trains and chapter 10 loads, for a choice of
  ``loss``: ``"best"`` (the package's recipe, self-supervised NT-Xent on texture windows, no
  labels; the default), or the compact net trained with ``"prototypical"`` episodes or the
  paper's ``"contrastive"`` loss on pairs. It gives the training config, the training kind,
  the image size and the run folder, so both chapters train or load the same run.
- :func:`rehearse_inspection`: the inspection protocol for any embeddings. The rejection
  threshold is chosen on simulated enrolments of validation images of the *training* classes
  (one class plays the unknown defect), then kept fixed on simulated enrolments of the unseen
  test classes, where one class is never enrolled. Two networks scored with the same seed
  (and images in the same order) see the same enrolments, so their results pair.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from .config import TrainConfig, recipe
from .data.imageset import ImageSet
from .deploy import rejection_curve
from .evaluate import mean_ci95
from .runs import inspection_run_dir, preset_for, run_key
from .sampling import EpisodeSampler
from .train import train_or_load

__all__ = [
    "INSPECTION_LOSSES",
    "InspectionNet",
    "InspectionScores",
    "inspection_net",
    "nearest_prototype",
    "rehearse_inspection",
]

#: The networks chapter 9 can put on the line (its parameter ``LOSS``); the first is the default.
INSPECTION_LOSSES = ("best", "prototypical", "contrastive")
#: The compact net of the two other choices in each mode: width, embedding size, epochs, and
#: episodes (or batches of 32 pairs) per epoch.
_COMPACT = {"smoke": (8, 16, 2, 5), "quick": (16, 32, 4, 40), "full": (32, 64, 30, 100)}
_KINDS = {"prototypical": "episodic", "contrastive": "siamese"}


@dataclass(frozen=True)
class InspectionNet:
    """How chapter 9's network is trained, on which images, and where its run lives."""

    loss: str  #: one of :data:`INSPECTION_LOSSES`
    kind: str  #: the training kind of :func:`~oneshot_steel.train.train_or_load`
    config: TrainConfig
    image_size: int  #: the images it trains on and reads on the line (pixels)
    run_dir: Path

    @property
    def description(self) -> str:
        """One line for the text: the net and how it learned."""
        c = self.config
        net = f"CompactEmbeddingNet(width={c.width}, embedding_dim={c.embedding_dim})"
        if self.loss == "best":
            how = (
                f"recipe best: NT-Xent on {c.crop_size} px windows (no labels in the loss), "
                "SimpleShot centring and a within-class whitening in the net"
            )
        elif self.loss == "prototypical":
            how = f"prototypical {c.n_way}-way {c.k_shot}-shot episodes"
        else:
            how = f"contrastive loss on pairs, margin {c.margin:g}"
        return f"{net}, {how}, {self.image_size} px images"

    def train_or_load(
        self,
        train: ImageSet,
        val: ImageSet,
        *,
        device: torch.device | str | None = None,
        progress: bool = True,
    ) -> nn.Module:
        """The trained net: loaded from :attr:`run_dir` when it holds this run, else trained.

        ``train`` and ``val`` must be images of the training classes only, at
        :attr:`image_size`."""
        if train.image_size != self.image_size or val.image_size != self.image_size:
            raise ValueError(
                f"the {self.loss} net trains on {self.image_size} px images; got "
                f"{train.image_size} px (train) and {val.image_size} px (val)"
            )
        return train_or_load(
            self.config, train, val, self.run_dir, kind=self.kind, device=device, progress=progress
        )


def inspection_net(
    mode: str,
    root: str | os.PathLike,
    train_classes: Sequence[str],
    *,
    loss: str = "best",
    n_way: int = 3,
    k_shot: int = 1,
    margin: float = 2.0,
    seed: int = 0,
) -> InspectionNet:
    """Chapter 9's network for run mode ``mode``, with its run under ``root`` (``runs_dir``).

    ``"best"`` is the recipe at the mode's preset (:func:`~oneshot_steel.runs.preset_for`) and
    image size; its validation episodes use at most as many classes as ``train_classes`` has.
    ``n_way`` and ``k_shot`` shape the prototypical episodes, ``margin`` the contrastive loss;
    the recipe ignores all three. The run folder is keyed by the config, the training classes
    and the image size, so another scenario never loads a net it did not train.
    """
    if loss not in INSPECTION_LOSSES:
        raise ValueError(f"loss must be one of {list(INSPECTION_LOSSES)}; got {loss!r}")
    preset = preset_for(mode)
    train_classes = list(train_classes)
    if loss == "best":
        best = recipe("best")
        config = TrainConfig.recipe("best", preset, seed=seed)
        config = replace(config, n_way=min(config.n_way, len(train_classes)))
        kind, image_size = best.kind, best.size(preset)
    else:
        width, dim, epochs, steps = _COMPACT[mode]
        base = TrainConfig(
            model="compact", width=width, embedding_dim=dim, epochs=epochs, lr=1e-3, seed=seed
        )
        if loss == "prototypical":
            config = replace(
                base,
                n_way=n_way,
                k_shot=k_shot,
                n_query=5,
                episodes_per_epoch=steps,
                val_episodes=50,
            )
        else:
            config = replace(
                base, margin=margin, batch_size=32, pairs_per_epoch=32 * steps, val_pairs=256
            )
        kind, image_size = _KINDS[loss], 100
    key = run_key(config, train_classes, image_size)
    return InspectionNet(loss, kind, config, image_size, inspection_run_dir(root, loss, key))


# ----------------------------------------------------------------------------- the rehearsal
def nearest_prototype(
    emb: torch.Tensor, support: torch.Tensor, queries: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance of each query to its enrolment's nearest prototype, and that prototype's row.

    ``emb [M, D]``; ``support [E, N, K]`` and ``queries [E, Q]`` are indices into ``emb``,
    one row per enrolment; a prototype is the mean of its class's K support embeddings.
    """
    protos = emb[support].mean(dim=2)  # [E, N, D]
    d = torch.cdist(emb[queries], protos, compute_mode="donot_use_mm_for_euclid_dist")
    values, rows = d.min(dim=2)
    return values, rows


@dataclass
class InspectionScores:
    """One network on the rehearsal. Rates are shares in [0, 1]; the tensors hold one value
    per simulated enrolment of the test classes, paired across networks with the same seed."""

    tau: float  #: the threshold, least false accepts + false rejects on validation
    far_val: float  #: false accepts on validation at ``tau``
    frr_val: float  #: false rejects on validation at ``tau``
    closed_set: torch.Tensor  #: known parts whose nearest prototype is their class (no threshold)
    right: torch.Tensor  #: known parts accepted *and* given the right class
    false_reject: torch.Tensor  #: known parts rejected
    false_accept: torch.Tensor  #: parts of the never-enrolled class accepted
    n_enrolled: int
    k_shot: int
    seed: int
    distances: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)

    @property
    def n_episodes(self) -> int:
        """The number of simulated enrolments of the test classes."""
        return len(self.right)

    @property
    def chance_closed(self) -> float:
        """Chance of the closed-set accuracy: a random pick among the enrolled classes."""
        return 1.0 / self.n_enrolled

    @property
    def balanced(self) -> torch.Tensor:
        """Balanced accept/reject accuracy, ``1 - (FAR + FRR) / 2``, per enrolment. Chance is
        0.5: a rule that ignores the part accepts known and unknown parts alike."""
        return 1.0 - (self.false_accept + self.false_reject) / 2

    def summary(self) -> dict[str, tuple[float, float]]:
        """Mean and 95 % CI half-width over enrolments of each test-class rate."""
        rates = {
            "closed-set accuracy": self.closed_set,
            "known parts, right class": self.right,
            "false rejects": self.false_reject,
            "false accepts": self.false_accept,
            "balanced accept/reject accuracy": self.balanced,
        }
        return {name: mean_ci95(v) for name, v in rates.items()}


def rehearse_inspection(
    emb_val: torch.Tensor,
    val_labels: torch.Tensor,
    emb_test: torch.Tensor,
    test_labels: torch.Tensor,
    unknown: int,
    *,
    k_shot: int,
    n_episodes: int,
    seed: int = 0,
    n_query_val: int = 10,
    n_query_test: int = 20,
) -> InspectionScores:
    """Chapter 9's protocol on embeddings of validation images (training classes) and test
    images (unseen classes); ``unknown`` is the label of the test class never enrolled.

    Validation: each enrolment enrols ``k_shot`` images of all but the last of
    ``n_enrolled + 1`` training classes and shows ``n_query_val`` held-out images of each;
    ``tau`` minimises false accepts + false rejects over all of them. Test: each enrolment
    enrols ``k_shot`` images of every other test class, sorts ``n_query_test`` further images
    of each and ``n_query_test`` of the unknown class, with ``tau`` fixed.
    """
    is_known = test_labels != unknown
    if bool(is_known.all()) or not bool(is_known.any()):
        raise ValueError(f"unknown={unknown} must be one of several test labels")
    n_enrolled = len(torch.unique(test_labels[is_known]))
    if len(torch.unique(val_labels)) < n_enrolled + 1:
        raise ValueError(
            f"the threshold rehearsal enrols {n_enrolled} validation classes and keeps one "
            f"back: it needs {n_enrolled + 1} classes, the labels hold "
            f"{len(torch.unique(val_labels))}"
        )
    eps = EpisodeSampler(
        val_labels, n_way=n_enrolled + 1, k_shot=k_shot, n_query=n_query_val, seed=seed
    ).sample(n_episodes)
    support = eps.support[:, :-1]  # the last class of each enrolment is never enrolled
    d_known_val, _ = nearest_prototype(emb_val, support, eps.query[:, :-1].flatten(1))
    d_unknown_val, _ = nearest_prototype(emb_val, support, eps.query[:, -1])
    curve = rejection_curve(d_known_val, d_unknown_val)
    i = int(torch.argmin(curve.false_accept + curve.false_reject))
    tau = float(curve.thresholds[i])

    line = torch.cat([emb_test[is_known], emb_test[~is_known]])  # known classes first
    n_known, n_unknown = int(is_known.sum()), int((~is_known).sum())
    eps = EpisodeSampler(
        test_labels[is_known], n_way=n_enrolled, k_shot=k_shot, n_query=n_query_test, seed=seed
    ).sample(n_episodes)
    g = torch.Generator().manual_seed(seed)
    e = eps.support.shape[0]
    unknown_q = n_known + torch.rand(e, n_unknown, generator=g).argsort(dim=1)[:, :n_query_test]
    d_known, nearest = nearest_prototype(line, eps.support, eps.query.flatten(1))
    correct = nearest == torch.arange(n_enrolled).repeat_interleave(n_query_test)
    d_unknown, _ = nearest_prototype(line, eps.support, unknown_q)
    accepted = d_known <= tau
    return InspectionScores(
        tau=tau,
        far_val=float(curve.false_accept[i]),
        frr_val=float(curve.false_reject[i]),
        closed_set=correct.float().mean(dim=1),
        right=(accepted & correct).float().mean(dim=1),
        false_reject=(~accepted).float().mean(dim=1),
        false_accept=(d_unknown <= tau).float().mean(dim=1),
        n_enrolled=n_enrolled,
        k_shot=k_shot,
        seed=seed,
        distances={
            "known_val": d_known_val,
            "unknown_val": d_unknown_val,
            "known_test": d_known,
            "unknown_test": d_unknown,
        },
    )
