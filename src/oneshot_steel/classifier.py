"""Enrol defect classes from a few images, then classify or reject new ones: the deployable
one-shot classifier (chapters 6 and 9).

:class:`OneShotClassifier` stores one prototype per class, the mean embedding of its enrolled
images, and labels a query with the nearest prototype, or rejects it (-1) when even that is
farther than a threshold chosen on validation images
(:meth:`OneShotClassifier.choose_rejection_threshold`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from .data.imageset import ImageSet
from .embedding import embed, finite
from .evaluate import best_threshold

__all__ = ["OneShotClassifier"]


class OneShotClassifier:
    """Enrol a few labelled images, then classify new ones by nearest class mean.

    ``predict`` returns label -1 ("matches no enrolled class") when the nearest class is
    farther than ``threshold`` (None: never reject). Enrolment adds up: a second
    :meth:`enroll` adds its classes to those already enrolled, and more images of an
    enrolled label move that class's prototype to the mean of all its images. To start
    over, make a new classifier.
    """

    def __init__(
        self,
        model: nn.Module,
        device: torch.device | str | None = None,
        threshold: float | None = None,
        batch_size: int = 512,
    ):
        self.model, self.device, self.batch_size = model, device, batch_size
        self.threshold = threshold
        self.prototypes: torch.Tensor | None = None  #: ``[C, D]``, one row per enrolled label
        self.labels: torch.Tensor | None = None  #: ``[C]`` the enrolled labels, ascending
        self._sums: dict[int, torch.Tensor] = {}
        self._counts: dict[int, int] = {}
        self._names: dict[int, str] = {}

    @property
    def threshold(self) -> float | None:
        """Reject a query whose nearest prototype is farther than this (None: never)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        if value is not None and not (math.isfinite(float(value)) and float(value) >= 0):
            raise ValueError(
                f"threshold must be a finite distance >= 0, or None to never reject; got "
                f"{value!r} (a NaN threshold would silently switch rejection off)"
            )
        self._threshold = None if value is None else float(value)

    @property
    def class_names(self) -> list[str] | None:
        """The name of each enrolled label, in the order of :attr:`labels` (None: unnamed)."""
        if self.labels is None or any(int(k) not in self._names for k in self.labels):
            return None
        return [self._names[int(k)] for k in self.labels]

    def _embed(self, images: ImageSet | torch.Tensor) -> torch.Tensor:
        emb = embed(self.model, images, self.batch_size, self.device)
        return finite(emb, f"the embeddings by {type(self.model).__name__}")

    def enroll(
        self,
        images: ImageSet | torch.Tensor,
        labels: torch.Tensor | Sequence[int] | None = None,
        class_names: Sequence[str] | Mapping[int, str] | None = None,
    ) -> OneShotClassifier:
        """Add one prototype per label: the mean embedding of its images (K = 1: the image).

        ``labels`` are integers >= 0 (-1 is the rejection value of :meth:`predict`);
        ``class_names`` names them, indexed by label (a sequence like ``ImageSet.classes``,
        or a mapping ``{label: name}``). An ImageSet brings both. A label already enrolled
        under another name is refused: enrol from one ImageSet that holds every class, or
        give each class its own label.
        """
        if isinstance(images, ImageSet):
            labels = images.labels if labels is None else labels
            class_names = images.classes if class_names is None else class_names
        if labels is None:
            raise ValueError("enroll() needs labels (one per image) unless given an ImageSet")
        labels = torch.as_tensor(labels, dtype=torch.int64).cpu().flatten()
        if labels.numel() and int(labels.min()) < 0:
            raise ValueError(
                f"enroll() got label {int(labels.min())}; labels must be >= 0, because "
                "predict() reports a rejected query as -1"
            )
        names = self._names_of(labels.unique().tolist(), class_names)
        emb = self._embed(images)
        if emb.shape[0] != labels.shape[0]:
            raise ValueError(f"enroll() got {emb.shape[0]} images but {labels.shape[0]} labels")
        for label, name in names.items():
            if label in self._names and name is not None and self._names[label] != name:
                raise ValueError(
                    f"label {label} is already enrolled as {self._names[label]!r}, and this "
                    f"call names it {name!r}; give each class its own label (or enrol every "
                    "class from one ImageSet), or make a new OneShotClassifier to start over"
                )
        for label, name in names.items():
            rows = emb[labels == label]
            self._sums[label] = self._sums.get(label, 0) + rows.sum(dim=0)
            self._counts[label] = self._counts.get(label, 0) + rows.shape[0]
            if name is not None:
                self._names[label] = name
        order = sorted(self._sums)
        self.labels = torch.tensor(order, dtype=torch.int64)
        self.prototypes = torch.stack([self._sums[k] / self._counts[k] for k in order])
        return self

    @staticmethod
    def _names_of(
        labels: list[int], class_names: Sequence[str] | Mapping[int, str] | None
    ) -> dict[int, str | None]:
        if class_names is None:
            return dict.fromkeys(labels)
        table = (
            dict(class_names) if isinstance(class_names, Mapping) else dict(enumerate(class_names))
        )
        missing = [k for k in labels if k not in table]
        if missing:
            raise ValueError(
                f"class_names has no name for label(s) {missing}: give a name per label, "
                f"indexed by label (e.g. a mapping {{{missing[0]}: 'name'}}), got {len(table)} names"
            )
        return {k: str(table[k]) for k in labels}

    def distances(
        self, queries: ImageSet | torch.Tensor, *, embedded: bool = False
    ) -> torch.Tensor:
        """``[M, C]`` Euclidean distances from each query to each enrolled class.

        ``embedded=True``: ``queries`` are embeddings ``[M, D]`` already computed by this
        classifier's model (embed once, decide many times: no forward pass here)."""
        if self.prototypes is None:
            raise RuntimeError("call enroll(images, labels) before predict()")
        if embedded:
            if (
                not isinstance(queries, torch.Tensor)
                or queries.shape[1:] != self.prototypes.shape[1:]
            ):
                shape = tuple(queries.shape) if isinstance(queries, torch.Tensor) else queries
                raise ValueError(
                    f"embedded=True needs embeddings [M, {self.prototypes.shape[1]}] by this "
                    f"classifier's model; got {shape}"
                )
            emb = finite(queries.to(self.prototypes.device).float(), "the embeddings given")
        else:
            emb = self._embed(queries)
        return torch.cdist(emb, self.prototypes, compute_mode="donot_use_mm_for_euclid_dist")

    def predict(
        self, queries: ImageSet | torch.Tensor, *, embedded: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(labels [M], nearest distances [M])``; label -1 where the distance exceeds the
        threshold. ``embedded``: see :meth:`distances`."""
        dist, idx = self.distances(queries, embedded=embedded).min(dim=1)
        labels = self.labels[idx]
        if self.threshold is not None:
            labels = torch.where(dist > self.threshold, torch.full_like(labels, -1), labels)
        return labels, dist

    def predict_names(
        self, queries: ImageSet | torch.Tensor, unknown: str = "unknown", *, embedded: bool = False
    ) -> list[str]:
        """Class names of the predictions, ``unknown`` for rejected queries (``embedded``: see
        :meth:`distances`)."""
        names = self.class_names
        if names is None:
            raise RuntimeError("enroll(..., class_names=[...]) to get names, or use predict()")
        labels = self.predict(queries, embedded=embedded)[0]
        position = torch.searchsorted(self.labels, labels.clamp(min=0)).tolist()
        return [
            unknown if k < 0 else names[i] for k, i in zip(labels.tolist(), position, strict=True)
        ]

    def choose_rejection_threshold(
        self,
        known: ImageSet | torch.Tensor,
        unknown: ImageSet | torch.Tensor | None = None,
        accept_rate: float = 0.95,
    ) -> float:
        """Set ``threshold`` from VALIDATION images and return it.

        ``known``: images of enrolled classes; ``unknown``: images of other classes. With
        both, the threshold maximises the accuracy of accept-known/reject-unknown; with
        ``known`` only it accepts ``accept_rate`` of them (a distance quantile).
        """
        d_known = self.distances(known).min(dim=1).values
        if unknown is None:
            self.threshold = float(torch.quantile(d_known.double(), accept_rate))
        else:
            d_unknown = self.distances(unknown).min(dim=1).values
            d = torch.cat([d_known, d_unknown])
            accept = torch.cat([torch.ones_like(d_known), torch.zeros_like(d_unknown)])
            self.threshold = best_threshold(d, accept)[0]
        return self.threshold
