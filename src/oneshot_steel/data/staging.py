"""Building a data folder beside its destination and renaming it into place.

Whoever writes a whole folder (:func:`~oneshot_steel.data.fetch.fetch_neu`,
:func:`~oneshot_steel.data.synthetic.make_synthetic`) builds it inside :func:`staging` and
finishes with :func:`swap_into_place`, so the destination is never half written and an
interrupted run (an error, Ctrl-C or SIGTERM) leaves no temporary folder. A run killed
outright (``kill -9``, a power cut) cannot clean up: its folder records its owner, and the
next :func:`staging` of the same destination removes it once that owner is gone.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..files import fsync_folder, sigterm_unwinds

__all__ = ["STALE_AFTER_S", "remove_stale", "staging", "swap_into_place"]

#: A temporary folder whose owner cannot be checked (another machine sharing the folder, an
#: older version that wrote no owner, a reused process id) is removed after this long. No
#: fetch or stand-in build takes anywhere near it.
STALE_AFTER_S = 6 * 3600.0
_OWNER = ".owner"  # "PID HOST" of the process that made the temporary folder
_KINDS = ("fetch", "old")  # the folders staging and swap_into_place make beside a destination


def _private_folder(dest: Path, kind: str) -> Path:
    """A new folder ``.NAME.KIND-*`` beside ``dest`` (mode 0700), stamped with its owner."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{kind}-", dir=dest.parent))
    try:
        (tmp / _OWNER).write_text(f"{os.getpid()} {socket.gethostname()}\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine; True when that cannot be told."""
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill(pid, 0) would kill it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's live process
        return True
    return True


def _abandoned(folder: Path) -> bool:
    """True when no running process can still be building in ``folder``."""
    try:
        old = time.time() - folder.stat().st_mtime > STALE_AFTER_S
    except OSError:
        return False
    try:
        pid_text, host = (folder / _OWNER).read_text(encoding="utf-8").split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return old  # no owner recorded: only age tells
    return old or (host == socket.gethostname() and not _alive(pid))


def remove_stale(dest: Path) -> list[Path]:
    """Remove the temporary folders of ``dest`` left by runs that were killed; return them.

    Only ``.NAME.fetch-*`` and ``.NAME.old-*`` beside ``dest`` whose owning process has
    ended (or which are older than :data:`STALE_AFTER_S`): a concurrent fetch keeps its own.
    """
    prefixes = tuple(f".{dest.name}.{kind}-" for kind in _KINDS)
    try:
        entries = list(dest.parent.iterdir())
    except OSError:
        return []
    removed = []
    for entry in entries:
        if (
            entry.name.startswith(prefixes)
            and entry.is_dir()
            and not entry.is_symlink()
            and _abandoned(entry)
        ):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextmanager
def staging(dest: Path) -> Iterator[Path]:
    """A temporary folder beside ``dest`` (same file system: the final rename is atomic),
    removed on the way out whatever happens, Ctrl-C and SIGTERM included. Build the new
    folder in a subfolder of it: the temporary folder itself is private (mode 0700).
    Stale temporary folders of ``dest`` from killed runs are removed first."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with sigterm_unwinds():
        remove_stale(dest)
        tmp = None
        try:
            tmp = _private_folder(dest, "fetch")
            yield tmp
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


def swap_into_place(tmp: Path, dest: Path) -> None:
    """Rename the finished folder ``tmp`` onto ``dest``, moving an old ``dest`` aside first;
    if anything fails in between, the old ``dest`` is put back."""
    aside = None
    try:
        if dest.exists():
            aside = _private_folder(dest, "old")
            os.replace(dest, aside / "old")
        os.replace(tmp, dest)
    except BaseException:
        if aside is not None and (aside / "old").exists() and not dest.exists():
            with suppress(OSError):
                os.replace(aside / "old", dest)
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    fsync_folder(dest.parent)
