"""Seeded, duplicate-safe splits: the one-shot class split and a stratified split.

NEU-CLS holds one pair of byte-identical images (Pa_101 = Pa_105). If the two copies land in
different parts, a model is tested on an image it was trained on. So every split here first
groups identical images and then assigns whole groups, never single images.

The splits are plain torch (one seeded ``torch.Generator``, a permutation per class). Scikit-
learn's splitters do not help here: ``StratifiedGroupKFold`` only gives fractions of the form
1/k and ``GroupShuffleSplit`` is not stratified.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch

from .imageset import ImageSet

#: The paper's one-shot split: the networks learn their distance on these classes ...
PAPER_TRAIN_CLASSES: tuple[str, ...] = ("RS", "Pa", "In")
#: ... and are tested on these, never seen in training. The default of :func:`one_shot_split`,
#: the CLI, :func:`~oneshot_steel.reproduce.reproduce` and the chapters' run folders; also
#: the split of results.json files written before the split could be chosen (they do not
#: record it).
PAPER_TEST_CLASSES: tuple[str, ...] = ("Cr", "PS", "Sc")


class OneShotSplit(NamedTuple):
    """The paper's one-shot protocol: ``train``/``val`` share the seen classes, ``test`` is unseen."""

    train: ImageSet
    val: ImageSet
    test: ImageSet


def _image_keys(data: ImageSet) -> list[str]:
    """One content key per image: the loader's digest of the original pixels when present
    (catches duplicates the resize could hide), else a hash of the stored pixels."""
    if data.digests is not None:
        return list(data.digests)
    flat = data.images.reshape(len(data), -1).contiguous().numpy()
    return [hashlib.sha256(row.tobytes()).hexdigest() for row in flat]


def find_duplicates(data: ImageSet) -> list[list[int]]:
    """Groups (of two or more indices, ascending) of identical images, ordered by first index."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(_image_keys(data)):
        groups.setdefault(key, []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def describe_duplicates(data: ImageSet) -> str:
    """A one-paragraph report of the duplicate groups, naming the files (for logs and the book)."""
    groups = find_duplicates(data)
    if not groups:
        return f"No duplicate images among {len(data)}."
    n_extra = sum(len(g) - 1 for g in groups)
    lines = [
        f"{len(groups)} group(s) of identical images among {len(data)} "
        f"({len(data) - n_extra} distinct); each group is kept within one split part:"
    ]
    for group in groups:
        names = " = ".join(Path(data.paths[i]).name for i in group)
        classes = sorted({data.classes[int(data.labels[i])] for i in group})
        lines.append(f"  {names} (class {', '.join(classes)})")
    return "\n".join(lines)


def _units(data: ImageSet) -> list[list[int]]:
    """Every image in exactly one unit: its duplicate group, or itself alone."""
    in_group: dict[int, list[int]] = {}
    for group in find_duplicates(data):
        for i in group:
            in_group[i] = group
    units, seen = [], set()
    for i in range(len(data)):
        unit = in_group.get(i, [i])
        if unit[0] not in seen:
            seen.add(unit[0])
            units.append(unit)
    return units


def _stratified_indices(
    data: ImageSet, fraction: float, generator: torch.Generator
) -> tuple[list[int], list[int]]:
    """Split indices so that round(fraction * n_c) images of each class c are held out.

    Units (duplicate groups) are shuffled per class and taken greedily while they fit, so the
    held-out count is exact whenever enough single images exist. A group whose images carry
    different labels follows the label of its first image.
    """
    by_class: dict[int, list[list[int]]] = {}
    for unit in _units(data):
        by_class.setdefault(int(data.labels[unit[0]]), []).append(unit)
    keep: list[int] = []
    held: list[int] = []
    for label in range(len(data.classes)):
        units = by_class.get(label, [])
        n_class = sum(len(u) for u in units)
        target = round(fraction * n_class)
        taken = 0
        for j in torch.randperm(len(units), generator=generator).tolist():
            unit = units[j]
            if taken + len(unit) <= target:
                held.extend(unit)
                taken += len(unit)
            else:
                keep.extend(unit)
    return sorted(keep), sorted(held)


def _check_fraction(name: str, value: float, *, allow_zero: bool) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must lie in {interval}; got {value!r}")


def stratified_split(
    data: ImageSet, test_fraction: float = 0.2, seed: int = 0
) -> tuple[ImageSet, ImageSet]:
    """Split all classes into (train, test) holding out ``test_fraction`` of each class.

    This is the Table 3 setting of the paper (80 % of all six classes for training). Seeded and
    duplicate-safe; both parts keep the full class list, and images keep their original order.
    """
    _check_fraction("test_fraction", test_fraction, allow_zero=False)
    generator = torch.Generator().manual_seed(seed)
    keep, held = _stratified_indices(data, test_fraction, generator)
    return data.select(keep), data.select(held)


def one_shot_split(
    data: ImageSet,
    train_classes: Sequence[str] = PAPER_TRAIN_CLASSES,
    test_classes: Sequence[str] = PAPER_TEST_CLASSES,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> OneShotSplit:
    """Class-disjoint split: train on ``train_classes``, test on the unseen ``test_classes``
    (default: the paper's, :data:`PAPER_TRAIN_CLASSES` and :data:`PAPER_TEST_CLASSES`).

    ``val`` holds ``val_fraction`` of each training class (stratified, seeded): thresholds and
    early stopping are chosen there, never on the test classes. ``train`` and ``val`` are
    re-indexed to ``train_classes`` (in that order), ``test`` to ``test_classes``.
    """
    train_classes, test_classes = list(train_classes), list(test_classes)
    overlap = sorted(set(train_classes) & set(test_classes))
    if overlap:
        raise ValueError(
            f"one_shot_split needs disjoint classes, but {overlap} are in both train_classes "
            f"{train_classes} and test_classes {test_classes}. Move each class to one side."
        )
    if not train_classes or not test_classes:
        raise ValueError("one_shot_split needs at least one training and one test class")
    _check_fraction("val_fraction", val_fraction, allow_zero=True)
    seen = data.subset(train_classes)  # raises UnknownClassError for a misspelled class
    unseen = data.subset(test_classes)
    seen_keys, unseen_keys = set(_image_keys(seen)), set(_image_keys(unseen))
    shared = seen_keys & unseen_keys
    if shared:
        warnings.warn(
            f"{len(shared)} image(s) appear in both a training and a test class; a class split "
            "cannot separate them, so the test is not fully unseen. See describe_duplicates().",
            stacklevel=2,
        )
    generator = torch.Generator().manual_seed(seed)
    keep, held = _stratified_indices(seen, val_fraction, generator)
    return OneShotSplit(seen.select(keep), seen.select(held), unseen)
