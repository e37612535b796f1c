"""Load NEU-CLS (flat or one folder per class, any public layout) or any image folder.

Every loader goes through one pipeline: find the files, hash their bytes (the cache key), and
either read the decoded, resized array from the on-disk cache or decode every file with Pillow
(:mod:`.decode`: grayscale, 16-bit images scaled by the set's bit depth) and resize it once. So a second load of the 1,800 NEU images costs little more than
hashing the files, and nothing is decoded or resized twice in two different ways. The cache is
a convenience: when it cannot be written, loading goes on without it (with one warning), and a
cache file that does not check out is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import torch

from ..errors import BadImageError, DataNotFoundError, EmptyClassError, UnknownClassError
from ..files import atomic_write, cache_dir, cache_location
from .decode import decode, to_uint8
from .imageset import NEU_CLASSES, ImageSet
from .paths import is_synthetic_folder

#: File extensions (lower case) read as images.
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})

_ALIASES: dict[str, tuple[str, ...]] = {
    "Cr": ("cr", "crazing"),
    "In": ("in", "inclusion"),
    "Pa": ("pa", "patch", "patches"),
    "PS": ("ps", "pitted", "pitted_surface"),
    "RS": ("rs", "rolled", "rolled_in_scale"),
    "Sc": ("sc", "scratch", "scratches"),
}
#: Normalised folder or file-prefix name -> NEU class prefix (see :func:`_norm`).
NEU_ALIASES: dict[str, str] = {a: cls for cls, names in _ALIASES.items() for a in names}
#: Folder names of train/validation/test splits; their contents are merged.
SPLIT_FOLDERS: frozenset[str] = frozenset(
    {"train", "training", "val", "valid", "validation", "test", "testing"}
)
_NEU_FILE = re.compile(r"^(?P<prefix>.+?)_(?P<num>\d+)$")
_TRAILING_NUMBER = re.compile(r"(\d+)$")
_CACHE_VERSION = "oneshot-steel-decoded-v2"  # v2: a digest of the pixels guards against bit rot
#: Cache folders already warned about in this process: said once is enough.
_CACHE_WARNED: set[str] = set()


def _norm(name: str) -> str:
    """'Rolled-in Scale' -> 'rolled_in_scale': case, spaces and hyphens do not matter."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _hidden_name(name: str) -> bool:
    return name.startswith((".", "__"))  # .git, .ipynb_checkpoints, __MACOSX, temp files


def _hidden(path: Path) -> bool:
    return _hidden_name(path.name)


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file() and not _hidden(path)


def _images_under(folder: Path) -> list[Path]:
    """Image files anywhere below ``folder``, skipping hidden folders inside it."""
    return [
        p
        for p in folder.rglob("*")
        if _is_image(p) and not any(map(_hidden_name, p.relative_to(folder).parts))
    ]


def _sort_key(path: Path) -> tuple[int, int, str]:
    """Numeric suffix first (Cr_2 before Cr_10), then the name: a stable order everywhere."""
    match = _TRAILING_NUMBER.search(path.stem)
    return (0, int(match.group(1)), path.name) if match else (1, 0, path.name)


# --------------------------------------------------------------------------- layout discovery
def _neu_file_class(path: Path) -> str | None:
    """NEU class of a flat-layout file name such as ``Cr_1.bmp``, or None when it is not one."""
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return None
    match = _NEU_FILE.match(path.stem)
    return NEU_ALIASES.get(_norm(match.group("prefix"))) if match else None


def _accepted_names() -> str:
    classes = ", ".join(f"{c} ({'/'.join(n[1:])})" for c, n in _ALIASES.items())
    return (
        f"{classes} (spaces and hyphens count as underscores); split folders "
        f"{', '.join(sorted(SPLIT_FOLDERS))} are merged"
    )


def _collect_neu(folder: Path, found: dict[str, list[Path]]) -> None:
    """Add the NEU images in ``folder`` to ``found``: flat files, class folders, split folders."""
    for entry in sorted(folder.iterdir()):
        if _hidden(entry):
            continue
        if entry.is_file():
            cls = _neu_file_class(entry)
            if cls is not None:  # README, SHA256SUMS, notes.png: not NEU images, ignored
                found[cls].append(entry)
            continue
        if not entry.is_dir():
            continue
        name = _norm(entry.name)
        if name in NEU_ALIASES:
            found[NEU_ALIASES[name]].extend(_images_under(entry))
        elif name in SPLIT_FOLDERS:
            _collect_neu(entry, found)
        elif _images_under(entry):  # a folder with no images (docs, notebooks) is ignored
            raise UnknownClassError(
                f"The folder {str(entry)!r} holds images but its name is not a NEU-CLS class. "
                f"Accepted names (any case): {_accepted_names()}. Rename the folder, move it out, "
                "or use load_image_folder() for a set of your own classes."
            )


def _find_neu_files(root: Path) -> dict[str, list[Path]]:
    entries = [p for p in root.iterdir() if not _hidden(p)]
    subdirs = [p for p in entries if p.is_dir()]
    known = {*NEU_ALIASES, *SPLIT_FOLDERS}
    recognised = any(_neu_file_class(p) for p in entries if p.is_file()) or any(
        _norm(d.name) in known for d in subdirs
    )
    if not recognised and len(subdirs) == 1:  # a wrapper folder, as archives and repos have
        return _find_neu_files(subdirs[0])
    found: dict[str, list[Path]] = {c: [] for c in NEU_CLASSES}
    _collect_neu(root, found)
    if not any(found.values()):
        raise DataNotFoundError(
            f"No NEU-CLS images found in {str(root)!r}: expected files named like Cr_1.bmp, or "
            f"one folder per class ({_accepted_names()}). Check the path, or run "
            "`python -m oneshot_steel fetch-data --from PATH` to install the set."
        )
    for cls, files in found.items():
        if not files:
            raise EmptyClassError(
                f"The NEU-CLS class {cls} has no images in {str(root)!r} (expected {cls}_1.bmp ... "
                f"or a folder named like {_ALIASES[cls][1]!r}). The copy is incomplete: fetch it "
                "again with `python -m oneshot_steel fetch-data`."
            )
    return found


# --------------------------------------------------------------------------- cache
def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise BadImageError(
            f"Cannot read {str(path)!r} ({err.strerror or err}). Check its permissions, or "
            "replace or delete the file."
        ) from err


def _cache_unavailable(folder: Path, err: BaseException) -> None:
    """Warn, once per folder and process, that the cache cannot be written."""
    if str(folder) in _CACHE_WARNED:
        return
    _CACHE_WARNED.add(str(folder))
    cause = err.__cause__ if isinstance(err.__cause__, OSError) else err  # cache_dir's own
    reason = getattr(cause, "strerror", None) or (str(cause).strip().splitlines() or [""])[0]
    warnings.warn(
        f"Cannot write the image cache in {str(folder)!r} ({type(cause).__name__}: {reason}); "
        "loading goes on without it, decoding the images every time. Free some disk space or "
        "fix the folder, or set ONESHOT_STEEL_CACHE to a folder you can write to.",
        stacklevel=5,
    )


def _images_digest(images: torch.Tensor) -> str:
    return hashlib.sha256(images.numpy().tobytes()).hexdigest()


def _load_cached(path: Path, relpaths: list[str], size: int) -> dict | None:
    """The cached arrays when ``path`` holds a valid cache for these files, else None."""
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        n = len(relpaths)
        ok = (
            isinstance(blob, dict)
            and blob.get("version") == _CACHE_VERSION
            and blob.get("relpaths") == relpaths
            and blob["images"].dtype == torch.uint8
            and tuple(blob["images"].shape) == (n, 1, size, size)
            and len(blob["digests"]) == n
        )
        if not ok:
            raise ValueError("contents do not match the image files")
        if _images_digest(blob["images"]) != blob.get("images_sha256"):
            raise ValueError("the pixels do not match their SHA-256 (the file is damaged)")
        return blob
    except Exception as err:  # any unreadable cache is rebuilt, never trusted
        reason = (str(err).strip().splitlines() or [""])[0]
        warnings.warn(
            f"The image cache {str(path)!r} is unreadable ({type(err).__name__}: {reason}); "
            "rebuilding it from the image files.",
            stacklevel=4,
        )
        return None


def _cache_file(
    paths: list[Path], relpaths: list[str], labels: list[int], size: int, classes: list[str]
) -> Path:
    """Where the cache of these files lives: named by their bytes, names, labels and size."""
    key = hashlib.sha256(f"{_CACHE_VERSION}\0{size}\0{classes}\n".encode())
    for path, rel, label in zip(paths, relpaths, labels, strict=True):
        key.update(f"{label}\0{rel}\0{_file_sha256(path)}\n".encode())
    return cache_dir() / "decoded" / f"{key.hexdigest()[:40]}-{size}px.pt"


def _save_cache(path: Path, blob: dict) -> None:
    """Write the cache atomically; when it cannot be written (read-only, disk full, a file
    size limit), warn once and go on: the cache only saves time."""
    try:
        atomic_write(path, lambda tmp: torch.save(blob, tmp))
    except (OSError, RuntimeError) as err:  # torch.save reports a failed write as RuntimeError
        _cache_unavailable(path.parent, err)


def _load_files(
    root: Path,
    files: dict[str, list[Path]],
    size: int,
    *,
    cache: bool,
    source: str,
    synthetic: bool = False,
) -> ImageSet:
    """The shared pipeline: ``files`` maps class name -> image paths, in class order."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive int (pixels per side); got {size!r}")
    classes = list(files)
    ordered = [(p, i) for i, c in enumerate(classes) for p in sorted(files[c], key=_sort_key)]
    paths = [p for p, _ in ordered]
    labels = torch.tensor([i for _, i in ordered], dtype=torch.int64)
    relpaths = [p.relative_to(root).as_posix() for p in paths]

    cache_file = None
    if cache:
        try:
            cache_file = _cache_file(paths, relpaths, labels.tolist(), size, classes)
        except OSError as err:  # the cache folder cannot be created
            _cache_unavailable(cache_location() / "decoded", err)
    if cache_file is not None:
        blob = _load_cached(cache_file, relpaths, size)
        if blob is not None:
            return ImageSet(
                blob["images"], labels, classes, [str(p) for p in paths],
                list(blob["digests"]), source, synthetic,
            )  # fmt: skip

    # A plain loop: on 2 cores a thread pool measured slower (Pillow's BMP decoder holds the GIL
    # and per-image torch calls contend), and one batched resize of [1800, 1, 200, 200] floats
    # was slower still; images may also differ in size, which a batch cannot hold.
    decoded = [decode(p, size) for p in paths]
    images = torch.from_numpy(to_uint8(decoded))[:, None].contiguous()
    digests = [d.digest for d in decoded]
    if cache_file is not None:
        blob = {
            "version": _CACHE_VERSION,
            "relpaths": relpaths,
            "images": images,
            "images_sha256": _images_digest(images),
            "digests": digests,
        }
        _save_cache(cache_file, blob)
    return ImageSet(images, labels, classes, [str(p) for p in paths], digests, source, synthetic)


# --------------------------------------------------------------------------- public loaders
def load_neu_folder(folder: str | os.PathLike, size: int = 100, cache: bool = True) -> ImageSet:
    """Load the NEU-CLS images in ``folder`` (which must exist) as an :class:`ImageSet`.

    The layout, decoding, resizing and cache are those described in
    :func:`oneshot_steel.data.load_neu`, which finds the folder (and fetches or generates it)
    before calling this. ``synthetic`` is True when the folder bears the stand-in's marker.
    """
    folder = Path(folder).resolve()
    synthetic = is_synthetic_folder(folder)
    source = f"synthetic stand-in ({folder})" if synthetic else str(folder)
    return _load_files(
        folder, _find_neu_files(folder), size, cache=cache, source=source, synthetic=synthetic
    )


def load_image_folder(root: str | os.PathLike, size: int = 100, cache: bool = True) -> ImageSet:
    """Load your own defects: one sub-folder per class of bmp/png/jpg/tif images (any case).

    Class names are the folder names, sorted; images are decoded, converted to grayscale and
    resized exactly as in :func:`load_neu`. Files with other extensions are ignored, and so are
    images lying loose in ``root`` (with a warning), because they belong to no class.
    """
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise DataNotFoundError(
            f"The image folder {str(folder)!r} does not exist or is not a folder. Give a folder "
            "with one sub-folder per class, e.g. my_defects/scratch/*.png, my_defects/dent/*.png."
        )
    folder = folder.resolve()
    class_dirs = sorted((p for p in folder.iterdir() if p.is_dir() and not _hidden(p)), key=str)
    if not class_dirs:
        raise DataNotFoundError(
            f"{str(folder)!r} has no class folders. Put each class's images in its own "
            "sub-folder (the folder name becomes the class name)."
        )
    loose = [p for p in folder.iterdir() if _is_image(p)]
    if loose:
        warnings.warn(
            f"Ignoring {len(loose)} image(s) directly in {str(folder)!r} (e.g. {loose[0].name}): "
            "only images inside class folders are loaded.",
            stacklevel=2,
        )
    files = {d.name: _images_under(d) for d in class_dirs}
    for name, found in files.items():
        if not found:
            raise EmptyClassError(
                f"The class folder {str(folder / name)!r} holds no images "
                f"({', '.join(sorted(IMAGE_EXTENSIONS))}). Add images or remove the folder."
            )
    return _load_files(folder, files, size, cache=cache, source=str(folder))
