"""Chapter 7 and ``python -m oneshot_steel reproduce`` report the same Tables 2 and 3.

The chapter's smoke run (papermill, memoised by ``bookruns.smoke_run`` and shared with
test_notebooks.py, so the notebook is executed at most once per session) glues its whole
results table as ``ch07_results_json``. The command line is run once here, on the same data,
preset and seeds, into a fresh folder, so it trains every network itself; its results.json
must match the chapter's table row by row and seed by seed. (The chapter's exercise check,
``ch07.proportion_ci``, is tested in tests/package/test_checks_training_evaluation.py.)
"""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bookruns import smoke_data, smoke_env, smoke_run
from booktools import REPO

NOTEBOOK = REPO / "book" / "ch07_baselines.ipynb"
GLUE_NAME = "ch07_results_json"
#: Both runs compute the same things from the same seeds; only float formatting may differ.
NUMERIC_TOLERANCE = 1e-9


def _glued(executed: Path, name: str) -> Any:
    """The value a notebook glued under ``name`` (myst-nb stores its repr as text/plain)."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                bundle = out["data"]
                text = next(v for k, v in bundle.items() if k.endswith("text/plain"))
                return ast.literal_eval(text)
    raise AssertionError(f"{executed.name} glued no value named {name!r}")


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON-like values differ (floats compared to NUMERIC_TOLERANCE)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}/{k}: only on one side" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += _differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return [] if a is b else [f"{path}: {a!r} vs {b!r}"]
        ok = (math.isnan(a) and math.isnan(b)) or math.isclose(
            a, b, rel_tol=0, abs_tol=NUMERIC_TOLERANCE
        )
        return [] if ok else [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


@pytest.fixture(scope="module")
def chapter_table() -> dict[str, Any]:
    run = smoke_run(NOTEBOOK)
    assert not run.error, f"{NOTEBOOK.name} failed in smoke mode:\n{run.error}"
    return json.loads(_glued(run.output, GLUE_NAME))


@pytest.fixture(scope="module")
def cli_results(chapter_table: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("ch07_cli") / "run"
    cmd = [
        sys.executable, "-m", "oneshot_steel", "reproduce",
        "--preset", chapter_table["preset"],
        "--data", smoke_data(),
        "--out", str(out),
        "--seeds", ",".join(str(s) for s in chapter_table["seeds"]),
        "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=REPO, env=smoke_env(), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


@pytest.mark.notebooks
def test_chapter_runs_the_smoke_preset(chapter_table: dict[str, Any]) -> None:
    assert chapter_table["preset"] == "smoke"
    assert len(chapter_table["seeds"]) >= 2  # a spread over seeds is part of the table


@pytest.mark.notebooks
def test_chapter_and_cli_report_the_same_table(
    chapter_table: dict[str, Any], cli_results: dict[str, Any]
) -> None:
    assert cli_results["preset"] == chapter_table["preset"]
    assert cli_results["seeds"] == chapter_table["seeds"]
    ours = {r["id"]: r for r in chapter_table["rows"]}
    theirs = {r["id"]: r for r in cli_results["rows"]}
    assert list(ours) == list(theirs), "the two tables have different rows"
    problems = [d for key in ours for d in _differences(ours[key], theirs[key], key)]
    assert not problems, "chapter 7 and the CLI disagree:\n" + "\n".join(problems[:20])


@pytest.mark.notebooks
def test_table_rows_name_protocol_chance_and_paper(chapter_table: dict[str, Any]) -> None:
    rows = {r["id"]: r for r in chapter_table["rows"]}
    assert rows["knn_paper"]["chance"] == pytest.approx(1 / 6)
    assert rows["pair_margin"]["chance"] == pytest.approx(1 / 2)
    assert rows["lbp_1shot"]["chance"] == pytest.approx(1 / 3)
    assert rows["pair_margin"]["paper"] == 0.8322  # the paper's figure, beside its protocol only
    assert rows["lbp_1shot"]["paper"] is None
    for r in rows.values():
        assert r["ci95"] > 0 and r["min"] <= r["mean"] <= r["max"]
