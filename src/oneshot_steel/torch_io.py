"""Torch files on disk: written whole or not at all, read without running code, and every
failure told in one line that names the file.

``torch.save`` that runs out of space (or into ``ulimit -f``) raises an internal
``RuntimeError`` ("enforce fail at inline_container.cc"), and ``torch.load(weights_only=True)``
refusing a pickle explains itself in a paragraph that suggests ``weights_only=False``, which
would run code from the file. :func:`write_file` and :func:`load_file` turn both into
:class:`~oneshot_steel.errors.CheckpointError`; :func:`refuse_non_finite` keeps the weights of
a blown-up run from being loaded at all, and :func:`write_companion_json` never leaves a JSON
file that describes another state than the torch file beside it.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from .divergence import first_non_finite
from .errors import CheckpointError, OneShotSteelError
from .files import atomic_write

__all__ = ["load_file", "refuse_non_finite", "write_companion_json", "write_failed", "write_file"]


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


def _reason(exc: BaseException) -> str:
    """The first sentence of what torch.load said, without its advice (one line, short)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    refused = re.search(r"WeightsUnpickler error:\s*(.*)", text)
    if refused:  # the part before it advises weights_only=False: never repeat that
        text = refused.group(1)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return re.split(r"(?<=[^.])\. ", first, maxsplit=1)[0].rstrip(".")[:200]


def load_file(path: Path, device: torch.device | str | None = None, *, mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)``: never runs code from the file.

    A file that holds other Python objects than tensors and builtins (a pickled model, the
    authors' format), or a corrupt or truncated one, gives a :class:`CheckpointError` that
    names it.
    """
    try:
        return torch.load(path, map_location=device or "cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # unpickling errors, truncated zip archives, ...
        if isinstance(exc, pickle.UnpicklingError) and "WeightsUnpickler" in str(exc):
            raise CheckpointError(
                f"{path} is not a checkpoint this package wrote: it holds Python objects that "
                f"only code from the file could rebuild ({_reason(exc)}), and this package "
                "never runs code from a file. Use a model.pt or best.pt written by its training, "
                "or train again."
            ) from exc
        raise CheckpointError(
            f"Cannot read the checkpoint {path} ({_reason(exc)}): the file is corrupt, "
            "truncated or not a One-Shot Steel checkpoint; delete it and train again."
        ) from exc


def refuse_non_finite(state: Mapping[str, Any], path: Path) -> None:
    """Raise :class:`CheckpointError` naming ``path`` and the tensor if ``state`` holds a
    non-tensor, NaN or inf: the weights of a run that blew up are never used."""
    odd = next((k for k, v in state.items() if not isinstance(v, torch.Tensor)), None)
    if odd is not None:
        raise CheckpointError(
            f"{path} holds {type(state[odd]).__name__} {odd!r} among its weights, not a "
            "tensor: the file is damaged or not a One-Shot Steel checkpoint; train again."
        )
    name = first_non_finite(state.items())
    if name is not None:
        raise CheckpointError(
            f"{path} holds NaN or infinite values in {name}: it was saved by a run that blew "
            "up (or the file was damaged). Train again, with a lower learning rate."
        )
