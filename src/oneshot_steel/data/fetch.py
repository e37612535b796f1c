"""Fetch NEU-CLS from pinned public mirrors (or import a copy you have) and verify every file.

Whatever the source (a mirror's archive, a folder, a zip or tar), the same steps run: refuse an
archive with any unsafe entry, keep only files whose base name is a NEU file name (one copy
each: a copy whose SHA-256 matches the manifest wins), lay them out flat in a temporary folder
beside the destination, require every file of the manifest, and only then rename the folder
into place. A failed or interrupted fetch leaves neither a half-filled folder nor temp files.
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import DataError, DataNotFoundError, FetchError
from .archive import extract_flat as _extract_flat
from .download import Limits, download
from .manifest import (
    MANIFEST_NAME,
    Manifest,
    as_manifest,
    format_manifest,
    verify_neu_folder,
    write_stamp,
)
from .paths import default_data_dir
from .staging import staging, swap_into_place


@dataclass(frozen=True)
class Mirror:
    """A public copy of NEU-CLS: an archive URL pinned to one commit, so its bytes never change."""

    name: str
    url: str


#: Tried in turn by :func:`fetch_neu`. Both are GitHub commit archives holding byte-identical
#: copies of the 1,800 files (checked against the manifest), in nested per-class folders.
MIRRORS: tuple[Mirror, ...] = (
    Mirror(
        "adipandas/one-shot-steel-surfaces (the paper's authors) @ c10393a",
        "https://github.com/adipandas/one-shot-steel-surfaces/archive/"
        "c10393a0f5dba2617f69e9640dc21eca380b4df6.zip",
    ),
    Mirror(
        "aviralchharia/Surface-Defect-Detection-in-Hot-Rolled-Steel-Strips @ 2a1e01d",
        "https://github.com/aviralchharia/Surface-Defect-Detection-in-Hot-Rolled-Steel-Strips/"
        "archive/2a1e01db3b04a6eb9502b73e30fc88a6bb242575.zip",
    ),
)

#: How to get the data when no mirror answers.
MANUAL_ROUTES = (
    "Get the data by hand, then import it with `python -m oneshot_steel fetch-data --from PATH`\n"
    "(PATH: a folder, flat or one folder per class, or a .zip / .tar / .tar.gz / .tar.bz2 /\n"
    ".tar.xz archive):\n"
    "  - the official page http://faculty.neu.edu.cn/yunhyan/NEU_surface_defect_database.html\n"
    "    (often down) ships NEU-CLS.rar: extract it first (unrar, 7z) and pass the folder;\n"
    "  - the Kaggle dataset fantacher/neu-metal-surface-defects-data\n"
    "    (`kaggle datasets download -d fantacher/neu-metal-surface-defects-data`).\n"
    "To work offline meanwhile, set ONESHOT_STEEL_DATA=synthetic (a procedural stand-in)."
)


# --------------------------------------------------------------------------- installing
# (reading a folder, zip or tar safely, and extracting it flat: see .archive; building the
# folder beside its destination and renaming it into place: see .staging)
def install_verified(staged: Path, dest: Path, sums: Mapping[str, str]) -> None:
    """Write the manifest into the verified folder ``staged`` and rename it onto ``dest``."""
    (staged / MANIFEST_NAME).write_text(format_manifest(sums), encoding="utf-8")
    swap_into_place(staged, dest)
    write_stamp(dest, sums)  # every file was hashed on the way in


def check_replaceable(
    dest: Path, sums: Mapping[str, str], problem: str, what: str = "NEU-CLS"
) -> None:
    """Refuse to replace a ``dest`` holding anything but (a damaged copy of) ``what``'s files."""
    if not dest.is_dir():
        raise DataError(f"{dest} exists and is not a folder; pass another --dest.")
    ours = {*sums, MANIFEST_NAME}
    foreign = sorted(p.name for p in dest.iterdir() if p.name not in ours or not p.is_file())
    if foreign:
        raise DataError(
            f"{dest} does not hold a verified {what} copy ({problem}) and also holds other "
            f"files (e.g. {foreign[0]}), so it is left alone. Move it away or pass another --dest."
        )


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def fetch_neu(
    dest: str | os.PathLike | None = None,
    *,
    from_path: str | os.PathLike | None = None,
    mirrors: Sequence[Mirror | str] | None = None,
    progress: bool = True,
    timeout: float = Limits.timeout,
    deadline: float = Limits.deadline,
    min_rate: float = Limits.min_rate,
    rate_window: float = Limits.rate_window,
    manifest: Manifest = None,
) -> Path:
    """Install verified NEU-CLS into ``dest`` (default ``data/neu-cls``) and return its path.

    A ``dest`` that already verifies is returned untouched (no download). With ``from_path``
    (a folder, flat or nested, or a zip/tar archive) the data come from there; otherwise each
    of ``mirrors`` (default :data:`MIRRORS`) is tried in turn. ``manifest`` (a mapping name ->
    SHA-256 or a ``sha256sum`` file) replaces the shipped manifest, e.g. for tests.

    A mirror is abandoned (and the next one tried) when one connect or read takes longer than
    ``timeout`` seconds, the whole file longer than ``deadline`` seconds, or fewer than
    ``min_rate`` bytes per second arrive over ``rate_window`` seconds (see :mod:`.download`).
    SIGTERM, like Ctrl-C, stops the fetch and removes its temporary folder; temporary folders
    of runs killed outright are removed by the next fetch to the same place.
    Raises :class:`FetchError` (listing each mirror's error and the manual routes, and holding
    them in ``.errors``) when every mirror fails.
    """
    limits = Limits(timeout, deadline, min_rate, rate_window)  # bad values fail before any work
    chosen = MIRRORS if mirrors is None else mirrors

    def get(mirror: Mirror, into: Path) -> None:
        download(mirror.url, into, limits=limits, progress=progress)  # one archive

    return install_dataset(
        Path(dest if dest is not None else default_data_dir()),
        as_manifest(manifest),
        DatasetInfo("NEU-CLS", "the NEU-CLS images", MANUAL_ROUTES),
        from_path=from_path,
        mirrors=[m if isinstance(m, Mirror) else Mirror(m, m) for m in chosen],
        get=get,
        where=lambda m: m.url,
        progress=progress,
    )


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`install_dataset` says about a data set in its messages."""

    name: str  #: e.g. "NEU-CLS"
    contents: str  #: what a ``--from`` folder holds, e.g. "the NEU-CLS images"
    manual_routes: str  #: how to get the data by hand when every mirror fails


M = TypeVar("M")


def install_dataset(
    dest: Path,
    sums: Mapping[str, str],
    info: DatasetInfo,
    *,
    from_path: str | os.PathLike | None,
    mirrors: Sequence[M],
    get: Callable[[M, Path], None],
    where: Callable[[M], str],
    progress: bool,
) -> Path:
    """The one verified install behind every ``fetch-*`` command; returns ``dest``.

    ``dest`` verifying against ``sums`` is returned untouched; one holding foreign files is
    refused. Otherwise the files come from ``from_path`` or from the first of ``mirrors`` for
    which ``get(mirror, into)`` downloads into ``into`` (one archive or a folder of files),
    extracted and verified in a temporary folder beside ``dest`` and only then renamed into
    place. ``where(mirror)`` names a failed mirror's address in the :class:`FetchError`.
    """
    dest = dest.expanduser().resolve()
    if dest.exists():
        try:
            verify_neu_folder(dest, sums)
            _say(progress, f"{dest} already holds a verified copy ({len(sums)} files).")
            return dest
        except DataError as err:
            problem = str(err).split(". ")[0]  # the finding, without its advice to fetch
            check_replaceable(dest, sums, problem, what=info.name)
            _say(progress, f"{dest} does not verify ({problem}); replacing it.")
    if from_path is not None:
        source = Path(from_path).expanduser()
        if not source.exists():
            raise DataNotFoundError(
                f"--from {source}: no such file or folder. Give the folder or archive "
                f"holding {info.contents}."
            )
        with staging(dest) as tmp:
            _extract_flat(source.resolve(), tmp / "files", sums)
            install_verified(tmp / "files", dest, sums)
        _say(progress, f"Installed {len(sums)} verified files from {source} into {dest}.")
        return dest
    errors: list[tuple[M, BaseException]] = []
    for mirror in mirrors:
        _say(progress, f"Fetching {info.name} from {getattr(mirror, 'name', mirror)} ...")
        with staging(dest) as tmp:
            try:
                get(mirror, tmp / "download")
                _extract_flat(tmp / "download", tmp / "files", sums)  # verifies every file
            except (OSError, ValueError, http.client.HTTPException, DataError) as err:
                errors.append((mirror, err))
                _say(progress, f"  failed: {type(err).__name__}: {err}")
                continue
            install_verified(tmp / "files", dest, sums)
        _say(progress, f"Installed {len(sums)} verified files into {dest}.")
        return dest
    lines = "\n".join(
        f"  - {getattr(m, 'name', m)} <{where(m)}>: {type(e).__name__}: {e}" for m, e in errors
    )
    failure = FetchError(
        f"Could not fetch {info.name} into {dest}: every mirror failed.\n"
        f"{lines or '  (no mirrors)'}\n{info.manual_routes}"
    )
    failure.errors = errors  # type: ignore[attr-defined]
    raise failure
