"""Finding the image files of a data folder: each real folder entered once, each real file
kept once, and every file passed over reported.

Symbolic links are followed (a data folder assembled from links is common), so a link can
lead back into a folder being read (``ln -s . data/train``) or reach a file a second time.
Without a check, such a folder would be read again and again until the OS gives up on the
path, multiplying the data. A :class:`Walk` remembers every real folder and file it has
reached (by device and inode), skips a repeat and names it in a warning, as it does for
broken links and image files it does not read; hidden entries (``.git``, ``__MACOSX``,
``._Cr_1.bmp``) are skipped without a word.
"""

from __future__ import annotations

import os
import stat
import sys
import warnings
from pathlib import Path

from ..errors import DataError

__all__ = ["IMAGE_EXTENSIONS", "OTHER_IMAGE_EXTENSIONS", "Walk", "hidden_name", "warn"]

_PACKAGE = str(Path(__file__).resolve().parents[1])

#: File extensions (lower case) read as images.
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
#: Extensions of other image formats: such files are reported when skipped, never silently.
OTHER_IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".gif", ".webp", ".pgm", ".ppm", ".pbm", ".pnm", ".jp2", ".j2k", ".jpe", ".jfif", ".dib",
     ".heic", ".heif", ".avif", ".tga", ".exr", ".dcm", ".raw", ".dng"}
)  # fmt: skip


def warn(message: str) -> None:
    """A UserWarning attributed to the first caller outside this package (a notebook cell, a
    script), so that it points at the user's own line."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, UserWarning, stacklevel=level)


def hidden_name(name: str) -> bool:
    """True for names skipped everywhere: .git, .ipynb_checkpoints, __MACOSX, temp files."""
    return name.startswith((".", "__"))


def _key(path: Path, st: os.stat_result) -> tuple[int, int] | str:
    """What makes a file or folder the same one, whichever path leads to it."""
    return (st.st_dev, st.st_ino) if st.st_ino else os.path.realpath(path)


def _examples(items: list[str]) -> str:
    shown = "; ".join(items[:3])
    return shown + (f"; and {len(items) - 3} more" if len(items) > 3 else "")


class Walk:
    """One pass over a data folder; :meth:`report` warns about everything passed over."""

    def __init__(self) -> None:
        self._folders: dict[tuple[int, int] | str, Path] = {}
        self._files: dict[tuple[int, int] | str, Path] = {}
        self.loops: list[str] = []
        self.repeats: list[str] = []
        self.broken: list[str] = []
        self.misnamed: list[str] = []
        self.mislabelled: list[str] = []
        self.unsupported: list[str] = []

    def entries(self, folder: Path) -> list[tuple[Path, os.stat_result]]:
        """The visible entries of ``folder``, sorted by name, with their (followed) stat;
        broken links are noted and left out."""
        try:
            names = sorted(os.listdir(folder))
        except OSError as err:
            raise DataError(
                f"Cannot list the folder {str(folder)!r} ({err.strerror or err}). Check that it "
                "exists and that you may read it."
            ) from err
        found = []
        for name in names:
            if hidden_name(name):
                continue
            path = folder / name
            try:
                found.append((path, path.stat()))
            except OSError as err:  # a broken link, a link loop (ELOOP), a vanished file
                self.broken.append(f"{str(path)!r} ({err.strerror or err})")
        return found

    def enter(self, folder: Path, st: os.stat_result | None = None) -> bool:
        """True the first time a real folder is reached; a repeat is noted and gives False."""
        key = _key(folder, folder.stat() if st is None else st)
        first = self._folders.get(key)
        if first is None:
            self._folders[key] = folder
            return True
        if first in folder.parents:
            self.loops.append(f"{str(folder)!r} (a link back to {str(first)!r}: a loop)")
        else:
            self.loops.append(f"{str(folder)!r} (the folder {str(first)!r} again)")
        return False

    def keep(self, path: Path, st: os.stat_result) -> bool:
        """True the first time a real file is reached; a repeat is noted and gives False."""
        key = _key(path, st)
        first = self._files.get(key)
        if first is None:
            self._files[key] = path
            return True
        self.repeats.append(f"{str(path)!r} (the file {str(first)!r} again)")
        return False

    def misnamed_image(self, path: Path) -> None:
        """Note an image passed over because its name says nothing of its class."""
        self.misnamed.append(repr(str(path)))

    def not_an_image(self, path: Path) -> None:
        """Note ``path`` when its extension says it is an image of a format not read."""
        if path.suffix.lower() in OTHER_IMAGE_EXTENSIONS:
            self.unsupported.append(repr(str(path)))

    def images_under(self, folder: Path) -> list[Path]:
        """The image files anywhere below ``folder`` (entered by the caller), each real file
        once; repeats, broken links and other image formats are noted for :meth:`report`."""
        images = []
        for path, st in self.entries(folder):
            if stat.S_ISDIR(st.st_mode):
                if self.enter(path, st):
                    images.extend(self.images_under(path))
            elif not stat.S_ISREG(st.st_mode):
                continue  # a socket or a device: nothing a user would take for an image
            elif path.suffix.lower() in IMAGE_EXTENSIONS:
                if self.keep(path, st):
                    images.append(path)
            else:
                self.not_an_image(path)
        return images

    def report(self) -> None:
        """One warning per kind of thing passed over, naming the first few."""
        what = [
            (self.loops, "Skipped {} folder(s) reached again through a symbolic link (a loop "
             "or a second path), each read once only"),
            (self.repeats, "Skipped {} file(s) reached a second time through a link, each "
             "loaded once"),
            (self.broken, "Skipped {} broken link(s) or unreadable entries: fix or remove them"),
            (self.misnamed, "Skipped {} image file(s) whose names are not NEU-CLS names "
             "(expected like Cr_1.bmp or crazing_1.png, or put them in a folder per class): "
             "rename them to load them"),
            (self.mislabelled, "Loaded {} image file(s) named for one class from another "
             "class's folder, as the folder's class: check them"),
            (self.unsupported, "Skipped {} file(s) of an image format not read: convert them "
             f"to one of {', '.join(sorted(IMAGE_EXTENSIONS))} to load them"),
        ]  # fmt: skip
        for items, text in what:
            if items:
                warn(f"{text.format(len(items))}: {_examples(items)}.")
