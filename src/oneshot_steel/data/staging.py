"""Building a data folder beside its destination and renaming it into place.

Whoever writes a whole folder (:func:`~oneshot_steel.data.fetch.fetch_neu`,
:func:`~oneshot_steel.data.synthetic.make_synthetic`) builds it inside :func:`staging` and
finishes with :func:`swap_into_place`, so the destination is never half written and an
interrupted run leaves no temporary files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["staging", "swap_into_place"]


@contextmanager
def staging(dest: Path) -> Iterator[Path]:
    """A temporary folder beside ``dest`` (same file system: the final rename is atomic),
    removed on the way out whatever happens, Ctrl-C included. Build the new folder in a
    subfolder of it: the temporary folder itself is private (mode 0700)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.fetch-", dir=dest.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def swap_into_place(tmp: Path, dest: Path) -> None:
    """Rename the finished folder ``tmp`` onto ``dest``, moving an old ``dest`` aside first."""
    aside = None
    if dest.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, aside / "old")
    try:
        os.replace(tmp, dest)
    except BaseException:
        if aside is not None:
            os.replace(aside / "old", dest)
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
