"""Load NEU-CLS (flat or one folder per class, any public layout) or any image folder.

Every loader goes through one pipeline: find the files (:mod:`.walk`: each real file once,
whatever links lead to it, and everything passed over named in a warning), hash their bytes
(the cache key), and either read the decoded, resized array from the on-disk cache
(:mod:`.decoded_cache`) or decode every file (:mod:`.decode`: grayscale, 16-bit images scaled
by the set's bit depth) and resize it once. So a second load of the 1,800 NEU images costs little more than hashing the files,
and nothing is decoded or resized twice in two different ways. The cache is a convenience:
when it cannot be written, loading goes on without it (with one warning), and a cache file
that does not check out is rebuilt.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import torch

from ..errors import (
    DataError,
    DataNotFoundError,
    EmptyClassError,
    UnknownClassError,
)
from ..files import cache_location
from .decode import FITS, decode, stretch_warning, to_uint8
from .decoded_cache import (
    CACHE_VERSION,
    cache_path,
    pixels_digest,
    read_cache,
    warn_cache_unavailable,
    write_cache,
)
from .imageset import NEU_CLASSES, ImageSet
from .paths import is_synthetic_folder
from .walk import IMAGE_EXTENSIONS, OTHER_IMAGE_EXTENSIONS, Walk, warn

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder", "load_neu_folder"]

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
#: A flat file's normalised stem (see :func:`_norm`): class name, separators, number.
_NEU_FILE = re.compile(r"^(?P<prefix>\D+?)_*(?P<num>\d+)$")
_TRAILING_NUMBER = re.compile(r"(\d+)$")
_ANY_IMAGE = IMAGE_EXTENSIONS | OTHER_IMAGE_EXTENSIONS


def _norm(name: str) -> str:
    """'Rolled-in Scale' -> 'rolled_in_scale': case, spaces and hyphens do not matter."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _sort_key(path: Path) -> tuple[int, int, str]:
    """Numeric suffix first (Cr_2 before Cr_10), then the name: a stable order everywhere."""
    match = _TRAILING_NUMBER.search(path.stem)
    return (0, int(match.group(1)), path.name) if match else (1, 0, path.name)


# --------------------------------------------------------------------------- layout discovery
def _neu_file_class(path: Path) -> str | None:
    """NEU class of a flat-layout file name, or None when it is not one.

    ``Cr_1.bmp``, and the same with any case, spaces, hyphens or underscores around or between
    its parts, or none (``Cr_ 1.bmp``, ``PS - 2.bmp``, ``crazing1.png``): a name a person
    would read as "crazing, number 1" is one.
    """
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return None
    match = _NEU_FILE.match(_norm(path.stem))
    return NEU_ALIASES.get(match.group("prefix").strip("_")) if match else None


def _accepted_names() -> str:
    classes = ", ".join(f"{c} ({'/'.join(n[1:])})" for c, n in _ALIASES.items())
    return (
        f"{classes} (spaces and hyphens count as underscores); split folders "
        f"{', '.join(sorted(SPLIT_FOLDERS))} are merged"
    )


def _collect_neu(walk: Walk, folder: Path, found: dict[str, list[Path]]) -> None:
    """Add the NEU images in ``folder`` to ``found``: flat files, class folders, split folders."""
    for entry, st in walk.entries(folder):
        if stat.S_ISREG(st.st_mode):
            cls = _neu_file_class(entry)
            if cls is not None:
                if walk.keep(entry, st):
                    found[cls].append(entry)
            elif entry.suffix.lower() in _ANY_IMAGE:  # README, SHA256SUMS: no images, no note
                walk.misnamed_image(entry)
            continue
        if not stat.S_ISDIR(st.st_mode) or not walk.enter(entry, st):
            continue
        name = _norm(entry.name)
        if name in NEU_ALIASES:
            cls = NEU_ALIASES[name]
            images = walk.images_under(entry)
            walk.mislabelled += [
                repr(str(p)) for p in images if _neu_file_class(p) not in {None, cls}
            ]
            found[cls].extend(images)
        elif name in SPLIT_FOLDERS:
            _collect_neu(walk, entry, found)
        elif walk.images_under(entry):  # a folder with no images (docs, notebooks) is ignored
            raise UnknownClassError(
                f"The folder {str(entry)!r} holds images but its name is not a NEU-CLS class. "
                f"Accepted names (any case): {_accepted_names()}. Rename the folder, move it out, "
                "or use load_image_folder() for a set of your own classes."
            )


def _find_neu_files(walk: Walk, root: Path) -> dict[str, list[Path]]:
    entries = walk.entries(root)
    subdirs = [(p, st) for p, st in entries if stat.S_ISDIR(st.st_mode)]
    known = {*NEU_ALIASES, *SPLIT_FOLDERS}
    recognised = any(_neu_file_class(p) for p, st in entries if stat.S_ISREG(st.st_mode)) or any(
        _norm(d.name) in known for d, _ in subdirs
    )
    if not recognised and len(subdirs) == 1 and walk.enter(*subdirs[0]):
        return _find_neu_files(walk, subdirs[0][0])  # a wrapper folder, as archives have
    found: dict[str, list[Path]] = {c: [] for c in NEU_CLASSES}
    _collect_neu(walk, root, found)
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


def _warn_if_stretched(root: Path, relpaths: list[str], shapes: list) -> None:
    message = stretch_warning(str(root), relpaths, shapes)
    if message:
        warn(message)


def _load_files(
    root: Path,
    files: dict[str, list[Path]],
    size: int,
    *,
    cache: bool,
    source: str,
    synthetic: bool = False,
    fit: str = "stretch",
) -> ImageSet:
    """The shared pipeline: ``files`` maps class name -> image paths, in class order."""
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}; got {fit!r}")
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
            cache_file = cache_path(paths, relpaths, labels.tolist(), size, classes, fit)
        except OSError as err:  # the cache folder cannot be created
            warn_cache_unavailable(cache_location() / "decoded", err)
    if cache_file is not None:
        blob = read_cache(cache_file, relpaths, size)
        if blob is not None:
            if fit == "stretch":
                _warn_if_stretched(root, relpaths, blob.get("shapes") or [])
            return ImageSet(
                blob["images"], labels, classes, [str(p) for p in paths],
                list(blob["digests"]), source, synthetic,
            )  # fmt: skip

    # A plain loop: on 2 cores a thread pool measured slower (Pillow's BMP decoder holds the GIL
    # and per-image torch calls contend), and one batched resize of [1800, 1, 200, 200] floats
    # was slower still; images may also differ in size, which a batch cannot hold.
    decoded = [decode(p, size, fit) for p in paths]
    images = torch.from_numpy(to_uint8(decoded))[:, None].contiguous()
    digests = [d.digest for d in decoded]
    shapes = [list(d.shape) for d in decoded]
    if fit == "stretch":
        _warn_if_stretched(root, relpaths, shapes)
    if cache_file is not None:
        blob = {
            "version": CACHE_VERSION,
            "relpaths": relpaths,
            "images": images,
            "images_sha256": pixels_digest(images),
            "digests": digests,
            "shapes": shapes,
        }
        write_cache(cache_file, blob)
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
    walk = Walk()
    walk.enter(folder)
    try:
        files = _find_neu_files(walk, folder)
    except UnknownClassError:
        raise  # no NEU folder at all: notes on it would mislead a caller that reads it otherwise
    except DataError:
        walk.report()  # a broken link may be why a class is empty
        raise
    walk.report()
    return _load_files(folder, files, size, cache=cache, source=source, synthetic=synthetic)


def _class_folders(folder: Path, entries: list[tuple[Path, os.stat_result]]) -> dict[str, Path]:
    """Class name -> folder, sorted by name. A name is the folder's name without leading or
    trailing spaces, which no one can see or type in ``--classes``."""
    named: dict[str, Path] = {}
    for path, st in entries:
        if not stat.S_ISDIR(st.st_mode):
            continue
        name = path.name.strip()
        if not name:
            raise DataError(
                f"The class folder {str(path)!r} has a name made of spaces only: rename it."
            )
        if name in named:
            raise DataError(
                f"The class folders {named[name].name!r} and {path.name!r} in {str(folder)!r} "
                f"differ only in leading or trailing spaces, so both would be the class "
                f"{name!r}: merge them or rename one."
            )
        if "," in name:
            warn(
                f"The class folder {str(path)!r} has a comma in its name: the command line's "
                "--classes (a comma-separated list) cannot select it. Rename it to select it."
            )
        named[name] = path
    return dict(sorted(named.items()))


def load_image_folder(
    root: str | os.PathLike, size: int = 100, cache: bool = True, *, fit: str = "stretch"
) -> ImageSet:
    """Load your own defects: one sub-folder per class of bmp/png/jpg/tif images (any case).

    Images of any size and colour are read as ``size`` x ``size`` grayscale: colour through
    its luma (the networks read one channel, and a camera's colour balance carries no defect
    shape), sizes by resizing. ``fit`` says what happens to images that are not square:
    ``"stretch"`` (all of the image, texture squeezed; a warning names elongated images) or
    ``"crop"`` (the central square, texture as it is). Pixels are only scaled to [-1, 1]
    later, by a fixed ``x / 127.5 - 1``: nothing assumes NEU's brightness or contrast.

    Class names are the folder names without leading or trailing spaces (so ``--classes``
    finds them; two folders that differ only in such spaces are refused), sorted. Images are
    decoded, converted to grayscale and resized exactly as in :func:`load_neu` (16-bit images
    are scaled by the set's bit depth: see :mod:`oneshot_steel.data.decode`). Files of other
    image formats, images lying loose in ``root`` (they belong to no class), a class folder
    that is another one again through a link, and files or folders reached twice through
    links are skipped and named in a warning: each real image is loaded once. Entries whose
    names start with ``.`` or ``__`` (``.git``, ``__MACOSX``, ``._x.png``) are tool files, and
    skipped without one.
    """
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise DataNotFoundError(
            f"The image folder {str(folder)!r} does not exist or is not a folder. Give a folder "
            "with one sub-folder per class, e.g. my_defects/scratch/*.png, my_defects/dent/*.png."
        )
    folder = folder.resolve()
    walk = Walk()
    walk.enter(folder)
    try:
        files = _image_folder_files(walk, folder)
    finally:
        walk.report()
    return _load_files(folder, files, size, cache=cache, source=str(folder), fit=fit)


def _image_folder_files(walk: Walk, folder: Path) -> dict[str, list[Path]]:
    entries = walk.entries(folder)
    class_dirs = _class_folders(folder, entries)
    if not class_dirs:
        raise DataNotFoundError(
            f"{str(folder)!r} has no class folders. Put each class's images in its own "
            "sub-folder (the folder name becomes the class name)."
        )
    loose = [p for p, st in entries if stat.S_ISREG(st.st_mode) and p.suffix.lower() in _ANY_IMAGE]
    if loose:
        warn(
            f"Ignoring {len(loose)} image(s) directly in {str(folder)!r} (e.g. {loose[0].name}): "
            "only images inside class folders are loaded."
        )
    files = {name: walk.images_under(path) for name, path in class_dirs.items() if walk.enter(path)}
    for name, found in files.items():
        if not found:
            raise EmptyClassError(
                f"The class folder {str(class_dirs[name])!r} holds no images "
                f"({', '.join(sorted(IMAGE_EXTENSIONS))}). Add images or remove the folder."
            )
    return files
