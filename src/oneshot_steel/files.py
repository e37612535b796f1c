"""Files and folders: atomic, durable writes, the cache folder and the repository checkout."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "cache_dir",
    "cache_location",
    "fsync_folder",
    "repo_root",
    "sigterm_unwinds",
]


class _Terminated(SystemExit):
    """SIGTERM inside :func:`sigterm_unwinds`: unwinds the stack, then the signal is re-raised."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated(128 + signum)


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """While inside, SIGTERM first unwinds the stack to here as an exception, so ``finally``
    blocks and ``except BaseException`` clean-ups run and no temporary file is left behind
    (as for Ctrl-C); then the default action is restored and the signal raised again, so the
    process still dies of SIGTERM, as it would have (a notebook kernel cannot swallow it).

    Only when SIGTERM still has its default action and this is the main thread (the only one
    Python delivers signals to): a handler someone else installed, or SIG_IGN, is left alone.
    The default handler is restored on the way out: nothing changes for the rest of the process.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        raise  # only reached where SIGTERM is blocked: go on unwinding as SystemExit(143)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _fsync_file(path: Path) -> None:
    """Push ``path``'s bytes to the disk (write access is needed for this on Windows)."""
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    except PermissionError:  # write() left the file read-only; fsync works on POSIX anyway
        fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable; best effort.

    POSIX needs an fsync of the folder itself; where a folder cannot be opened (Windows has no
    ``O_DIRECTORY``) or synced (some network file systems), the rename is left to the OS.
    """
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``.

    The rename is atomic on one file system, so readers never see a half-written file and an
    interrupted write (an exception, Ctrl-C, or SIGTERM: see :func:`sigterm_unwinds`) leaves
    the previous version intact and no temporary file. The file is fsynced before the rename
    and its folder after it, so a power loss cannot leave the new name holding lost data.
    A ``kill -9`` can still leave a ``.NAME.*.tmp`` beside ``path``; nothing reads those.
    """
    path = Path(path)
    writing: Path | None = None  # the temporary file while ``write`` runs
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sigterm_unwinds():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            tmp_path = Path(tmp)
            try:
                writing = tmp_path
                write(tmp_path)
                writing = None
                tmp_path.chmod(0o666 & ~_current_umask())  # mkstemp makes 0600: normal perms
                _fsync_file(tmp_path)
                os.replace(tmp_path, path)
            except BaseException:
                tmp_path.unlink(missing_ok=True)
                raise
    except OSError as err:
        if writing is not None and (err.filename is None or Path(err.filename) != writing):
            raise  # an error of ``write``'s own (a download's timeout, say) stays as it is
        raise _named(err, path) from err  # creating, filling, syncing or renaming the file
    fsync_folder(path.parent)
    return path


def _named(err: OSError, path: Path) -> OSError:
    """``err`` retold about ``path``, the file the caller asked for, not the temporary file
    the failure happened in; same errno, so it is still a PermissionError, and so on."""
    if err.filename is not None and Path(err.filename) == path:
        return err  # already names it
    reason = err.strerror or str(err)
    message = (
        f"could not write {path}: {reason}. Nothing was changed there (the previous version, "
        "if any, is intact); check that its folder is writable and the disk has space, "
        "then run again"
    )
    return OSError(err.errno, message) if err.errno is not None else OSError(message)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def repo_root() -> Path | None:
    """The repository checkout this package runs from, or None when installed elsewhere."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "oneshot_steel").is_dir():
            return parent
    return None


def cache_location() -> Path:
    """The cache folder :func:`cache_dir` uses, without creating it."""
    env = os.environ.get("ONESHOT_STEEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "oneshot_steel"


def cache_dir() -> Path:
    """Where decoded arrays and the synthetic stand-in are cached, created when missing.

    ``ONESHOT_STEEL_CACHE`` when set, else ``~/.cache/oneshot_steel``. A folder that cannot be
    created raises an :class:`OSError` (of the same kind) that names it and the variable.
    """
    path = cache_location()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise type(err)(
            f"Cannot create the cache folder {str(path)!r} ({err.strerror or err}). Set "
            "ONESHOT_STEEL_CACHE to a folder you can write to."
        ) from err
    return path
