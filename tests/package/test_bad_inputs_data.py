"""Bad inputs on the data side that once went wrong silently (issue 13): symlink loops, an
unwritable or corrupt decoded-image cache, 16-bit images, odd file and folder names, and
writes that a power loss or a SIGTERM could leave half done. See tests/BAD_INPUTS.md.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import oneshot_steel
from oneshot_steel.data import decoded_cache, fetch_neu, load_image_folder, load_neu
from oneshot_steel.data.imageset import NEU_CLASSES
from oneshot_steel.data.manifest import MANIFEST_NAME, read_manifest, verify_neu_folder
from oneshot_steel.errors import BadImageError, DataError, UnknownClassError
from oneshot_steel.files import atomic_write, atomic_write_text

SRC = str(Path(oneshot_steel.__file__).resolve().parents[1])


@pytest.fixture
def own_cache(tmp_path, monkeypatch) -> Path:
    """A cache folder of this test alone, and the warn-once memory cleared."""
    path = tmp_path / "cache"
    monkeypatch.setenv("ONESHOT_STEEL_CACHE", str(path))
    monkeypatch.setattr(decoded_cache, "_WARNED_FOLDERS", set())
    return path


def small_neu(tiny_neu_dir: Path, dest: Path, per_class: int = 2) -> Path:
    """A flat NEU folder with the first ``per_class`` images of each class."""
    dest.mkdir(parents=True)
    for cls in NEU_CLASSES:
        for i in range(1, per_class + 1):
            shutil.copyfile(tiny_neu_dir / f"{cls}_{i}.bmp", dest / f"{cls}_{i}.bmp")
    return dest


def subprocess_env(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "ONESHOT_STEEL_CACHE": str(cache)}


# --------------------------------------------------------------------------- symlinks
def test_a_symlink_loop_is_read_once_and_named(tiny_neu_dir, tmp_path):
    folder = small_neu(tiny_neu_dir, tmp_path / "d")
    (folder / "train").symlink_to(".")  # `ln -s . d/train`: the folder contains itself
    with pytest.warns(UserWarning, match=r"train.*loop"):
        data = load_neu(folder, size=16, cache=False)
    assert len(data) == 12 and len(set(data.paths)) == 12
    assert data.class_counts() == {c: 2 for c in NEU_CLASSES}


def test_an_image_folder_reads_each_real_file_once(tmp_path, write_image):
    root = tmp_path / "mine"
    write_image(root / "dent" / "a.png")
    write_image(root / "dent" / "b.png")
    write_image(root / "scratch" / "c.png")
    (root / "dent" / "up").symlink_to("..")  # a loop back to the root, inside a class
    (root / "scratch" / "again.png").symlink_to("../dent/a.png")  # one file in two classes
    (root / "dent2").symlink_to("dent")  # one folder under two class names
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_image_folder(root, size=8, cache=False)
    text = "\n".join(str(w.message) for w in caught)
    assert "up" in text and "loop" in text
    assert "again.png" in text and "dent2" in text
    assert data.classes == ["dent", "scratch"]
    assert data.class_counts() == {"dent": 2, "scratch": 1}


def test_a_broken_link_is_reported_not_skipped_silently(tiny_neu_dir, tmp_path):
    folder = small_neu(tiny_neu_dir, tmp_path / "d")
    (folder / "Cr_3.bmp").symlink_to("/no/such/file.bmp")
    with pytest.warns(UserWarning, match=r"Cr_3\.bmp"):
        assert len(load_neu(folder, size=16, cache=False)) == 12


# --------------------------------------------------------------------------- cache
@pytest.mark.parametrize("blocked", ["cache", "decoded"])
def test_an_unwritable_cache_warns_once_and_loading_goes_on(blocked, tiny_neu_dir, own_cache):
    # Root ignores file modes, so the cache is made unwritable by a file where a folder goes.
    if blocked == "cache":
        own_cache.parent.mkdir(exist_ok=True)
        own_cache.write_text("a file, not a folder")
    else:
        own_cache.mkdir()
        (own_cache / "decoded").write_text("a file, not a folder")
    with pytest.warns(UserWarning, match=r"cache.*ONESHOT_STEEL_CACHE") as record:
        first = load_neu(tiny_neu_dir, size=16)
    assert len([w for w in record if "ONESHOT_STEEL_CACHE" in str(w.message)]) == 1
    assert str(own_cache) in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once is enough
        again = load_neu(tiny_neu_dir, size=16)
    assert torch.equal(first.images, again.images) and len(first) == 72


def test_a_full_disk_does_not_stop_loading(tiny_neu_dir, tmp_path):
    """`ulimit -f` (as a full disk does) makes the cache write fail half-way through."""
    cache = tmp_path / "cache"
    script = (
        "from oneshot_steel.data import load_neu\n"
        f"print(len(load_neu({str(tiny_neu_dir)!r}, size=64)))\n"
    )
    limit = 64 << 10  # the cache of 72 images of 64x64 needs 295 KB

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-c", script], env=subprocess_env(cache), preexec_fn=small_files,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "72"
    assert "ONESHOT_STEEL_CACHE" in result.stderr and "Traceback" not in result.stderr
    assert list((cache / "decoded").iterdir()) == []  # no half-written file left behind


def test_flipped_bits_in_the_cache_are_detected_and_rebuilt(tiny_neu_dir, own_cache):
    fresh = load_neu(tiny_neu_dir, size=16)
    (cache_file,) = (own_cache / "decoded").glob("*.pt")
    raw = bytearray(cache_file.read_bytes())
    at = raw.index(bytes(fresh.images[5].flatten()[:32].tolist()))  # inside the pixel data
    raw[at] ^= 0xFF  # a flipped byte that torch.load does not notice
    cache_file.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="rebuilding"):
        again = load_neu(tiny_neu_dir, size=16)
    assert torch.equal(again.images, fresh.images)


# --------------------------------------------------------------------------- 16-bit images
def _save16(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(pixels.astype(np.uint16))
    assert img.mode == "I;16"
    img.save(path)


def test_12_bit_data_in_a_16_bit_png_keeps_its_levels(tmp_path):
    ramp = (np.arange(64 * 64).reshape(64, 64) % 4081).astype(np.uint16)  # 0..4080
    _save16(tmp_path / "a" / "x.png", ramp)
    _save16(tmp_path / "b" / "y.png", ramp // 20)  # a dark frame of the same camera
    data = load_image_folder(tmp_path, size=64, cache=False)
    expected = np.rint(ramp * (255 / 4095)).astype(np.uint8)
    assert np.array_equal(data.images[0, 0].numpy(), expected)
    assert len(data.images[0].unique()) == 255  # 0..254, not the 16 levels of v >> 8
    dark = np.rint((ramp // 20) * (255 / 4095)).astype(np.uint8)  # the set's depth, not its own
    assert np.array_equal(data.images[1, 0].numpy(), dark)


def test_8_bit_values_in_a_16_bit_png_are_not_black(tmp_path):
    ramp = (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint16)
    _save16(tmp_path / "a" / "x.png", ramp)
    data = load_image_folder(tmp_path, size=32, cache=False)
    assert np.array_equal(data.images[0, 0].numpy(), ramp.astype(np.uint8))


def test_16_bit_scaling_commutes_with_the_resize(tmp_path):
    ramp = (np.arange(40 * 40).reshape(40, 40) * 41 % 65536).astype(np.uint16)
    _save16(tmp_path / "a" / "x.png", ramp)
    Image.fromarray(np.rint(ramp * (255 / 65535)).astype(np.uint8)).save(tmp_path / "a" / "y.png")
    data = load_image_folder(tmp_path, size=20, cache=False)
    diff = data.images[0].int() - data.images[1].int()
    assert diff.abs().max() <= 1  # one rounding, at the end, instead of two


def test_signed_pixels_are_refused_naming_the_file(tmp_path):
    (tmp_path / "a").mkdir()
    Image.fromarray(np.full((8, 8), -5, np.int32)).save(tmp_path / "a" / "neg.tif")
    with pytest.raises(BadImageError, match=r"neg\.tif.*negative pixel values"):
        load_image_folder(tmp_path, size=8, cache=False)


# --------------------------------------------------------------------------- names
def test_spaced_neu_file_names_are_read(tiny_neu_dir, tmp_path):
    folder = small_neu(tiny_neu_dir, tmp_path / "d")
    (folder / "Cr_1.bmp").rename(folder / "Cr_ 1.bmp")
    (folder / "PS_2.bmp").rename(folder / "PS - 2.bmp")
    data = load_neu(folder, size=16, cache=False)
    assert data.class_counts() == {c: 2 for c in NEU_CLASSES}
    assert "Cr_ 1.bmp" in {Path(p).name for p in data.paths}


def test_images_that_are_not_neu_names_are_named_in_a_warning(tiny_neu_dir, tmp_path):
    folder = small_neu(tiny_neu_dir, tmp_path / "d")
    shutil.copyfile(folder / "Cr_1.bmp", folder / "Cr_1 copy.bmp")
    with pytest.warns(UserWarning, match=r"Cr_1 copy\.bmp"):
        assert len(load_neu(folder, size=16, cache=False)) == 12


def test_class_folder_names_are_stripped(tmp_path, write_image):
    write_image(tmp_path / " spaced " / "a.png")
    write_image(tmp_path / "plain" / "b.png")
    data = load_image_folder(tmp_path, size=8, cache=False)
    assert data.classes == ["plain", "spaced"]
    assert len(data.subset(["spaced"])) == 1  # what `--classes spaced` selects


def test_other_formats_and_commas_in_class_names_are_named(tmp_path, write_image):
    write_image(tmp_path / "dent" / "a.png")
    (tmp_path / "dent" / "b.webp").write_bytes(b"RIFF")
    write_image(tmp_path / "rust,old" / "c.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_image_folder(tmp_path, size=8, cache=False)
    text = "\n".join(str(w.message) for w in caught)
    assert "b.webp" in text and "format not read" in text
    assert "rust,old" in text and "--classes" in text
    assert data.classes == ["dent", "rust,old"]


def test_class_folders_differing_only_in_spaces_are_refused(tmp_path, write_image):
    write_image(tmp_path / "dent" / "a.png")
    write_image(tmp_path / "dent " / "b.png")
    with pytest.raises(DataError, match=r"'dent'.*'dent '"):
        load_image_folder(tmp_path, size=8, cache=False)


# --------------------------------------------------------------------------- atomic writes
def test_atomic_write_fsyncs_the_file_then_its_folder(tmp_path, monkeypatch):
    synced: list[os.stat_result] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.fstat(fd))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    target = atomic_write_text(tmp_path / "out.json", '{"ok": true}\n')
    assert target.read_text() == '{"ok": true}\n'
    assert [stat.S_ISDIR(s.st_mode) for s in synced] == [False, True]
    assert synced[0].st_ino == target.stat().st_ino and synced[0].st_size == 13
    assert synced[1].st_ino == tmp_path.stat().st_ino
    assert os.listdir(tmp_path) == ["out.json"]


def test_sigterm_during_an_atomic_write_removes_the_temp_file(tmp_path):
    target = tmp_path / "model.pt"
    target.write_text("the previous version")
    script = (
        "import sys, time\nfrom oneshot_steel.files import atomic_write\n"
        "def write(tmp):\n    tmp.write_bytes(b'half')\n    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "try:\n"  # as a notebook kernel does: SIGTERM must still end the process
        f"    atomic_write({str(target)!r}, write)\n"
        "except SystemExit:\n    print('swallowed', flush=True)\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env=subprocess_env(tmp_path / "cache"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "writing"
    assert len(list(tmp_path.glob(".model.pt.*.tmp"))) == 1
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM and "Traceback" not in err
    assert "swallowed" not in out
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]
    assert target.read_text() == "the previous version"


def test_atomic_write_leaves_sigterm_alone_outside_and_in_threads(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    seen = []
    atomic_write(tmp_path / "a", lambda p: seen.append(signal.getsignal(signal.SIGTERM)))
    assert signal.getsignal(signal.SIGTERM) is before
    if before is signal.SIG_DFL:
        assert seen[0] is not signal.SIG_DFL  # a handler only while writing
    worker = threading.Thread(target=atomic_write_text, args=(tmp_path / "b", "from a thread"))
    worker.start()  # signal handlers belong to the main thread: none is installed here
    worker.join()
    assert (tmp_path / "b").read_text() == "from a thread"


def test_a_failed_atomic_write_names_the_target_not_the_temp_file(tmp_path):
    target = tmp_path / "best.pt"
    target.write_text("the previous version")

    def disk_full(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

    with pytest.raises(OSError, match=r"could not write .*best\.pt: No space left") as caught:
        atomic_write(target, disk_full)
    assert caught.value.errno == errno.ENOSPC and ".tmp" not in str(caught.value)
    assert "disk has space" in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ["best.pt"]
    assert target.read_text() == "the previous version"


def test_an_atomic_write_into_a_file_posing_as_folder_names_the_target(tmp_path):
    (tmp_path / "runs").write_text("a file where a folder should be")
    with pytest.raises(NotADirectoryError, match=r"could not write .*runs/seed0/model\.pt"):
        atomic_write_text(tmp_path / "runs" / "seed0" / "model.pt", "x")


# --------------------------------------------------------------------------- found elsewhere
def test_a_file_named_for_another_class_is_named_in_a_warning(tmp_path, write_image):
    for i, name in enumerate(("Crazing", "Inclusion", "Patches", "Pitted", "Rolled", "Scratches")):
        write_image(tmp_path / name / f"{NEU_CLASSES[i]}_1.bmp")
    write_image(tmp_path / "Crazing" / "Sc_2.bmp")  # the folder says crazing, the name scratch
    with pytest.warns(UserWarning, match=r"another class's folder.*Sc_2\.bmp"):
        data = load_neu(tmp_path, size=8, cache=False)
    assert data.class_counts()["Cr"] == 2  # the folder decides, as before


def test_a_generic_folder_tried_as_neu_first_gets_no_neu_warnings(tmp_path, write_image):
    write_image(tmp_path / "dent" / "a.png")
    write_image(tmp_path / "rust" / "b.png")
    write_image(tmp_path / "a-photo.png")  # loose (and read before dent/): the image-folder
    # reader reports it itself
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UnknownClassError):
            load_neu(tmp_path, size=8, cache=False)  # what the CLI tries before the fallback


def test_a_huge_image_is_called_too_large_not_corrupt(tmp_path, write_image, monkeypatch):
    write_image(tmp_path / "dent" / "a.png", size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1,600 pixels is "huge" now
    with pytest.raises(BadImageError, match=r"a\.png' is too large.*Shrink it"):
        load_image_folder(tmp_path, size=8, cache=False)


def test_zero_byte_and_misnamed_format_images(tiny_neu_dir, tmp_path):
    """Held up before: an empty file is a bad image named in the error; a PNG called .bmp is
    read by its content."""
    folder = small_neu(tiny_neu_dir, tmp_path / "d")
    Image.open(folder / "In_1.bmp").save(folder / "In_2.bmp", format="PNG")
    assert len(load_neu(folder, size=16, cache=False)) == 12
    (folder / "Pa_2.bmp").write_bytes(b"")
    with pytest.raises(BadImageError, match=r"Pa_2\.bmp.*corrupt/truncated"):
        load_neu(folder, size=16, cache=False)


def test_fetch_from_a_folder_follows_links_once(tiny_neu_dir, tmp_path):
    sums = read_manifest(tiny_neu_dir / MANIFEST_NAME)
    mine = tmp_path / "mine"
    (mine / "all").mkdir(parents=True)
    for path in tiny_neu_dir.glob("*.bmp"):
        shutil.copyfile(path, mine / "all" / path.name)
    (mine / "train").symlink_to("all")  # a copy assembled from links ...
    (mine / "all" / "again").symlink_to("..")  # ... with a loop in it
    shutil.move(mine / "all", tmp_path / "elsewhere")
    (mine / "all").symlink_to(tmp_path / "elsewhere")
    dest = fetch_neu(tmp_path / "out", from_path=mine, manifest=sums, progress=False)
    verify_neu_folder(dest, sums)


def test_unreadable_entries_under_neu_names_are_named(tiny_neu_dir, tmp_path):
    sums = read_manifest(tiny_neu_dir / MANIFEST_NAME)
    mine = shutil.copytree(tiny_neu_dir, tmp_path / "mine")
    (mine / "Cr_3.bmp").unlink()
    (mine / "Cr_3.bmp").symlink_to(tmp_path / "gone.bmp")
    with pytest.raises(DataError, match=r"Cannot read 'Cr_3\.bmp'.*Fix or remove"):
        fetch_neu(tmp_path / "out", from_path=mine, manifest=sums, progress=False)
    dest = fetch_neu(tmp_path / "out", from_path=tiny_neu_dir, manifest=sums, progress=False)
    (dest / "In_4.bmp").unlink()
    (dest / "In_4.bmp").mkdir()  # a folder where a NEU file should be
    with pytest.raises(DataError, match=r"Cannot read .*In_4\.bmp.*fetch-data"):
        verify_neu_folder(dest, sums)
