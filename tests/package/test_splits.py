"""Splits: class-disjoint one-shot split, stratified split, duplicates kept together."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from oneshot_steel.data import load_neu
from oneshot_steel.data.imageset import NEU_CLASSES, ImageSet
from oneshot_steel.data.splits import (
    OneShotSplit,
    describe_duplicates,
    find_duplicates,
    one_shot_split,
    stratified_split,
)
from oneshot_steel.errors import UnknownClassError

PER_CLASS = 12  # images per class in tiny_set (conftest.py)


def _names(data: ImageSet) -> list[str]:
    return [Path(p).name for p in data.paths]


def _with_copies(data: ImageSet, pairs: list[tuple[int, int]], drop_digests: bool) -> ImageSet:
    """``data`` where image ``dst`` is overwritten by image ``src`` for each (src, dst)."""
    images = data.images.clone()
    digests = None if drop_digests or data.digests is None else list(data.digests)
    for src, dst in pairs:
        images[dst] = images[src]
        if digests is not None:
            digests[dst] = digests[src]
    return ImageSet(images, data.labels.clone(), data.classes, data.paths, digests, data.source)


@pytest.fixture(scope="module")
def dup_set(tiny_set) -> ImageSet:
    """tiny_set with a pair in Pa (like Pa_101 = Pa_105) and a triple in RS."""
    pa, rs = tiny_set.class_index("Pa") * PER_CLASS, tiny_set.class_index("RS") * PER_CLASS
    return _with_copies(tiny_set, [(pa + 2, pa + 6), (rs, rs + 4), (rs, rs + 9)], False)


# --------------------------------------------------------------------------- duplicates
def test_no_duplicates_in_tiny_set(tiny_set):
    assert find_duplicates(tiny_set) == []
    assert describe_duplicates(tiny_set) == "No duplicate images among 72."


@pytest.mark.parametrize("drop_digests", [False, True])
def test_find_duplicates_with_and_without_digests(tiny_set, drop_digests):
    pa = tiny_set.class_index("Pa") * PER_CLASS
    data = _with_copies(tiny_set, [(pa + 5, pa + 1)], drop_digests)
    assert find_duplicates(data) == [[pa + 1, pa + 5]]
    report = describe_duplicates(data)
    assert "1 group(s) of identical images among 72 (71 distinct)" in report
    assert "Pa_2.bmp = Pa_6.bmp (class Pa)" in report


def test_duplicate_files_found_through_loader_digests(tiny_neu_dir, tmp_path):
    folder = tmp_path / "neu"
    shutil.copytree(tiny_neu_dir, folder)
    shutil.copyfile(folder / "Pa_1.bmp", folder / "Pa_5.bmp")
    data = load_neu(folder, size=32, cache=False)
    groups = find_duplicates(data)
    assert [[Path(data.paths[i]).name for i in g] for g in groups] == [["Pa_1.bmp", "Pa_5.bmp"]]


# --------------------------------------------------------------------------- one-shot split
def test_one_shot_split_is_class_disjoint_and_reindexed(tiny_set):
    split = one_shot_split(tiny_set)
    assert isinstance(split, OneShotSplit)
    train, val, test = split
    assert train.classes == val.classes == ["RS", "Pa", "In"]
    assert test.classes == ["Cr", "PS", "Sc"]
    # val: round(0.2 * 12) = 2 held-out images per training class
    assert train.class_counts() == {"RS": 10, "Pa": 10, "In": 10}
    assert val.class_counts() == {"RS": 2, "Pa": 2, "In": 2}
    assert test.class_counts() == {"Cr": 12, "PS": 12, "Sc": 12}
    assert not set(train.paths) & set(val.paths)
    assert set(train.paths) | set(val.paths) == {
        p for p in tiny_set.paths if Path(p).name.split("_")[0] in ("RS", "Pa", "In")
    }
    for part in split:  # labels follow the part's own class list
        prefixes = [n.split("_")[0] for n in _names(part)]
        assert prefixes == [part.classes[i] for i in part.labels.tolist()]
        assert part.synthetic == tiny_set.synthetic
    # a held-out image keeps its pixels
    i = tiny_set.paths.index(val.paths[0])
    assert torch.equal(val.images[0], tiny_set.images[i])


def test_one_shot_split_is_seeded(tiny_set):
    a, b = one_shot_split(tiny_set, seed=3), one_shot_split(tiny_set, seed=3)
    assert a.val.paths == b.val.paths and a.train.paths == b.train.paths
    others = {tuple(one_shot_split(tiny_set, seed=s).val.paths) for s in range(5)}
    assert len(others) > 1


def test_one_shot_split_custom_classes_and_empty_val(tiny_set):
    train, val, test = one_shot_split(tiny_set, ["Sc", "Cr"], ["In"], val_fraction=0.0)
    assert train.classes == ["Sc", "Cr"] and len(train) == 24 and len(val) == 0
    assert test.classes == ["In"] and test.labels.unique().tolist() == [0]


def test_one_shot_split_rejects_bad_arguments(tiny_set):
    with pytest.raises(ValueError, match=r"\['Pa'\] are in both"):
        one_shot_split(tiny_set, ("RS", "Pa"), ("Pa", "Cr"))
    with pytest.raises(UnknownClassError, match="'Xx'"):
        one_shot_split(tiny_set, ("RS", "Xx"), ("Cr",))
    with pytest.raises(ValueError, match="val_fraction"):
        one_shot_split(tiny_set, val_fraction=1.0)


def test_duplicate_across_train_and_test_classes_warns(tiny_set):
    cr, rs = tiny_set.class_index("Cr") * PER_CLASS, tiny_set.class_index("RS") * PER_CLASS
    data = _with_copies(tiny_set, [(rs, cr)], False)
    with pytest.warns(UserWarning, match="both a training and a test class"):
        one_shot_split(data)


# --------------------------------------------------------------------------- stratified split
def test_stratified_split_counts_and_disjointness(tiny_set):
    train, test = stratified_split(tiny_set, test_fraction=0.25, seed=1)
    assert train.classes == test.classes == list(NEU_CLASSES)
    assert train.class_counts() == {c: 9 for c in NEU_CLASSES}
    assert test.class_counts() == {c: 3 for c in NEU_CLASSES}
    assert sorted(train.paths + test.paths) == sorted(tiny_set.paths)
    again = stratified_split(tiny_set, test_fraction=0.25, seed=1)
    assert again[1].paths == test.paths
    assert stratified_split(tiny_set, test_fraction=0.25, seed=2)[1].paths != test.paths
    # each part keeps the original order (class, then file number)
    for part in (train, test):
        idx = [tiny_set.paths.index(p) for p in part.paths]
        assert idx == sorted(idx)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_stratified_split_rejects_bad_fraction(tiny_set, fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split(tiny_set, test_fraction=fraction)


@pytest.mark.parametrize("drop_digests", [False, True])
def test_duplicate_groups_never_straddle_parts(dup_set, drop_digests):
    data = dup_set if not drop_digests else _with_copies(dup_set, [], True)
    groups = [{data.paths[i] for i in g} for g in find_duplicates(data)]
    assert [len(g) for g in groups] == [2, 3]
    for seed in range(20):  # a per-image split would straddle the Pa pair in ~1 of 3 seeds
        train, test = stratified_split(data, test_fraction=0.2, seed=seed)
        one = one_shot_split(data, seed=seed)
        for parts in ((train, test), (one.train, one.val)):
            for group in groups:
                holders = [k for k, part in enumerate(parts) if group & set(part.paths)]
                assert len(holders) == 1, (seed, group)
        # whole groups are still placed to hit the per-class target exactly
        assert test.class_counts() == {c: 2 for c in NEU_CLASSES}
        assert one.val.class_counts() == {"RS": 2, "Pa": 2, "In": 2}
