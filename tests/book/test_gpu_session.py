"""benchmarks/gpu_session.sh, the one command that takes every pending GPU measurement.

It is run by hand on a GPU machine, rarely; CHECK=1 runs the same steps at smoke size so that
the script cannot rot unnoticed between such sessions (about a minute on 2 CPU cores). The check
executes chapter 5 alone of the three chapters (one command per chapter, the same for each);
every chapter's own smoke run is tested in test_notebooks.py.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_session.sh"


def _run(out: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CHECK": "1",
        "DEVICE": "cpu",
        "PYTHON": python,
        "ONESHOT_STEEL_DATA": os.environ.get("ONESHOT_STEEL_DATA") or "synthetic",
    }
    env.pop("ONESHOT_STEEL_MODE", None)  # the script sets the notebooks' mode itself
    return subprocess.run(
        ["bash", str(SCRIPT), str(out)], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_check_run_takes_every_step_and_reuses_the_timed_run(tmp_path: Path) -> None:
    out = tmp_path / "session"
    proc = _run(out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with (out / "times.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    steps = {row["step"]: int(row["seconds"]) for row in rows}
    assert [row["exit"] for row in rows] == ["0"] * len(rows)
    assert list(steps) == [
        "benchmark",
        "train_paper_seed0",
        "reproduce",
        "ch05_training",
    ]
    assert all(s >= 0 for s in steps.values())
    # reproduce scores the separately timed training run instead of training seed 0 again
    seed0 = out / "reproduce" / "oneshot" / "seed0" / "model.pt"
    assert f"Loaded the trained model from {seed0}" in proc.stdout
    results = json.loads((out / "reproduce" / "results.json").read_text())
    assert results["seeds"] == [0, 1, 2] and results["preset"] == "smoke"
    assert {p.name for p in (out / "benchmark").glob("*.json")}
    assert (out / "notebooks" / "ch05_training.ipynb").is_file()
    # the notebooks kept their runs under the session folder, not in the repository
    assert any((out / "checkpoints").glob("smoke-*/oneshot/seed0/model.pt"))


def test_refuses_a_folder_that_holds_a_session(tmp_path: Path) -> None:
    out = tmp_path / "session"
    out.mkdir()
    (out / "times.tsv").write_text("step\tseconds\nbenchmark\t1\n")
    proc = _run(out)
    assert proc.returncode == 2 and "already holds a session" in proc.stderr
    assert (out / "times.tsv").read_text() == "step\tseconds\nbenchmark\t1\n"


def test_a_failed_step_is_recorded_and_the_session_goes_on(tmp_path: Path) -> None:
    # A Python whose every `-m` command (each timed step) fails with status 3, while the
    # script's own `-c` look-ups work: each step must be tried, recorded and the script fail.
    python = tmp_path / "python"
    python.write_text(
        f'#!/usr/bin/env bash\n[[ $1 == -m ]] && exit 3\nexec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    out = tmp_path / "session"
    proc = _run(out, str(python))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    with (out / "times.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [(r["step"], r["exit"]) for r in rows] == [
        ("benchmark", "3"),
        ("train_paper_seed0", "3"),
        ("reproduce", "3"),
        ("ch05_training", "3"),
    ]
    assert proc.stderr.count("FAILED (exit 3); going on with the next step") == 4
