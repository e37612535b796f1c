"""Honest protocols for one-shot fault recognition, and the trap they avoid.

Windows cut from one recording are nearly interchangeable: same machine, same fault, same
load, seconds apart. A split that puts windows of one recording on both sides (the
:func:`leaky_split`) lets any method match a window to its own recording and look perfect.
Each protocol here keeps what is tested apart from what is learned:

- :func:`segment_protocol` (a): disjoint time segments of every recording for training,
  validation and testing (the classes are the same; the test windows were never seen);
- :func:`unseen_size_protocol` (b): fault classes of one diameter never seen in training,
  each enrolled from one window;
- :func:`cross_load_protocol` (c): the one support window recorded at one motor load, the
  queries at another, and training on neither load.

:func:`evaluate_protocol` scores a net or a baseline's features on the protocol's episodes
with :func:`oneshot_steel.evaluate.episodic_accuracy` (mean and 95 % CI, chance 1/N).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..data.imageset import ImageSet
from ..evaluate import EpisodicResult, embed, episodic_accuracy
from .cwru import FAULT_CLASSES, Recording
from .signals import window_set

__all__ = [
    "PROTOCOLS",
    "Protocol",
    "cross_load_protocol",
    "evaluate_protocol",
    "leaky_split",
    "nearest_neighbour_accuracy",
    "segment_protocol",
    "unseen_size_protocol",
]


@dataclass
class Protocol:
    """Who trains on what, and what the episodes are: support from ``support``, queries from
    ``query`` (None: from ``support`` too, never the same window)."""

    name: str
    description: str
    train: ImageSet
    val: ImageSet
    support: ImageSet
    query: ImageSet | None
    n_way: int

    @property
    def test_classes(self) -> list[str]:
        return list(self.support.classes)

    def __str__(self) -> str:
        q = f", queries {len(self.query)}" if self.query is not None else ""
        return (
            f"{self.name}: train {len(self.train)} windows of {len(self.train.classes)} classes, "
            f"val {len(self.val)}, support {len(self.support)}{q}; {self.n_way}-way episodes"
        )


def _pick(records: Sequence[Recording], classes=None, loads=None) -> list[Recording]:
    return [
        r
        for r in records
        if (classes is None or r.cls in classes) and (loads is None or r.load in loads)
    ]


def segment_protocol(
    records: Sequence[Recording],
    length: int = 2048,
    hop: int = 1024,
    max_per_record: int | None = None,
) -> Protocol:
    """(a) Every class; training on the first 40 % of each recording, validation on the next
    10 %, episodes on the last half. Windows of one recording meet across the split only
    through time, never through shared samples."""
    classes = sorted({r.cls for r in records}, key=[*FAULT_CLASSES, "Normal"].index)
    classes = (["Normal"] if "Normal" in classes else []) + [c for c in classes if c != "Normal"]
    cut = {"length": length, "hop": hop, "classes": classes, "max_per_record": max_per_record}
    return Protocol(
        "segments",
        "disjoint time segments of every recording: train 0-40 %, val 40-50 %, test 50-100 %",
        window_set(records, part=(0.0, 0.4), **cut),
        window_set(records, part=(0.4, 0.5), **cut),
        window_set(records, part=(0.5, 1.0), **cut),
        None,
        len(classes),
    )


def unseen_size_protocol(
    records: Sequence[Recording],
    train_sizes: Sequence[str] = ("007", "021"),
    test_size: str = "014",
    length: int = 2048,
    hop: int = 1024,
    max_per_record: int | None = None,
) -> Protocol:
    """(b) Train on the faults of ``train_sizes`` (and the normal baseline), test one-shot on
    the faults of ``test_size``, never seen: 3-way (inner race, ball, outer race)."""
    if test_size in train_sizes:
        raise ValueError(f"test_size {test_size!r} is also a training size {tuple(train_sizes)}")
    train_classes = [
        c for c in ("Normal", *FAULT_CLASSES) if c == "Normal" or c[-3:] in train_sizes
    ]
    test_classes = [c for c in FAULT_CLASSES if c[-3:] == test_size]
    cut = {"length": length, "hop": hop, "max_per_record": max_per_record}
    fit = _pick(records, train_classes)
    return Protocol(
        "unseen size",
        f"train on {'/'.join(train_sizes)} inch faults and normal, test one-shot on the "
        f"{test_size} inch faults",
        window_set(fit, part=(0.0, 0.8), classes=train_classes, **cut),
        window_set(fit, part=(0.8, 1.0), classes=train_classes, **cut),
        window_set(_pick(records, test_classes), classes=test_classes, **cut),
        None,
        len(test_classes),
    )


def cross_load_protocol(
    records: Sequence[Recording],
    support_load: int = 0,
    query_load: int = 3,
    train_loads: Sequence[int] = (1, 2),
    length: int = 2048,
    hop: int = 1024,
    max_per_record: int | None = None,
) -> Protocol:
    """(c) The nine fault classes; the support window from ``support_load``, the queries from
    ``query_load``; the net trains on ``train_loads`` only (80 % / 20 % of each recording
    for training / validation), so neither test condition was seen."""
    seen = set(train_loads) & {support_load, query_load}
    if seen:
        raise ValueError(f"train_loads {tuple(train_loads)} include the test load(s) {seen}")
    classes = list(FAULT_CLASSES)
    cut = {"length": length, "hop": hop, "classes": classes, "max_per_record": max_per_record}
    fit = _pick(records, classes, train_loads)
    return Protocol(
        f"cross-load {support_load}->{query_load} hp",
        f"support at {support_load} hp, queries at {query_load} hp, training at "
        f"{'/'.join(map(str, train_loads))} hp",
        window_set(fit, part=(0.0, 0.8), **cut),
        window_set(fit, part=(0.8, 1.0), **cut),
        window_set(_pick(records, classes, [support_load]), **cut),
        window_set(_pick(records, classes, [query_load]), **cut),
        len(classes),
    )


#: The three honest protocols by short name (what the CLI's --protocol takes).
PROTOCOLS: dict[str, Callable[..., Protocol]] = {
    "segments": segment_protocol,
    "unseen-size": unseen_size_protocol,
    "cross-load": cross_load_protocol,
}


def leaky_split(
    records: Sequence[Recording],
    length: int = 2048,
    hop: int = 512,
    seed: int = 0,
    max_per_record: int | None = None,
) -> tuple[ImageSet, ImageSet]:
    """THE TRAP, for demonstration only: overlapping windows of every recording shuffled
    into a 50/50 train/test split, so every test window has neighbours from its own
    recording (sharing samples, even) in training."""
    classes = sorted({r.cls for r in records})
    data = window_set(records, length, hop, classes=classes, max_per_record=max_per_record)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data), generator=g)
    half = len(data) // 2
    return data.select(order[:half]), data.select(order[half:])


def nearest_neighbour_accuracy(
    train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor
) -> float:
    """Share of ``test`` rows whose nearest ``train`` row (Euclidean) has their label."""
    nearest = torch.cdist(test.float(), train.float()).argmin(dim=1)
    return float((train_labels[nearest] == test_labels).float().mean())


def evaluate_protocol(
    model_or_features: nn.Module | Callable[[ImageSet], torch.Tensor],
    protocol: Protocol,
    n_episodes: int = 1000,
    n_query: int = 15,
    k_shot: int = 1,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> EpisodicResult:
    """``protocol.n_way``-way ``k_shot``-shot accuracy of a trained net, or of a baseline's
    features (a function of windows, e.g. :func:`~.signals.log_spectrum`), on the
    protocol's test windows: nearest support embedding, Euclidean distance."""
    if isinstance(model_or_features, nn.Module):

        def encode(s: ImageSet) -> torch.Tensor:
            return embed(model_or_features, s, device=device)
    else:
        encode = model_or_features
    sup = encode(protocol.support)
    kw = {}
    if protocol.query is not None:
        kw = {"query_set": protocol.query, "query_embeddings": encode(protocol.query)}
    return episodic_accuracy(
        sup, protocol.support, protocol.n_way, k_shot, n_query, n_episodes, seed, **kw
    )
