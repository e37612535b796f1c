"""The SHA-256 manifest of a data folder, and verifying a folder against it.

A manifest maps file names to SHA-256 digests, in ``sha256sum`` format: the shipped one lists
the 1,800 files of NEU-CLS (``SHA256SUMS.txt`` beside this module), and every folder that
:func:`~oneshot_steel.data.fetch.fetch_neu` or :func:`~oneshot_steel.data.synthetic.make_synthetic`
writes carries its own (:data:`MANIFEST_NAME`). A full verification is remembered in a stamp in
the cache, so a repeated check is cheap.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from contextlib import suppress
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import ChecksumMismatchError, DataError, DataNotFoundError
from ..files import atomic_write_text, cache_dir
from .archive import sha256 as _sha256

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "as_manifest",
    "format_manifest",
    "read_manifest",
    "verify_neu_folder",
    "write_stamp",
]

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


def as_manifest(manifest: Manifest) -> dict[str, str]:
    """A manifest given as a mapping, a ``sha256sum`` file, or None (the shipped one) as a dict."""
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


def write_stamp(folder: Path, sums: Mapping[str, str]) -> None:
    """Remember a full verification; best effort (without a stamp, files are hashed again)."""
    with suppress(OSError):
        atomic_write_text(_stamp_path(folder), json.dumps(_stamp(folder, sums)))


def _stamp_valid(folder: Path, sums: Mapping[str, str]) -> bool:
    try:
        return json.loads(_stamp_path(folder).read_text(encoding="utf-8")) == _stamp(folder, sums)
    except (OSError, ValueError):
        return False


def _file_digest(path: Path, fix: str) -> str:
    try:
        return _sha256(path.read_bytes())
    except OSError as err:  # a folder, a broken link or an unreadable file under a NEU name
        raise DataError(f"Cannot read {path} ({err.strerror or err}). {fix}") from err


def verify_neu_folder(path: str | os.PathLike, manifest: Manifest = None) -> None:
    """Check that ``path`` holds, flat, every file of the manifest with the right SHA-256.

    Raises :class:`DataNotFoundError` for a missing folder or files, :class:`DataError` for
    images the manifest does not list, :class:`ChecksumMismatchError` for a changed file. Other
    files (``SHA256SUMS``, notes) are ignored. A stamp in the cache, keyed on the files' sizes
    and times, makes a repeated check cheap; without a valid stamp every file is hashed.
    """
    folder, sums = Path(path).expanduser(), as_manifest(manifest)
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
    bad = [n for n in sorted(sums) if _file_digest(folder / n, fix) != sums[n]]
    if bad:
        raise ChecksumMismatchError(
            f"{folder / bad[0]} does not match its SHA-256 in the manifest ({len(bad)} file(s) "
            f"differ): the copy is damaged or not the original NEU-CLS. {fix}"
        )
    write_stamp(folder, sums)
