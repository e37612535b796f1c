"""Loading NEU-CLS layouts and image folders: order, conversion, errors, data root, cache."""

from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from oneshot_steel.data import (
    default_data_dir,
    load_image_folder,
    load_neu,
    paths,
    resolve_data_root,
    sources,
)
from oneshot_steel.data.imageset import NEU_CLASSES
from oneshot_steel.errors import (
    BadImageError,
    DataNotFoundError,
    EmptyClassError,
    FetchError,
    UnknownClassError,
)

TINY_PER_CLASS, TINY_SIZE = 12, 64  # what tiny_neu_dir and tiny_set hold (conftest.py)


@pytest.fixture
def own_cache(tmp_path, monkeypatch) -> Path:
    """A cache folder of this test alone, so cache files can be found and tampered with."""
    path = tmp_path / "cache"
    monkeypatch.setenv("ONESHOT_STEEL_CACHE", str(path))
    return path


def _copy_flat(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


# --------------------------------------------------------------------------- flat NEU folder
def test_tiny_set_order_labels_and_metadata(tiny_set, tiny_neu_dir):
    assert len(tiny_set) == 6 * TINY_PER_CLASS
    assert tiny_set.classes == list(NEU_CLASSES)
    assert tiny_set.class_counts() == {c: TINY_PER_CLASS for c in NEU_CLASSES}
    assert tiny_set.images.shape == (72, 1, TINY_SIZE, TINY_SIZE)
    assert tiny_set.images.dtype == torch.uint8
    # sorted by class, then by file number (Cr_2 before Cr_10), not by name
    names = [Path(p).name for p in tiny_set.paths]
    assert names[:TINY_PER_CLASS] == [f"Cr_{i}.bmp" for i in range(1, TINY_PER_CLASS + 1)]
    assert names[-1] == f"Sc_{TINY_PER_CLASS}.bmp"
    assert torch.equal(tiny_set.labels, torch.arange(6).repeat_interleave(TINY_PER_CLASS))
    assert tiny_set.synthetic  # the stand-in folder carries a marker
    assert str(tiny_neu_dir.resolve()) in tiny_set.source
    assert len(set(tiny_set.digests)) == len(tiny_set)


def test_digest_is_sha256_of_original_pixels(tiny_set):
    pixels = np.asarray(Image.open(tiny_set.paths[3]))
    expected = hashlib.sha256(b"200x200:" + pixels.tobytes()).hexdigest()
    assert tiny_set.digests[3] == expected


def test_no_resize_at_native_size_and_antialiased_resize_matches_pillow(tiny_neu_dir):
    native = load_neu(tiny_neu_dir, size=200, cache=False)
    original = np.asarray(Image.open(native.paths[0]))
    assert np.array_equal(native.images[0, 0].numpy(), original)
    small = load_neu(tiny_neu_dir, size=50, cache=False)
    # Pillow's bilinear resize is antialiased; torch's antialias=True reproduces it to rounding.
    pil = np.asarray(Image.open(small.paths[0]).resize((50, 50), Image.BILINEAR)).astype(int)
    assert np.abs(small.images[0, 0].numpy().astype(int) - pil).max() <= 1


def test_repr_is_readable(tiny_set):
    text = repr(tiny_set)
    assert text.startswith("ImageSet(72 SYNTHETIC images of 64x64, 6 classes [Cr=12, In=12")
    assert "tensor" not in text


def test_non_neu_files_in_flat_folder_are_ignored(tiny_neu_dir, tmp_path, write_image):
    folder = _copy_flat(tiny_neu_dir, tmp_path / "neu")
    (folder / "README").write_text("notes")
    (folder / "Cr_1.txt").write_text("not an image extension")
    write_image(folder / "overview.png")  # an image, but not a NEU name: named in a warning
    (folder / "docs").mkdir()  # a folder without images
    (folder / "docs" / "a.md").write_text("x")
    with pytest.warns(UserWarning, match=r"not NEU-CLS names.*overview\.png"):
        data = load_neu(folder, size=32, cache=False)
    assert len(data) == 6 * TINY_PER_CLASS


def test_invalid_size_is_rejected(tiny_neu_dir):
    with pytest.raises(ValueError, match="size must be a positive int"):
        load_neu(tiny_neu_dir, size=0, cache=False)


# --------------------------------------------------------------------------- nested layouts
_AVIRAL = ("Crazing", "Inclusion", "Patches", "Pitted", "Rolled", "Scratches")
_ADIPANDAS = ("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches")
_OTHER = ("CR", "Inclusion", "patch", "Pitted Surface", "rolled_in_scale", "scratch")


@pytest.mark.parametrize(
    ("names", "splits", "wrapper"),
    [
        (_AVIRAL, ("train", "valid", "test"), "NEU Metal Surface Defects Data"),
        (_ADIPANDAS, ("training", "testing"), "dataset_all"),
        (_OTHER, ("Train", "Val", "Test"), None),
        (NEU_CLASSES, (), None),
    ],
)
def test_class_and_split_folders_are_merged_in_neu_order(
    tiny_neu_dir, tiny_set, tmp_path, names, splits, wrapper
):
    base = tmp_path / "copy"
    root = base / wrapper if wrapper else base
    for path in sorted(tiny_neu_dir.glob("*.bmp")):
        prefix, number = path.stem.split("_")
        split = splits[int(number) % len(splits)] if splits else ""
        dest = root / split / names[NEU_CLASSES.index(prefix)] / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    data = load_neu(base, size=TINY_SIZE)  # a single wrapper folder is stepped into
    assert data.classes == list(NEU_CLASSES)
    assert [Path(p).name for p in data.paths] == [Path(p).name for p in tiny_set.paths]
    assert torch.equal(data.images, tiny_set.images)
    assert torch.equal(data.labels, tiny_set.labels)
    assert data.digests == tiny_set.digests


def test_flat_files_inside_split_folders_are_found(tiny_neu_dir, tiny_set, tmp_path):
    for path in tiny_neu_dir.glob("*.bmp"):
        split = "train" if int(path.stem.split("_")[1]) > 3 else "test"
        (tmp_path / split).mkdir(exist_ok=True)
        shutil.copyfile(path, tmp_path / split / path.name)
    data = load_neu(tmp_path, size=TINY_SIZE, cache=False)
    assert torch.equal(data.images, tiny_set.images)


# --------------------------------------------------------------------------- bad inputs
def test_missing_folder_names_the_path(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DataNotFoundError, match="no-such-folder.*does not exist"):
        load_neu(missing)


def test_folder_without_neu_images(tmp_path, write_image):
    write_image(tmp_path / "photo.png")
    with (
        pytest.raises(DataNotFoundError, match="No NEU-CLS images found"),
        pytest.warns(UserWarning, match="photo.png"),
    ):
        load_neu(tmp_path)


def test_neu_class_without_files(tiny_neu_dir, tmp_path):
    folder = _copy_flat(tiny_neu_dir, tmp_path / "neu")
    for path in folder.glob("Sc_*.bmp"):
        path.unlink()
    with pytest.raises(EmptyClassError, match=r"class Sc has no images in .*neu"):
        load_neu(folder)


def test_empty_class_folder(tmp_path, write_image):
    for name in _AVIRAL[:-1]:
        write_image(tmp_path / name / "a_1.bmp")
    (tmp_path / "Scratches").mkdir()
    with pytest.raises(EmptyClassError, match="class Sc"):
        load_neu(tmp_path)


def test_unknown_class_folder_lists_accepted_names(tmp_path, write_image):
    for name in _AVIRAL:
        write_image(tmp_path / name / "x_1.bmp")
    write_image(tmp_path / "Dents" / "x_1.bmp")
    with pytest.raises(UnknownClassError) as info:
        load_neu(tmp_path)
    message = str(info.value)
    assert "Dents" in message
    assert "crazing" in message and "rolled_in_scale" in message and "train" in message


def test_truncated_bmp_names_the_file(tiny_neu_dir, tmp_path):
    folder = _copy_flat(tiny_neu_dir, tmp_path / "neu")
    victim = folder / "In_7.bmp"
    victim.write_bytes(victim.read_bytes()[:5000])
    with pytest.raises(BadImageError, match=r"In_7\.bmp.*corrupt/truncated"):
        load_neu(folder, cache=False)


def test_text_file_named_png_is_a_bad_image(tmp_path, write_image):
    for name in _ADIPANDAS:
        write_image(tmp_path / name / "img_1.png")
    (tmp_path / "crazing" / "img_2.png").write_text("this is not a PNG")
    with pytest.raises(BadImageError, match=r"img_2\.png"):
        load_neu(tmp_path, size=16)


def test_rgb_and_odd_sizes_become_gray_squares(tmp_path, write_image):
    color = (200, 100, 50)
    (tmp_path / "rust").mkdir()
    Image.new("RGB", (53, 37), color).save(tmp_path / "rust" / "r_1.png")
    write_image(tmp_path / "rust" / "r_2.jpg", size=(31, 45), mode="RGB")
    write_image(tmp_path / "dent" / "d_1.tif", size=(17, 17), mode="RGBA")
    with pytest.warns(UserWarning, match=r"2 image\(s\).*not square"):
        data = load_image_folder(tmp_path, size=32)
    assert data.images.shape == (3, 1, 32, 32)
    gray = Image.new("RGB", (1, 1), color).convert("L").getpixel((0, 0))  # ITU-R 601-2 luma
    uniform = data.images[data.paths.index(str(tmp_path / "rust" / "r_1.png"))]
    assert torch.all(uniform == gray)


def test_16_bit_images_are_scaled_by_the_sets_bit_depth(tmp_path):
    for name, value in (("a", 0x8000), ("b", 0xFF00)):
        (tmp_path / name).mkdir()
        Image.fromarray(np.full((10, 12), value, np.uint16)).save(tmp_path / name / "x.tif")
    data = load_image_folder(tmp_path, size=8, cache=False)
    assert data.images[0].unique().tolist() == [round(0x8000 * 255 / 0xFFFF)]  # 128
    assert data.images[1].unique().tolist() == [round(0xFF00 * 255 / 0xFFFF)]  # 254


# --------------------------------------------------------------------------- load_image_folder
def test_image_folder_classes_extensions_and_order(tmp_path, write_image):
    for i in (10, 2, 1):
        write_image(tmp_path / "scratch" / f"s_{i}.PNG")
    write_image(tmp_path / "dent" / "a.Jpeg", mode="RGB")
    write_image(tmp_path / "dent" / "nested" / "b.TIFF")
    (tmp_path / "dent" / "notes.txt").write_text("ignored")
    data = load_image_folder(tmp_path, size=16)
    assert data.classes == ["dent", "scratch"]
    assert data.class_counts() == {"dent": 2, "scratch": 3}
    assert [Path(p).name for p in data.paths[2:]] == ["s_1.PNG", "s_2.PNG", "s_10.PNG"]
    assert not data.synthetic and data.source == str(tmp_path.resolve())


def test_image_folder_errors(tmp_path, write_image):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(DataNotFoundError, match="no class folders"):
        load_image_folder(tmp_path)
    write_image(tmp_path / "good" / "1.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyClassError, match="empty"):
        load_image_folder(tmp_path)
    (tmp_path / "empty").rmdir()
    write_image(tmp_path / "loose.png")
    with pytest.warns(UserWarning, match="Ignoring 1 image"):
        assert len(load_image_folder(tmp_path, size=8)) == 1


# --------------------------------------------------------------------------- data root
def test_resolve_explicit_env_and_synthetic(tmp_path, monkeypatch):
    monkeypatch.delenv("ONESHOT_STEEL_DATA", raising=False)
    assert resolve_data_root(tmp_path) == tmp_path
    assert resolve_data_root(" Synthetic ") == "synthetic"
    monkeypatch.setenv("ONESHOT_STEEL_DATA", str(tmp_path))
    assert resolve_data_root() == tmp_path
    assert resolve_data_root("synthetic") == "synthetic"  # the argument wins
    monkeypatch.setenv("ONESHOT_STEEL_DATA", "synthetic")
    assert resolve_data_root() == "synthetic"
    monkeypatch.setenv("ONESHOT_STEEL_DATA", str(tmp_path / "typo"))
    with pytest.raises(DataNotFoundError, match="typo.*ONESHOT_STEEL_DATA"):
        resolve_data_root()


def test_resolve_default_folder_then_fetch(tmp_path, monkeypatch):
    """Default folder when present; else fetch into it; a failed fetch lists the manual routes."""
    monkeypatch.delenv("ONESHOT_STEEL_DATA", raising=False)
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)
    default = tmp_path / "data" / "neu-cls"
    assert default_data_dir() == default
    calls = []

    def failing_fetch(dest, **kwargs):
        calls.append(dest)
        raise FetchError("all 2 mirrors failed: no network")

    monkeypatch.setattr(sources, "fetch_neu", failing_fetch)
    with pytest.raises(DataNotFoundError) as info:
        resolve_data_root()
    assert calls == [default]
    message = str(info.value)
    for needle in (
        str(default),
        "no network",
        "http://faculty.neu.edu.cn/yunhyan/NEU_surface_defect_database.html",
        "fantacher/neu-metal-surface-defects-data",
        "python -m oneshot_steel fetch-data --from PATH",
        "ONESHOT_STEEL_DATA=synthetic",
    ):
        assert needle in message
    monkeypatch.setattr(sources, "fetch_neu", lambda dest, **kw: Path(dest))
    assert resolve_data_root() == default
    default.mkdir(parents=True)
    (default / "Cr_1.bmp").write_bytes(b"")
    monkeypatch.setattr(sources, "fetch_neu", failing_fetch)
    assert resolve_data_root() == default  # present: no fetch
    assert len(calls) == 1


def test_default_data_dir_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "repo_root", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == tmp_path / "data" / "neu-cls"


@pytest.mark.slow
def test_load_neu_synthetic_uses_the_stand_in(monkeypatch):
    monkeypatch.setenv("ONESHOT_STEEL_DATA", "synthetic")
    data = load_neu(size=32)
    assert data.synthetic and "synthetic stand-in" in data.source
    assert data.class_counts() == {c: 300 for c in NEU_CLASSES}


# --------------------------------------------------------------------------- cache
def _cache_files(cache: Path) -> list[Path]:
    return sorted((cache / "decoded").glob("*.pt"))


def test_cache_hit_is_used_and_keyed_by_content(tiny_neu_dir, tmp_path, own_cache):
    folder = _copy_flat(tiny_neu_dir, tmp_path / "neu")
    fresh = load_neu(folder, size=TINY_SIZE)
    (cache_file,) = _cache_files(own_cache)
    # Tamper with the cached pixels: a second load returning them proves the cache was read.
    blob = torch.load(cache_file, weights_only=True)
    blob["images"] = torch.zeros_like(blob["images"])
    blob["images_sha256"] = hashlib.sha256(blob["images"].numpy().tobytes()).hexdigest()
    torch.save(blob, cache_file)
    assert load_neu(folder, size=TINY_SIZE).images.count_nonzero() == 0
    # The cache survives a move of the folder: the key is content and relative names.
    moved = folder.rename(tmp_path / "moved")
    assert load_neu(moved, size=TINY_SIZE).images.count_nonzero() == 0
    # Changing one file's bytes changes the key: everything is decoded again.
    shutil.copyfile(moved / "Cr_2.bmp", moved / "Cr_1.bmp")
    again = load_neu(moved, size=TINY_SIZE)
    assert torch.equal(again.images[1:], fresh.images[1:])
    assert torch.equal(again.images[0], fresh.images[1])
    assert len(_cache_files(own_cache)) == 2
    load_neu(moved, size=32)  # another size, another entry
    assert len(_cache_files(own_cache)) == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_shape"])
def test_corrupt_cache_is_rebuilt_with_a_warning(tiny_neu_dir, own_cache, damage):
    fresh = load_neu(tiny_neu_dir, size=32)
    (cache_file,) = _cache_files(own_cache)
    if damage == "garbage":
        cache_file.write_bytes(b"\x00not a torch file")
    elif damage == "truncated":
        cache_file.write_bytes(cache_file.read_bytes()[:1000])
    else:
        blob = torch.load(cache_file, weights_only=True)
        blob["images"] = blob["images"][:-1]
        torch.save(blob, cache_file)
    with pytest.warns(UserWarning, match="unreadable.*rebuilding"):
        rebuilt = load_neu(tiny_neu_dir, size=32)
    assert torch.equal(rebuilt.images, fresh.images) and rebuilt.digests == fresh.digests
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten cache is valid again
        assert torch.equal(load_neu(tiny_neu_dir, size=32).images, fresh.images)


def test_cache_false_writes_nothing(tiny_neu_dir, own_cache):
    load_neu(tiny_neu_dir, size=TINY_SIZE, cache=False)
    assert _cache_files(own_cache) == []


# --------------------------------------------------------------------------- images that are not square
def _stripes(path: Path, height: int, width: int, period: int) -> None:
    """Vertical stripes of ``period`` pixels: a texture whose scale we can measure."""
    x = np.arange(width)
    row = (127.5 + 100 * np.sin(2 * np.pi * x / period)).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.tile(row, (height, 1))).save(path)


def _period(image: torch.Tensor) -> float:
    """The dominant horizontal period (pixels) of one [1, S, S] image."""
    row = image.float().mean(dim=-2).flatten()
    k = int(torch.fft.rfft(row - row.mean()).abs()[1:].argmax()) + 1
    return row.numel() / k


def test_crop_keeps_the_texture_scale_that_stretch_squeezes(tmp_path):
    _stripes(tmp_path / "strip" / "wide.png", height=64, width=256, period=16)
    _stripes(tmp_path / "square" / "sq.png", height=64, width=64, period=16)
    with pytest.warns(
        UserWarning, match=r"1 image\(s\).*strip/wide\.png, 256x64 pixels.*4\.0 times.*fit='crop'"
    ):
        stretched = load_image_folder(tmp_path, size=64, cache=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # crop: nothing to warn about
        cropped = load_image_folder(tmp_path, size=64, cache=False, fit="crop")
    wide, square = stretched.classes.index("strip"), stretched.classes.index("square")
    assert _period(cropped.images[square]) == pytest.approx(16)
    assert _period(cropped.images[wide]) == pytest.approx(16)  # same texture, same scale
    assert _period(stretched.images[wide]) == pytest.approx(4)  # squeezed 4 times
    assert torch.equal(stretched.images[square], cropped.images[square])  # square: identical


def test_fit_is_part_of_the_cache_key_and_checked(tmp_path, own_cache):
    root = tmp_path / "own"  # beside the cache folder, not holding it
    _stripes(root / "a" / "1.png", height=32, width=96, period=8)
    _stripes(root / "b" / "1.png", height=32, width=32, period=8)
    with pytest.warns(UserWarning, match="not square"):
        first = load_image_folder(root, size=32)
    with pytest.warns(UserWarning, match="not square"):  # said again from the cache
        again = load_image_folder(root, size=32)
    cropped = load_image_folder(root, size=32, fit="crop")
    assert torch.equal(first.images, again.images)
    assert not torch.equal(first.images, cropped.images)
    assert len(_cache_files(own_cache)) == 2
    with pytest.raises(ValueError, match=r"fit must be one of \('stretch', 'crop'\); got 'pad'"):
        load_image_folder(root, size=32, fit="pad")
