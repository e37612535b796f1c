"""Files and folders: atomic writes, the cache folder and the repository checkout."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "atomic_write_json", "atomic_write_text", "cache_dir", "repo_root"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``.

    The rename is atomic on one file system, so readers never see a half-written file and an
    interrupted write leaves the previous version intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        tmp_path.chmod(0o666 & ~_current_umask())  # mkstemp makes 0600; give normal permissions
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


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


def cache_dir() -> Path:
    """Where decoded arrays and the synthetic stand-in are cached.

    ``ONESHOT_STEEL_CACHE`` when set, else ``~/.cache/oneshot_steel``.
    """
    env = os.environ.get("ONESHOT_STEEL_CACHE")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "oneshot_steel"
    path.mkdir(parents=True, exist_ok=True)
    return path
