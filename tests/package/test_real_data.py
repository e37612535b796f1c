"""The real NEU-CLS set: run with ONESHOT_STEEL_DATA pointing at it, e.g.

    ONESHOT_STEEL_DATA=/path/to/neu-cls pytest -m neu tests/package/test_real_data.py

Skipped otherwise. (Checksums against the shipped manifest are tested with the fetcher.)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from oneshot_steel.data import load_neu
from oneshot_steel.data.imageset import NEU_CLASSES, ImageSet
from oneshot_steel.data.loading import IMAGE_EXTENSIONS
from oneshot_steel.data.splits import (
    describe_duplicates,
    find_duplicates,
    one_shot_split,
    stratified_split,
)

pytestmark = pytest.mark.neu


@pytest.fixture(scope="module")
def real_set(real_neu_dir: Path) -> ImageSet:
    """The real set at 100x100, loaded once (this first load also writes the cache)."""
    return load_neu(real_neu_dir, size=100)


def test_files_on_disk(real_neu_dir):
    images = [p for p in real_neu_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS]
    assert len(images) == 1800
    prefixes = sorted({p.stem.split("_")[0] for p in images})
    assert prefixes == sorted(NEU_CLASSES)


def test_six_classes_of_300(real_set, real_neu_dir):
    assert len(real_set) == 1800
    assert real_set.classes == list(NEU_CLASSES)
    assert real_set.class_counts() == {c: 300 for c in NEU_CLASSES}
    assert real_set.images.shape == (1800, 1, 100, 100)
    assert not real_set.synthetic
    assert real_set.source == str(real_neu_dir.resolve())
    names = [Path(p).name for p in real_set.paths]
    assert names[0] == "Cr_1.bmp" and names[299] == "Cr_300.bmp" and names[-1] == "Sc_300.bmp"


def test_the_known_duplicate_pair(real_set):
    groups = find_duplicates(real_set)
    assert [[Path(real_set.paths[i]).name for i in g] for g in groups] == [
        ["Pa_101.bmp", "Pa_105.bmp"]
    ]
    assert "Pa_101.bmp = Pa_105.bmp" in describe_duplicates(real_set)
    assert len(set(real_set.digests)) == 1799


def test_second_load_is_under_a_second(real_set, real_neu_dir):
    start = time.perf_counter()
    again = load_neu(real_neu_dir, size=100)
    elapsed = time.perf_counter() - start
    assert torch.equal(again.images, real_set.images)
    assert again.digests == real_set.digests
    assert elapsed < 1.0, f"cached load took {elapsed:.2f} s"


def test_splits_keep_the_pair_together(real_set):
    pair = {p for p in real_set.paths if Path(p).name in ("Pa_101.bmp", "Pa_105.bmp")}
    train, val, test = one_shot_split(real_set, seed=0)
    assert (len(train), len(val), len(test)) == (720, 180, 900)
    assert pair <= set(train.paths) or pair <= set(val.paths)
    for seed in range(5):
        fit, held = stratified_split(real_set, test_fraction=0.2, seed=seed)
        assert held.class_counts() == {c: 60 for c in NEU_CLASSES}
        assert pair <= set(fit.paths) or pair <= set(held.paths)
