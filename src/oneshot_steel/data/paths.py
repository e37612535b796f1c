"""Where the data live: the default NEU-CLS folder, the data root a caller names, and the
marker of a synthetic stand-in folder.

The bottom layer of the data package: nothing here reads images, fetches or generates data.
:func:`oneshot_steel.data.resolve_data_root` adds the download on top of :func:`find_data_root`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from ..errors import DataNotFoundError
from ..files import repo_root

__all__ = ["MARKER", "default_data_dir", "find_data_root", "is_synthetic_folder"]

#: The marker file that identifies a folder written by
#: :func:`~oneshot_steel.data.synthetic.make_synthetic`.
MARKER = ".oneshot-steel-synthetic.json"


def default_data_dir() -> Path:
    """Where the real set lives by default: ``data/neu-cls`` in the checkout (else under cwd)."""
    root = repo_root()
    return (root if root is not None else Path.cwd()) / "data" / "neu-cls"


def is_synthetic_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` holds the synthetic stand-in (it bears :data:`MARKER`)."""
    return (Path(path) / MARKER).is_file()


def _explicit_root(value: str | os.PathLike, origin: str) -> Path | Literal["synthetic"]:
    if str(value).strip().lower() == "synthetic":
        return "synthetic"
    path = Path(value).expanduser()
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a folder"
        raise DataNotFoundError(
            f"The data folder {str(path)!r} ({origin}) {what}. Point it at the folder holding "
            "the NEU-CLS images (e.g. Cr_1.bmp ... Sc_300.bmp, or one folder per class), run "
            "`python -m oneshot_steel fetch-data` to download them, or use 'synthetic' for the "
            "procedural stand-in."
        )
    return path


def find_data_root(root: str | os.PathLike | None = None) -> Path | Literal["synthetic"] | None:
    """The data root without downloading: ``root``, else ``$ONESHOT_STEEL_DATA``, else the
    default folder when it holds anything; None when it is missing or empty.

    The value ``"synthetic"`` (any case) selects the stand-in. A named folder that does not
    exist raises :class:`~oneshot_steel.errors.DataNotFoundError`: a typo should fail loudly.
    """
    if root is not None and str(root) != "":
        return _explicit_root(root, "given as the data root")
    env = os.environ.get("ONESHOT_STEEL_DATA", "").strip()
    if env:
        return _explicit_root(env, "from ONESHOT_STEEL_DATA")
    default = default_data_dir()
    if default.is_dir() and any(default.iterdir()):
        return default
    return None
