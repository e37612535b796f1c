"""The data subcommands of the CLI: success paths and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from oneshot_steel.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_make_synthetic_writes_the_folder_and_prints_it(tmp_path, capsys):
    dest = tmp_path / "syn"
    assert main(["make-synthetic", "--dest", str(dest), "--seed", "2", "--per-class", "2"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == str(dest.resolve())
    assert "SYNTHETIC" in out.err
    assert len(list(dest.glob("*.bmp"))) == 12


def test_make_synthetic_without_dest_uses_the_cache(capsys):
    assert main(["make-synthetic", "--per-class", "1", "--seed", "9"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "synthetic-seed9-n1" and len(list(path.glob("*.bmp"))) == 6


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "required"),
        (["launch-rockets"], "invalid choice"),
        (["make-synthetic", "--per-class", "0"], ">= 1"),
        (["make-synthetic", "--seed", "one"], "whole number"),
        (["fetch-data", "--from", "/no/such/archive.zip", "--no-progress"], "no such file"),
        (["fetch-data", "--deadline", "0"], "--deadline: expected a finite number > 0"),
        (["fetch-data", "--timeout", "soon"], "--timeout: expected a number"),
    ],
)
def test_errors_are_one_line_with_status_2(argv, needle, capsys, tmp_path):
    if argv[:1] == ["fetch-data"]:
        argv = [*argv, "--dest", str(tmp_path / "d")]
    assert main(argv) == 2
    assert needle in one_error_line(capsys)


def test_package_errors_are_one_line_with_status_2(tmp_path, tiny_neu_dir, capsys):
    # The stand-in's files are not NEU-CLS, so the shipped manifest rejects them.
    code = main(["fetch-data", "--from", str(tiny_neu_dir), "--dest", str(tmp_path / "d"),
                 "--no-progress"])  # fmt: skip
    assert code == 2
    line = one_error_line(capsys)
    assert "SHA-256" in line and ".bmp" in line
    assert not (tmp_path / "d").exists()

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["make-synthetic", "--dest", str(mine), "--per-class", "1"]) == 2
    assert "refusing to overwrite" in one_error_line(capsys)


def test_parser_lists_the_data_commands():
    help_text = build_parser().format_help()
    assert "fetch-data" in help_text and "make-synthetic" in help_text
    args = build_parser().parse_args(["fetch-data", "--from", "x.zip", "--no-progress"])
    assert args.from_path == Path("x.zip") and args.no_progress and args.dest is None


def test_fetch_data_limits_default_to_the_downloaders():
    from oneshot_steel.data.download import Limits

    args = build_parser().parse_args(["fetch-data"])
    assert (args.timeout, args.deadline) == (Limits.timeout, Limits.deadline)
    args = build_parser().parse_args(["fetch-data", "--timeout", "5", "--deadline", "7200"])
    assert (args.timeout, args.deadline) == (5.0, 7200.0)


@pytest.mark.parametrize("script", ["fetch_neu.py", "make_synthetic.py"])
def test_data_scripts_are_thin_wrappers(script):
    result = subprocess.run(
        [sys.executable, str(ROOT / "data_scripts" / script), "--help"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "--dest" in result.stdout


def test_module_entry_point_reports_errors_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "oneshot_steel", "fetch-data", "--from", str(tmp_path / "nope"),
         "--dest", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


@pytest.mark.neu
def test_fetch_data_imports_the_real_set(real_neu_dir, tmp_path, capsys):
    dest = tmp_path / "neu-cls"
    argv = ["fetch-data", "--from", str(real_neu_dir), "--dest", str(dest), "--no-progress"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(dest.resolve())
    assert len(list(dest.glob("*.bmp"))) == 1800
    assert main(argv) == 0  # already verified: nothing to do
