"""The on-disk cache of decoded images: each image set's resized uint8 pixels, one file.

Decoding and resizing the 1,800 NEU bitmaps takes seconds; reading them back from one file
takes a fraction of that. The file is named by everything that decides its contents (the
bytes of every image file, their names, labels and classes, the size and the fit), so a
changed file gets a new cache instead of stale pixels. The cache is a convenience: when it
cannot be written, loading goes on without it (one warning per folder), and a file that does
not check out (another version, other files, damaged pixels) is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..errors import BadImageError
from ..files import atomic_write, cache_dir
from .walk import warn

__all__ = [
    "CACHE_VERSION",
    "cache_path",
    "file_sha256",
    "pixels_digest",
    "read_cache",
    "warn_cache_unavailable",
    "write_cache",
]

CACHE_VERSION = "oneshot-steel-decoded-v2"  # v2: a digest of the pixels guards against bit rot
#: Cache folders already warned about in this process: said once is enough.
_WARNED_FOLDERS: set[str] = set()


def file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise BadImageError(
            f"Cannot read {str(path)!r} ({err.strerror or err}). Check its permissions, or "
            "replace or delete the file."
        ) from err


def warn_cache_unavailable(folder: Path, err: BaseException) -> None:
    """Warn, once per folder and process, that the cache cannot be written."""
    if str(folder) in _WARNED_FOLDERS:
        return
    _WARNED_FOLDERS.add(str(folder))
    cause = err.__cause__ if isinstance(err.__cause__, OSError) else err  # cache_dir's own
    reason = getattr(cause, "strerror", None) or (str(cause).strip().splitlines() or [""])[0]
    warn(
        f"Cannot write the image cache in {str(folder)!r} ({type(cause).__name__}: {reason}); "
        "loading goes on without it, decoding the images every time. Free some disk space or "
        "fix the folder, or set ONESHOT_STEEL_CACHE to a folder you can write to."
    )


def pixels_digest(images: torch.Tensor) -> str:
    return hashlib.sha256(images.numpy().tobytes()).hexdigest()


def read_cache(path: Path, relpaths: list[str], size: int) -> dict | None:
    """The cached arrays when ``path`` holds a valid cache for these files, else None."""
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        n = len(relpaths)
        ok = (
            isinstance(blob, dict)
            and blob.get("version") == CACHE_VERSION
            and blob.get("relpaths") == relpaths
            and blob["images"].dtype == torch.uint8
            and tuple(blob["images"].shape) == (n, 1, size, size)
            and len(blob["digests"]) == n
        )
        if not ok:
            raise ValueError("contents do not match the image files")
        if pixels_digest(blob["images"]) != blob.get("images_sha256"):
            raise ValueError("the pixels do not match their SHA-256 (the file is damaged)")
        return blob
    except Exception as err:  # any unreadable cache is rebuilt, never trusted
        reason = (str(err).strip().splitlines() or [""])[0]
        warn(
            f"The image cache {str(path)!r} is unreadable ({type(err).__name__}: {reason}); "
            "rebuilding it from the image files."
        )
        return None


def cache_path(
    paths: list[Path],
    relpaths: list[str],
    labels: list[int],
    size: int,
    classes: list[str],
    fit: str = "stretch",
) -> Path:
    """Where the cache of these files lives: named by their bytes, names, labels, size and fit."""
    fitted = "" if fit == "stretch" else f"\0fit={fit}"  # "stretch" keeps the older caches' names
    key = hashlib.sha256(f"{CACHE_VERSION}\0{size}\0{classes}{fitted}\n".encode())
    for path, rel, label in zip(paths, relpaths, labels, strict=True):
        key.update(f"{label}\0{rel}\0{file_sha256(path)}\n".encode())
    return cache_dir() / "decoded" / f"{key.hexdigest()[:40]}-{size}px.pt"


def write_cache(path: Path, blob: dict) -> None:
    """Write the cache atomically; when it cannot be written (read-only, disk full, a file
    size limit), warn once and go on: the cache only saves time."""
    try:
        atomic_write(path, lambda tmp: torch.save(blob, tmp))
    except (OSError, RuntimeError) as err:  # torch.save reports a failed write as RuntimeError
        warn_cache_unavailable(path.parent, err)
