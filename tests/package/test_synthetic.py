"""The synthetic stand-in: NEU-like files, deterministic, learnable but far from trivial."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from oneshot_steel.data.imageset import NEU_CLASSES
from oneshot_steel.data.manifest import read_manifest, verify_neu_folder
from oneshot_steel.data.synthetic import (
    MARKER,
    ensure_synthetic,
    make_synthetic,
    synthetic_images,
)
from oneshot_steel.errors import DataError
from oneshot_steel.files import cache_dir


def test_files_are_named_and_shaped_like_neu(tmp_path):
    dest = make_synthetic(tmp_path / "syn", seed=0, n_per_class=3)
    names = sorted(p.name for p in dest.glob("*.bmp"))
    assert names == sorted(f"{c}_{i}.bmp" for c in NEU_CLASSES for i in (1, 2, 3))
    for name in names:
        assert (dest / name).stat().st_size == 41_078  # the size of every real NEU-CLS file
        with Image.open(dest / name) as img:
            assert (img.format, img.mode, img.size) == ("BMP", "L", (200, 200))
    verify_neu_folder(dest, read_manifest(dest / "SHA256SUMS"))
    assert json.loads((dest / MARKER).read_text())["seed"] == 0
    (tmp_path / "plain").mkdir()  # built in a private temp folder, yet as readable as any other
    assert dest.stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def digests(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).digest() for p in folder.glob("*.bmp")}

    a = digests(make_synthetic(tmp_path / "a", seed=7, n_per_class=2))
    b = digests(make_synthetic(tmp_path / "b", seed=7, n_per_class=2))
    c = digests(make_synthetic(tmp_path / "c", seed=8, n_per_class=2))
    assert a == b
    assert all(a[name] != c[name] for name in a)


def test_a_small_set_is_a_prefix_of_a_larger_one():
    small, small_labels = synthetic_images(seed=3, n_per_class=5, size=48)
    large, large_labels = synthetic_images(seed=3, n_per_class=25, size=48)
    first5 = np.concatenate([np.arange(c * 25, c * 25 + 5) for c in range(6)])
    np.testing.assert_array_equal(small, large[first5])
    np.testing.assert_array_equal(small_labels, large_labels[first5])
    assert small.dtype == np.uint8 and small.shape == (30, 48, 48)


def test_images_vary_within_a_class():
    images, labels = synthetic_images(seed=0, n_per_class=8, size=64)
    flat = images.reshape(len(images), -1).astype(np.float32)
    for c in range(6):
        group = flat[labels == c]
        assert len({g.tobytes() for g in group}) == 8
        assert group.mean(axis=1).std() > 2.0  # illumination differs from image to image


def test_raw_pixel_1nn_is_well_above_chance_and_well_below_perfect():
    # Measured (seed 0, 50/50 stratified split with random_state 0, 32x32 area-downsampled raw
    # pixels, k=1): 0.38 with 60 images per class, 0.43 with 300; real NEU-CLS gives 0.55.
    images, labels = synthetic_images(seed=0, n_per_class=60)
    x = F.interpolate(torch.from_numpy(images).float()[:, None], size=(32, 32), mode="area")
    x = x.flatten(1).numpy()
    xa, xb, ya, yb = train_test_split(x, labels, test_size=0.5, stratify=labels, random_state=0)
    accuracy = KNeighborsClassifier(n_neighbors=1).fit(xa, ya).score(xb, yb)
    chance = 1 / len(NEU_CLASSES)
    assert chance + 0.15 < accuracy < 0.9, accuracy


def test_ensure_synthetic_builds_once_then_reuses(tmp_path):
    path = ensure_synthetic(seed=5, n_per_class=2)
    assert path == cache_dir() / "synthetic-seed5-n2"
    before = {p.name: p.stat().st_mtime_ns for p in path.iterdir()}
    assert ensure_synthetic(seed=5, n_per_class=2) == path
    assert {p.name: p.stat().st_mtime_ns for p in path.iterdir()} == before

    (path / "Sc_2.bmp").unlink()  # an incomplete folder is rebuilt
    ensure_synthetic(seed=5, n_per_class=2)
    assert (path / "Sc_2.bmp").stat().st_size == 41_078

    info = json.loads((path / MARKER).read_text())
    (path / MARKER).write_text(json.dumps({**info, "version": -1}))  # an older generator
    ensure_synthetic(seed=5, n_per_class=2)
    assert json.loads((path / MARKER).read_text()) == info


def test_make_synthetic_replaces_only_its_own_folders(tmp_path):
    dest = make_synthetic(tmp_path / "syn", seed=0, n_per_class=2)
    make_synthetic(dest, seed=1, n_per_class=1)  # an earlier stand-in is replaced whole
    assert len(list(dest.glob("*.bmp"))) == 6
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="refusing to overwrite"):
        make_synthetic(mine, n_per_class=1)
    assert os.listdir(mine) == ["notes.txt"]
    assert sorted(os.listdir(tmp_path)) == ["mine", "syn"]  # no temporary folders left


@pytest.mark.parametrize(("n", "size"), [(0, 200), (2, 8)])
def test_bad_arguments_are_refused(n, size, tmp_path):
    with pytest.raises(ValueError, match="at least"):
        make_synthetic(tmp_path / "x", n_per_class=n, size=size)
    assert not (tmp_path / "x").exists()
