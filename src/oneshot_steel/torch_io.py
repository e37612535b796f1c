"""Torch files on disk: written whole or not at all, and every failure told in one line
that names the file.

``torch.save`` that runs out of space (or into ``ulimit -f``) raises an internal
``RuntimeError`` ("enforce fail at inline_container.cc"); :func:`write_file` turns it into a
:class:`~oneshot_steel.errors.CheckpointError` that says which file and what to do, and
:func:`write_companion_json` never leaves a JSON file that describes another state than the
torch file beside it.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import CheckpointError, OneShotSteelError
from .files import atomic_write

__all__ = ["write_companion_json", "write_failed", "write_file"]


def write_failed(path: Path, exc: BaseException) -> str:
    """The one-line message of a write of ``path`` that failed with ``exc``: why, when that
    can be known, and what to do."""
    code = exc.errno if isinstance(exc, OSError) else None
    limit = _file_size_limit()
    if code == errno.EFBIG or (code is None and limit is not None):
        why = "file too large" + (
            f" (files are limited to {limit} bytes: ulimit -f)" if limit is not None else ""
        )
        todo = "Lift the limit or choose another --out (out_dir)"
    elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)) or (
        code is None and _free_bytes(path) < 2**20
    ):
        why, todo = "disk full (or quota used up)", "Free space or choose another --out (out_dir)"
    else:  # torch's own text ("enforce fail at inline_container.cc ...") tells a reader nothing
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "the write failed"
        why += " (file too large / disk full?)" if code is None else ""
        todo = "Free space, check that the folder is writable, or choose another --out (out_dir)"
    return f"could not write {path}: {why}. {todo}; {path.name} was left as it was."


def _file_size_limit() -> int | None:
    """The largest file this process may write (``ulimit -f``), or None when unlimited."""
    try:
        import resource  # Unix only
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return 2**62  # unknown: do not claim the disk is full


def write_file(
    path: str | os.PathLike,
    write: Callable[[Path], None],
    error: type[OneShotSteelError] = CheckpointError,
    failures: tuple[type[Exception], ...] = (OSError, RuntimeError),
) -> Path:
    """``write(temporary file)``, then rename it onto ``path`` (see :func:`.files.atomic_write`).

    A write that fails (disk full, a file-size limit, a read-only folder) leaves ``path`` as
    it was and no temporary file behind, and raises ``error`` naming ``path``. ``failures``:
    what a failed write raises (torch's writers: RuntimeError; only OSError where ``write``
    also computes, and a RuntimeError there means something else).
    """
    path = Path(path)
    try:
        return atomic_write(path, write)
    except failures as exc:
        raise error(write_failed(path, exc)) from exc


def write_companion_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON to ``path``, the readable twin of a torch file just written
    (``history.json``, ``cnn.json``). If that fails the old ``path`` is removed as well: it
    would describe an earlier epoch or another run, and the torch file holds the same."""
    path, text = Path(path), json.dumps(obj, indent=2, sort_keys=True) + "\n"
    try:
        return write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except CheckpointError:
        path.unlink(missing_ok=True)
        raise
