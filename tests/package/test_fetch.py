"""Fetching and verifying NEU-CLS, end to end against a real HTTP server on 127.0.0.1.

Nothing on the fetch path is mocked: the server streams real archives built from the synthetic
stand-in, and the manifest passed to ``fetch_neu`` lists those files' true SHA-256.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import oneshot_steel
from oneshot_steel.data.fetch import MIRRORS, Mirror, fetch_neu
from oneshot_steel.data.imageset import NEU_CLASSES
from oneshot_steel.data.manifest import (
    MANIFEST_NAME,
    format_manifest,
    read_manifest,
    verify_neu_folder,
)
from oneshot_steel.data.staging import STALE_AFTER_S
from oneshot_steel.errors import (
    ChecksumMismatchError,
    DataError,
    DataNotFoundError,
    FetchError,
    UnsafeArchiveError,
)
from oneshot_steel.files import cache_dir

CLASS_DIRS = {"Cr": "Crazing", "In": "Inclusion", "Pa": "Patches", "PS": "Pitted",
              "RS": "Rolled", "Sc": "Scratches"}  # fmt: skip


# --------------------------------------------------------------------------- helpers
class Server:
    """A real HTTP server in a thread: ``routes[path] = (body, mode)``; counts requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []
        self.half_sent, self.release = threading.Event(), threading.Event()
        self.hung_up = threading.Event()
        self.interval = 0.05  # seconds between the pieces of a trickle
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if self.path not in outer.routes:
                    self.send_error(404)
                    return
                body, mode = outer.routes[self.path]
                if mode.startswith("trickle"):
                    self.trickle(body, mode)
                    return
                self.send_response(200)
                if mode != "cut-no-length":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "ok":
                    self.wfile.write(body)
                    return
                self.wfile.write(body[: len(body) // 2])  # then hang up (or stall)
                self.wfile.flush()
                if mode == "stall":
                    outer.half_sent.set()
                    outer.release.wait(300)  # longer than any client's timeout

            def trickle(self, body: bytes, mode: str) -> None:
                """One byte at a time, each well within any per-read timeout: of the headers
                ("trickle-headers"), the body ("trickle"), or 4 KiB of body ("trickle-4k")."""
                head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
                if mode == "trickle-headers":
                    data = head + b"X-Slow: " + b"a" * 4096 + b"\r\n\r\n" + body
                    chunks = [data[:10]] + [data[i : i + 1] for i in range(10, len(data))]
                else:
                    step = 4096 if mode == "trickle-4k" else 1
                    chunks = [head + b"\r\n"]
                    chunks += [body[i : i + step] for i in range(0, len(body), step)]
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        if outer.release.wait(outer.interval):
                            return
                except OSError:  # the client hung up: what a slow mirror's client should do
                    outer.hung_up.set()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def serve(self, path: str, body: bytes, mode: str = "ok") -> Mirror:
        self.routes[path] = (body, mode)
        return Mirror(f"local{path}", self.url(path))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.release.set()
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture(scope="module")
def sums(tiny_neu_dir: Path) -> dict[str, str]:
    """The manifest of the tiny synthetic set (72 files): the stand-in for the shipped one."""
    return read_manifest(tiny_neu_dir / MANIFEST_NAME)


def neu_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.bmp"))}


def nested_zip(files: dict[str, bytes], decoys: bool = True) -> bytes:
    """A zip laid out like the authors' repository: split/class folders plus extra copies."""
    buf = io.BytesIO()
    top = "one-shot-steel-surfaces-c10393a"
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{top}/README.md", b"# not data\n")
        for i, (name, data) in enumerate(files.items()):
            cls = CLASS_DIRS[name.split("_")[0]]
            if decoys:  # a damaged extra copy comes first, an intact one last
                zf.writestr(f"{top}/knn_data/{cls}/{name}", data[:-1] + bytes([data[-1] ^ 1]))
            split = "training" if i % 3 else "testing"
            zf.writestr(f"{top}/dataset_all/{split}/{cls}/{name}", data)
            if decoys:
                zf.writestr(f"{top}/cnn_data/train/{cls}/{name}", data)
    return buf.getvalue()


def zip_with(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def assert_nothing_left(parent: Path, allowed: set[str] = frozenset()) -> None:
    """No destination and no temporary folder beside it."""
    assert set(os.listdir(parent)) <= set(allowed), os.listdir(parent)


# --------------------------------------------------------------------------- mirrors
def test_fetch_lays_out_flat_from_nested_archive_with_decoys(server, tiny_neu_dir, sums, tmp_path):
    files = neu_files(tiny_neu_dir)
    mirror = server.serve("/repo.zip", nested_zip(files))
    dest = fetch_neu(tmp_path / "neu-cls", mirrors=[mirror], manifest=sums, progress=False)
    assert dest == (tmp_path / "neu-cls").resolve()
    assert sorted(p.name for p in dest.iterdir()) == sorted([*files, MANIFEST_NAME])
    assert neu_files(dest) == files  # the intact copies won over the damaged decoys
    assert read_manifest(dest / MANIFEST_NAME) == sums
    verify_neu_folder(dest, sums)
    assert_nothing_left(tmp_path, {"neu-cls"})
    (tmp_path / "plain").mkdir()  # built in a private temp folder, yet as readable as any other
    assert dest.stat().st_mode == (tmp_path / "plain").stat().st_mode
    assert server.requests == ["/repo.zip"]


def test_second_fetch_makes_no_request_and_a_tampered_copy_is_refetched(
    server, tiny_neu_dir, sums, tmp_path
):
    mirror = server.serve("/repo.zip", nested_zip(neu_files(tiny_neu_dir), decoys=False))
    dest = fetch_neu(tmp_path / "d", mirrors=[mirror], manifest=sums, progress=False)
    fetch_neu(dest, mirrors=[mirror], manifest=sums, progress=False)
    assert len(server.requests) == 1  # verified in place: no download
    assert len(list((cache_dir() / "verified").glob("*.json"))) >= 1  # the fast path's stamp

    victim = dest / "Pa_3.bmp"
    original = victim.read_bytes()
    victim.write_bytes(original[:-1] + b"\x00")  # same size; the stamp must not hide it
    with pytest.raises(ChecksumMismatchError, match="Pa_3.bmp"):
        verify_neu_folder(dest, sums)
    fetch_neu(dest, mirrors=[mirror], manifest=sums, progress=False)
    assert len(server.requests) == 2
    assert victim.read_bytes() == original


@pytest.mark.parametrize("first", ["404", "refused"])
def test_falls_back_to_the_next_mirror(first, server, tiny_neu_dir, sums, tmp_path):
    if first == "404":
        bad = Mirror("missing", server.url("/gone.zip"))
    else:
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        bad = Mirror("closed", f"http://127.0.0.1:{port}/repo.zip")
    good = server.serve("/repo.zip", nested_zip(neu_files(tiny_neu_dir), decoys=False))
    dest = fetch_neu(tmp_path / "d", mirrors=[bad, good], manifest=sums, progress=False)
    verify_neu_folder(dest, sums)
    assert server.requests[-1] == "/repo.zip"


def test_all_mirrors_failing_lists_each_error_and_the_manual_routes(server, sums, tmp_path):
    mirrors = [Mirror("first", server.url("/a.zip")), Mirror("second", server.url("/b.zip"))]
    with pytest.raises(FetchError) as info:
        fetch_neu(tmp_path / "d", mirrors=mirrors, manifest=sums, progress=False)
    text = str(info.value)
    assert "every mirror failed" in text
    assert "/a.zip" in text and "/b.zip" in text
    # one 404 per mirror; the server's random port (e.g. 40412) must not count as one
    assert len(re.findall(r"\b404\b", text.replace(server.url(""), ""))) == 2
    assert "faculty.neu.edu.cn/yunhyan/NEU_surface_defect_database.html" in text
    assert "fantacher/neu-metal-surface-defects-data" in text and "--from PATH" in text
    assert [m for m, _ in info.value.errors] == mirrors
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("mode", ["cut", "cut-no-length"])
def test_a_connection_cut_mid_download_leaves_nothing(mode, server, tiny_neu_dir, sums, tmp_path):
    mirror = server.serve("/repo.zip", nested_zip(neu_files(tiny_neu_dir)), mode)
    with pytest.raises(FetchError, match="every mirror failed"):
        fetch_neu(tmp_path / "d", mirrors=[mirror], manifest=sums, progress=False)
    assert_nothing_left(tmp_path)


def test_ctrl_c_during_download_leaves_nothing(server, tiny_neu_dir, sums, tmp_path):
    mirror = server.serve("/repo.zip", nested_zip(neu_files(tiny_neu_dir)), "stall")
    main_thread = threading.main_thread().ident
    assert threading.get_ident() == main_thread  # signals are delivered to the main thread

    def interrupt() -> None:
        if server.half_sent.wait(10):
            signal.pthread_kill(main_thread, signal.SIGINT)  # a real Ctrl-C mid-download

    # Ctrl-C must raise KeyboardInterrupt here, whatever handler an earlier test (or a
    # library it imported) left installed for SIGINT in this process.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            fetch_neu(tmp_path / "d", mirrors=[mirror], manifest=sums, progress=False, timeout=20)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("mode", "limits", "reason"),
    [
        ("trickle", {"min_rate": 1024, "rate_window": 0.5}, "under the minimum"),
        ("trickle-4k", {"deadline": 1.0, "min_rate": 1024, "rate_window": 0.5}, "deadline"),
        ("trickle-headers", {"deadline": 1.0, "min_rate": 0}, "deadline"),
    ],
    ids=["one-byte-at-a-time", "never-finishing", "slow-headers"],
)
def test_a_trickling_mirror_is_given_up_and_the_next_one_tried(
    mode, limits, reason, server, tiny_neu_dir, sums, tmp_path
):
    body = nested_zip(neu_files(tiny_neu_dir), decoys=False)  # 3 MB: 40 s at 4 KiB / 50 ms
    slow = server.serve(f"/{mode}.zip", body, mode)
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch_neu(tmp_path / "d", mirrors=[slow], manifest=sums, progress=False, **limits)
    assert time.monotonic() - started < 10  # each read came well within the 60 s timeout
    error = info.value.errors[0][1]
    assert isinstance(error, TimeoutError)
    assert slow.url in str(error) and reason in str(error) and "--from PATH" in str(error)
    assert server.hung_up.wait(10)  # the connection was cut, not left to trickle on
    assert_nothing_left(tmp_path)
    good = server.serve("/repo.zip", body)
    fetch_neu(tmp_path / "d", mirrors=[slow, good], manifest=sums, progress=False, **limits)
    verify_neu_folder(tmp_path / "d", sums)


def test_a_name_lookup_that_never_answers_is_given_up(
    server, tiny_neu_dir, sums, tmp_path, monkeypatch
):
    real_lookup = socket.getaddrinfo
    release = threading.Event()

    def stuck_resolver(host, *args, **kwargs):  # a DNS server that never answers, for one name
        if host == "stuck-dns.invalid":
            release.wait(60)
            raise socket.gaierror("gave up")
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stuck_resolver)
    good = server.serve("/repo.zip", nested_zip(neu_files(tiny_neu_dir), decoys=False))
    stuck = Mirror("stuck", "http://stuck-dns.invalid/repo.zip")
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as info:
            fetch_neu(tmp_path / "d", mirrors=[stuck], manifest=sums, progress=False, timeout=0.5)
        assert time.monotonic() - started < 10  # not the 60 s the resolver would have taken
        error = info.value.errors[0][1]
        assert isinstance(error, TimeoutError) and "stuck-dns.invalid" in str(error)
        assert "(DNS)" in str(error) and "--from PATH" in str(error)
        assert_nothing_left(tmp_path)
        fetch_neu(tmp_path / "d", mirrors=[stuck, good], manifest=sums, progress=False, timeout=0.5)
        verify_neu_folder(tmp_path / "d", sums)
    finally:
        release.set()


def test_download_limits_are_checked_first(sums, tmp_path):
    with pytest.raises(ValueError, match="deadline must be a positive number"):
        fetch_neu(tmp_path / "d", mirrors=["http://127.0.0.1:9/x.zip"], deadline=0, manifest=sums)
    assert_nothing_left(tmp_path)


def fetch_in_subprocess(url: str, dest: Path, sums: dict[str, str]) -> subprocess.Popen:
    """``fetch_neu(dest)`` from ``url`` in a new Python process."""
    manifest = dest.parent.parent / "sums.txt"
    manifest.write_text(format_manifest(sums))
    script = (
        "from oneshot_steel.data.fetch import Mirror, fetch_neu\n"
        f"fetch_neu({str(dest)!r}, mirrors=[Mirror('local', {url!r})], "
        f"manifest={str(manifest)!r}, progress=False)\n"
    )
    src = str(Path(oneshot_steel.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src, "ONESHOT_STEEL_CACHE": str(cache_dir())}
    return subprocess.Popen(
        [sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True
    )


def staging_folders(folder: Path, count: int) -> list[Path]:
    """The hidden temporary folders in ``folder``, once there are ``count`` of them."""
    deadline = time.monotonic() + 180  # two processes importing torch on two busy cores
    while time.monotonic() < deadline:
        found = sorted(p for p in folder.iterdir() if p.name.startswith("."))
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"expected {count} staging folders in {folder}: {os.listdir(folder)}")


def test_sigterm_during_download_leaves_nothing(server, tiny_neu_dir, sums, tmp_path):
    mirror = server.serve("/repo.zip", nested_zip(neu_files(tiny_neu_dir)), "stall")
    out = tmp_path / "out"
    out.mkdir()
    proc = fetch_in_subprocess(mirror.url, out / "d", sums)
    try:
        assert server.half_sent.wait(180), "the fetch never started"
        assert len(staging_folders(out, 1)) == 1
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert_nothing_left(out)
    assert proc.returncode == -signal.SIGTERM and "Traceback" not in err, err


def test_the_next_fetch_removes_what_killed_ones_left_but_not_a_running_ones(
    server, tiny_neu_dir, sums, tmp_path
):
    body = nested_zip(neu_files(tiny_neu_dir), decoys=False)
    stalled = server.serve("/stall.zip", body, "stall")
    out = tmp_path / "out"
    out.mkdir()
    killed = fetch_in_subprocess(stalled.url, out / "d", sums)
    running = fetch_in_subprocess(stalled.url, out / "d", sums)
    try:
        both = set(staging_folders(out, 2))
        killed.kill()  # SIGKILL: no clean-up can run, its folder stays behind
        killed.wait(60)
        legacy_old, legacy_new = out / ".d.fetch-legacy1", out / ".d.fetch-legacy2"
        legacy_old.mkdir()  # from a version that recorded no owner: judged by age
        legacy_new.mkdir()
        stale = time.time() - STALE_AFTER_S - 60
        os.utime(legacy_old, (stale, stale))
        good = server.serve("/repo.zip", body)
        fetch_neu(out / "d", mirrors=[good], manifest=sums, progress=False)
        verify_neu_folder(out / "d", sums)
        left = set(out.iterdir()) - {out / "d", legacy_new}
        assert len(left) == 1 and left < both  # one of the two: the running fetch's (below)
        running.send_signal(signal.SIGTERM)
        running.communicate(timeout=60)
    finally:
        killed.kill()
        running.kill()
    assert sorted(os.listdir(out)) == [".d.fetch-legacy2", "d"]


def test_a_corrupted_file_is_named_and_nothing_is_installed(server, tiny_neu_dir, sums, tmp_path):
    files = neu_files(tiny_neu_dir)
    files["Sc_7.bmp"] = files["Sc_7.bmp"][:-5] + b"XXXXX"
    archive = tmp_path / "in" / "neu.zip"
    archive.parent.mkdir()
    archive.write_bytes(nested_zip(files, decoys=False))
    (tmp_path / "out").mkdir()
    with pytest.raises(ChecksumMismatchError, match="Sc_7.bmp"):
        fetch_neu(tmp_path / "out" / "d", from_path=archive, manifest=sums, progress=False)
    assert_nothing_left(tmp_path / "out")

    mirror = server.serve("/repo.zip", archive.read_bytes())
    with pytest.raises(FetchError) as info:
        fetch_neu(tmp_path / "out" / "d", mirrors=[mirror], manifest=sums, progress=False)
    assert isinstance(info.value.errors[0][1], ChecksumMismatchError)
    assert_nothing_left(tmp_path / "out")


def _symlink_zip_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("repo/Crazing/Cr_1.bmp")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("repo/../../evil.txt", "'..'"),  # not a NEU name: refused all the same
        ("/tmp/abs/Cr_1.bmp", "absolute"),
        (_symlink_zip_entry(), "link"),
    ],
    ids=["dotdot", "absolute", "symlink"],
)
def test_unsafe_zip_entries_are_refused(entry, reason, server, tiny_neu_dir, sums, tmp_path):
    good = list(neu_files(tiny_neu_dir).items())
    archive = zip_with([*good[:3], (entry, b"/etc/passwd"), *good[3:]])
    name = entry.filename if isinstance(entry, zipfile.ZipInfo) else entry
    src = tmp_path / "bad.zip"
    src.write_bytes(archive)
    (tmp_path / "out").mkdir()
    with pytest.raises(UnsafeArchiveError, match=reason) as info:
        fetch_neu(tmp_path / "out" / "d", from_path=src, manifest=sums, progress=False)
    assert repr(name) in str(info.value)
    assert_nothing_left(tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/abs/Cr_1.bmp").exists()

    mirror = server.serve("/bad.zip", archive)
    with pytest.raises(FetchError) as failed:
        fetch_neu(tmp_path / "out" / "d", mirrors=[mirror], manifest=sums, progress=False)
    assert isinstance(failed.value.errors[0][1], UnsafeArchiveError)
    assert_nothing_left(tmp_path / "out")


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE])
def test_unsafe_tar_members_are_refused(kind, tiny_neu_dir, sums, tmp_path):
    src = tmp_path / "bad.tar.gz"
    with tarfile.open(src, "w:gz") as tf:
        for p in sorted(tiny_neu_dir.glob("*.bmp")):
            tf.add(p, arcname=f"neu/{p.name}")
        member = tarfile.TarInfo("neu/extra/Cr_1.bmp")
        member.type, member.linkname = kind, "/etc/passwd"
        tf.addfile(member)
    (tmp_path / "out").mkdir()
    with pytest.raises(UnsafeArchiveError, match="neu/extra/Cr_1.bmp"):
        fetch_neu(tmp_path / "out" / "d", from_path=src, manifest=sums, progress=False)
    assert_nothing_left(tmp_path / "out")


# --------------------------------------------------------------------------- --from
@pytest.mark.parametrize("form", ["folder", "zip", "tar", "tar.gz", "tgz", "tar.bz2", "tar.xz"])
def test_from_path_accepts_folders_and_archives(form, tiny_neu_dir, sums, tmp_path):
    nested = tmp_path / "mine" / "NEU Metal Surface Defects Data"
    for i, p in enumerate(sorted(tiny_neu_dir.glob("*.bmp"))):
        split = ("train", "valid", "test")[i % 3]
        target = nested / split / CLASS_DIRS[p.name.split("_")[0]] / p.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    if form == "folder":
        src = tmp_path / "mine"
    elif form == "zip":
        src = Path(shutil.make_archive(str(tmp_path / "mine"), "zip", tmp_path / "mine"))
    else:
        src = tmp_path / f"mine.{form}"
        mode = {"tar": "w", "tar.gz": "w:gz", "tgz": "w:gz", "tar.bz2": "w:bz2", "tar.xz": "w:xz"}
        fast = {"tar.bz2": {"compresslevel": 1}, "tar.xz": {"preset": 0}}.get(form, {})
        with tarfile.open(src, mode[form], **fast) as tf:
            tf.add(tmp_path / "mine", arcname="mine")
    dest = fetch_neu(tmp_path / "out", from_path=src, manifest=sums, progress=False)
    assert neu_files(dest) == neu_files(tiny_neu_dir)
    assert not [p for p in dest.iterdir() if p.is_dir()]


def test_from_path_problems_are_explained(tiny_neu_dir, sums, tmp_path):
    with pytest.raises(DataNotFoundError, match="no such file"):
        fetch_neu(tmp_path / "d", from_path=tmp_path / "nope.zip", manifest=sums)
    rar = tmp_path / "NEU-CLS.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x00 not really")
    with pytest.raises(DataError, match="Extract the .rar"):
        fetch_neu(tmp_path / "d", from_path=rar, manifest=sums)
    partial = tmp_path / "partial"
    shutil.copytree(tiny_neu_dir, partial)
    (partial / "RS_5.bmp").unlink()
    with pytest.raises(DataNotFoundError, match="71 of the 72"):
        fetch_neu(tmp_path / "d", from_path=partial, manifest=sums)
    assert not (tmp_path / "d").exists()


def test_a_dest_with_other_files_is_left_alone(tiny_neu_dir, sums, tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="thesis.tex"):
        fetch_neu(dest, from_path=tiny_neu_dir, manifest=sums)
    assert os.listdir(dest) == ["thesis.tex"]


# --------------------------------------------------------------------------- verification
def test_verify_reports_missing_extra_and_changed_files(tiny_neu_dir, sums, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(tiny_neu_dir, folder)
    verify_neu_folder(folder, sums)
    verify_neu_folder(folder, tiny_neu_dir / MANIFEST_NAME)  # a manifest file works too
    (folder / "Cr_99.bmp").write_bytes(b"BM")
    with pytest.raises(DataError, match="Cr_99.bmp"):
        verify_neu_folder(folder, sums)
    (folder / "Cr_99.bmp").unlink()
    (folder / "In_2.bmp").write_bytes((folder / "In_3.bmp").read_bytes())
    with pytest.raises(ChecksumMismatchError, match="In_2.bmp"):
        verify_neu_folder(folder, sums)
    (folder / "In_2.bmp").unlink()
    with pytest.raises(DataNotFoundError, match="In_2.bmp"):
        verify_neu_folder(folder, sums)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        verify_neu_folder(tmp_path / "nowhere", sums)


def test_shipped_manifest_covers_all_1800_neu_files():
    sums = read_manifest()
    expected = {f"{c}_{i}.bmp" for c in NEU_CLASSES for i in range(1, 301)}
    assert set(sums) == expected and len(sums) == 1800
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in sums.values())
    assert len(set(sums.values())) == 1799  # Pa_101 and Pa_105 are byte-identical upstream
    assert sums["Pa_101.bmp"] == sums["Pa_105.bmp"]
    assert [m.url.rsplit("/", 1)[-1] for m in MIRRORS] == [
        "c10393a0f5dba2617f69e9640dc21eca380b4df6.zip",
        "2a1e01db3b04a6eb9502b73e30fc88a6bb242575.zip",
    ]


@pytest.mark.neu
def test_the_real_set_matches_the_shipped_manifest(real_neu_dir):
    verify_neu_folder(real_neu_dir)  # every one of the 1,800 files, hashed or stamped
