"""Reading NEU-CLS out of a folder, zip or tar: archive safety checks and flat extraction.

Every archive entry is checked before anything is read (no absolute paths, no ``..``, no
links or special files); then only files whose base name is in the manifest are kept, one
verified copy each, laid out flat. :mod:`.fetch` builds on :func:`extract_flat`.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import ChecksumMismatchError, DataError, DataNotFoundError, UnsafeArchiveError

__all__ = ["MAX_FILE_BYTES", "extract_flat", "sha256"]

MAX_FILE_BYTES = 16 << 20  # a NEU file is 41,078 bytes; anything far larger is not one
_Entry = tuple[str, Callable[[], IO[bytes]]]


def sha256(data: bytes) -> str:
    """The SHA-256 of ``data``, as hex."""
    return hashlib.sha256(data).hexdigest()


def _unsafe_reason(name: str) -> str | None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    if ".." in parts:
        return "contains a '..' component"
    return None


def _refuse(archive: Path, name: str, reason: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"The archive {archive} has an unsafe entry {name!r}: it {reason}. Nothing was "
        "extracted. Do not unpack this file by hand; get the data from a trusted copy."
    )


def _zip_entries(archive: Path, zf: zipfile.ZipFile) -> list[_Entry]:
    entries = []
    for info in zf.infolist():
        kind = stat.S_IFMT(info.external_attr >> 16)
        reason = _unsafe_reason(info.filename) or (
            "is a link or a special file" if kind not in (0, stat.S_IFREG, stat.S_IFDIR) else None
        )
        if reason:
            raise _refuse(archive, info.filename, reason)
        if not info.is_dir():
            entries.append((info.filename, lambda i=info: zf.open(i)))
    return entries


def _tar_entries(archive: Path) -> Iterator[_Entry]:
    """Check every member first, then stream them in order: a compressed tar cannot seek
    back cheaply, so reading members out of order would decompress it again for each one."""
    with tarfile.open(archive, "r:*") as tf:
        for member in tf:
            reason = _unsafe_reason(member.name) or (
                None if member.isfile() or member.isdir() else "is a link or a special file"
            )
            if reason:
                raise _refuse(archive, member.name, reason)
    with tarfile.open(archive, "r|*") as stream:
        for member in stream:
            if member.isfile():
                yield member.name, lambda m=member: stream.extractfile(m)


def _folder_entries(folder: Path) -> list[_Entry]:
    """Every file below ``folder``. Links to folders are followed (a copy assembled from links
    is complete), each real folder entered once: a loop such as ``ln -s . train`` would
    otherwise be walked until the OS refused the path."""
    seen: set[tuple[int, int]] = set()
    entries: list[_Entry] = []
    for top, dirs, files in os.walk(folder, followlinks=True):
        st = os.stat(top)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        entries += [
            (str(Path(top, name).relative_to(folder)), lambda p=Path(top, name): p.open("rb"))
            for name in sorted(files)
        ]
    return entries


@contextmanager
def _entries(source: Path) -> Iterator[Iterator[_Entry]]:
    """The files of a folder, zip or tar, once every archive entry passed the safety checks.
    Open each entry while iterating, before moving on to the next."""
    if source.is_dir():
        yield iter(_folder_entries(source))
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            yield iter(_zip_entries(source, zf))
    elif tarfile.is_tarfile(source):
        yield _tar_entries(source)
    else:
        rar = source.suffix.lower() == ".rar"
        hint = " Extract the .rar first (unrar, 7z) and pass the folder." if rar else ""
        raise DataError(
            f"{source} is neither a folder, a zip nor a tar archive.{hint} "
            "--from accepts a folder, .zip, .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz."
        )


def extract_flat(source: Path, out: Path, sums: Mapping[str, str]) -> None:
    """Copy the manifest's files found anywhere in ``source`` into ``out``, flat, verified."""
    wanted = {name.lower(): name for name in sums}
    good: set[str] = set()
    bad: dict[str, tuple[str, str]] = {}
    out.mkdir()
    try:
        with _entries(source) as entries:
            for entry, open_entry in entries:
                name = wanted.get(entry.replace("\\", "/").rsplit("/", 1)[-1].lower())
                if name is None or name in good:
                    continue  # not a NEU file, or a decoy/extra copy of one we already have
                try:
                    with open_entry() as fh:
                        data = fh.read(MAX_FILE_BYTES + 1)
                except OSError as err:  # a broken link or an unreadable file in a folder
                    raise DataError(
                        f"Cannot read {entry!r} in {source} ({err.strerror or err}). Fix or "
                        "remove that file, or point --from at an intact copy."
                    ) from err
                digest = sha256(data)
                if digest != sums[name]:
                    bad[name] = (entry, digest)
                    continue
                (out / name).write_bytes(data)
                good.add(name)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as err:
        raise DataError(
            f"{source} is a damaged or truncated archive ({type(err).__name__}: {err}). "
            "Download it again."
        ) from err
    missing = sorted(set(sums) - good)
    damaged = [n for n in missing if n in bad]
    if damaged:
        entry, digest = bad[damaged[0]]
        raise ChecksumMismatchError(
            f"{damaged[0]} in {source} (entry {entry!r}) has SHA-256 {digest[:16]}..., not the "
            f"expected {sums[damaged[0]][:16]}... ({len(damaged)} file(s) differ): the copy is "
            "damaged or not the original NEU-CLS. Nothing was installed; use an intact copy "
            "(download it again, or run `python -m oneshot_steel fetch-data` for a mirror)."
        )
    if missing:
        raise DataNotFoundError(
            f"{source} holds {len(good)} of the {len(sums)} NEU-CLS files; missing e.g. "
            f"{', '.join(missing[:3])}. Nothing was installed; point --from at the complete set."
        )
