"""Fetching the CWRU recordings, end to end against a real HTTP server on 127.0.0.1:
a mirror missing a file or serving a damaged one is skipped, a good one installs a verified
folder atomically, and ``--from`` imports a local copy."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from vibration_toys import write_record

from oneshot_steel.cli import main
from oneshot_steel.errors import DataNotFoundError, FetchError
from oneshot_steel.vibration.cwru import load_cwru
from oneshot_steel.vibration.fetch import CWRUMirror, _xiong, fetch_cwru, resolve_vibration_data

NAMES = ("12k_Drive_End_OR007@6_0_130.mat", "normal_0_97.mat")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A web root with a good mirror (good/), one missing a file (short/), one with a damaged
    file (bad/); yields (base URL, the files' folder, their manifest)."""
    files = tmp_path / "files"
    for i, name in enumerate(NAMES):
        write_record(files, name, n=5000, seed=i)
    sums = {n: hashlib.sha256((files / n).read_bytes()).hexdigest() for n in NAMES}
    root = tmp_path / "web"
    for mirror in ("good", "short", "bad"):
        (root / mirror).mkdir(parents=True)
        for name in NAMES:
            data = (files / name).read_bytes()
            if mirror == "short" and name == NAMES[1]:
                continue
            (root / mirror / name).write_bytes(data + (b"x" if mirror == "bad" else b""))
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", files, sums
    httpd.shutdown()
    httpd.server_close()


def test_bad_mirrors_are_skipped_and_a_good_one_installs(served, tmp_path: Path) -> None:
    base, _, sums = served
    mirrors = [CWRUMirror(m, base + m + "/") for m in ("short", "bad", "good")]
    dest = tmp_path / "cwru"
    assert fetch_cwru(dest, mirrors=mirrors, manifest=sums, progress=False) == dest.resolve()
    assert sorted(p.name for p in dest.iterdir()) == sorted([*NAMES, "SHA256SUMS"])
    assert [r.cls for r in load_cwru(dest, classes=("Normal", "OR007"))] == ["Normal", "OR007"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cwru")]  # no temp folders
    # A verified copy is kept as it is: no mirror is asked.
    assert fetch_cwru(dest, mirrors=[], manifest=sums, progress=False) == dest.resolve()


def test_every_mirror_failing_leaves_nothing(served, tmp_path: Path) -> None:
    base, _, sums = served
    with pytest.raises(FetchError, match="every mirror failed") as err:
        fetch_cwru(tmp_path / "cwru", mirrors=[CWRUMirror("bad", base + "bad/")], manifest=sums,
                   progress=False)  # fmt: skip
    assert "fetch-vibration-data --from PATH" in str(err.value)
    assert not (tmp_path / "cwru").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cwru")]


def test_from_a_local_copy_and_the_cli(served, tmp_path: Path, capsys) -> None:
    _, files, sums = served
    dest = fetch_cwru(tmp_path / "a", from_path=files, manifest=sums, progress=False)
    assert {p.name for p in dest.iterdir()} >= set(NAMES)
    with pytest.raises(DataNotFoundError, match="no such file or folder"):
        fetch_cwru(tmp_path / "b", from_path=tmp_path / "nowhere", manifest=sums)
    # The CLI checks against the shipped manifest of the 37 real files: a partial copy fails.
    assert main(["fetch-vibration-data", "--dest", str(tmp_path / "c"), "--from", str(files),
                 "--no-progress"]) == 2  # fmt: skip
    assert "lacks" in capsys.readouterr().err or not (tmp_path / "c").exists()


def test_mirror_urls_are_pinned_and_quoted() -> None:
    from oneshot_steel.vibration.fetch import MIRRORS

    assert all(len(m.base.rstrip("/").rsplit("/", 1)[1]) == 40 for m in MIRRORS)  # commits
    assert MIRRORS[0].url(NAMES[0]).endswith("/12k_Drive_End_OR007%406_0_130.mat")
    assert _xiong(NAMES[0]) == "Data/12k_DE/OR007@6_0.mat"
    assert _xiong("normal_0_97.mat") == "Data/Normal/Normal_0.mat"


def test_resolving_the_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ONESHOT_STEEL_VIBRATION_DATA", "synthetic")
    assert resolve_vibration_data() == "synthetic"
    assert resolve_vibration_data(tmp_path) == tmp_path
    with pytest.raises(DataNotFoundError, match="does not exist"):
        resolve_vibration_data(tmp_path / "typo")
