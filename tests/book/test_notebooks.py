"""Notebook CI: every chapter listed in _toc.yml runs in smoke mode and its checked outputs repeat.

Each notebook is executed twice in all: by papermill (MODE="smoke", DATA from
ONESHOT_STEEL_DATA or "synthetic"; output under _build/papermill/), and by nbval re-running that
output and comparing the cells marked ``# NBVAL_CHECK_OUTPUT``. The book build reuses the
papermill outputs through its execution cache (see bookruns.real_book_build).

The same pipeline also runs on a model notebook built under a temporary folder, so that it is
exercised before (and independently of) the chapters.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from bookruns import (
    SMOKE_LIMIT_S,
    error_outputs,
    make_mini_book,
    mini_book,
    run_nbval,
    smoke_data,
    smoke_run,
)
from booktools import (
    REPO,
    toc_notebooks,
)

pytestmark = pytest.mark.notebooks

CHAPTERS = toc_notebooks()


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_runs_in_smoke_mode(notebook: Path) -> None:
    run = smoke_run(notebook)
    assert not run.error, f"{notebook.name} failed in smoke mode:\n{run.error}"
    assert not error_outputs(run.output)
    assert run.seconds < SMOKE_LIMIT_S, (
        f"{notebook.name} took {run.seconds:.0f} s in smoke mode; the budget is "
        f"{SMOKE_LIMIT_S} s (shrink the smoke sizes in its mode dict)"
    )


@pytest.mark.parametrize("notebook", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_checked_outputs_repeat(notebook: Path) -> None:
    run = smoke_run(notebook)
    if run.error:
        pytest.fail(f"{notebook.name} did not run in smoke mode, nothing to compare: {run.error}")
    result = run_nbval(run.output)
    assert result.returncode == 0, (
        f"nbval found outputs marked NBVAL_CHECK_OUTPUT that differ between two runs of "
        f"{notebook.name}:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    )


def test_papermill_outputs_live_under_build() -> None:
    for notebook in CHAPTERS:
        assert smoke_run(notebook).output.is_relative_to(REPO / "_build" / "papermill")


# --------------------------------------------------------------------- the model notebook
@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mini_book(tmp_path_factory.mktemp("book")).notebook


def test_model_notebook_runs_with_injected_parameters(model: Path) -> None:
    run = smoke_run(model, model.parents[1])
    assert not run.error
    nb = nbformat.read(run.output, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert 'MODE = "smoke"' in injected[0].source
    assert f'DATA = "{smoke_data()}"' in injected[0].source
    checked = next(c for c in nb.cells if c.source.startswith("# NBVAL_CHECK_OUTPUT"))
    assert checked.outputs[0]["text"].startswith("smoke 0 bool")


def test_model_notebook_setup_cell_warns_in_smoke_mode(model: Path) -> None:
    nb = nbformat.read(smoke_run(model, model.parents[1]).output, as_version=4)
    setup = next(c for c in nb.cells if "setup_notebook(" in c.source)
    bundles = [
        o["data"]
        for o in setup.outputs
        if o.output_type == "display_data"
        # setup_notebook also glues the run's mode (myst-nb's glue record), which is no warning
        and not any(k.startswith("application/papermill.record") for k in o["data"])
    ]
    assert len(bundles) == 1, "setup_notebook must show exactly one warning in smoke mode"
    markdown = bundles[0]["text/markdown"]
    assert markdown.startswith(":::{admonition}") and ":class: warning" in markdown
    assert "Smoke mode" in markdown
    assert "text/html" in bundles[0]  # what Jupyter and Colab show


def test_model_notebook_checked_outputs_repeat(model: Path) -> None:
    result = run_nbval(smoke_run(model, model.parents[1]).output)
    assert result.returncode == 0, result.stdout[-4000:]


def test_nbval_catches_a_changed_checked_output(model: Path, tmp_path: Path) -> None:
    nb = nbformat.read(smoke_run(model, model.parents[1]).output, as_version=4)
    checked = next(c for c in nb.cells if c.source.startswith("# NBVAL_CHECK_OUTPUT"))
    checked.outputs[0]["text"] = "full 0 bool\n"
    tampered = tmp_path / "book" / model.name
    tampered.parent.mkdir()
    nbformat.write(nb, tampered)
    result = run_nbval(tampered)
    assert result.returncode != 0
    assert "full 0 bool" in result.stdout


def test_failing_notebook_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    notebook = make_mini_book(root, "book/ch98_broken")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell('raise RuntimeError("broken on purpose")'))
    nbformat.write(nb, notebook)
    run = smoke_run(notebook, root)
    assert "broken on purpose" in run.error
