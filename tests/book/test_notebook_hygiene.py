"""Every chapter follows the notebook conventions (README.md, "Contributing"), and the checker
itself is honest.

The rules live in booktools.notebook_problems: stored without outputs or execution counts,
one ``parameters`` cell reading ONESHOT_STEEL_MODE and ONESHOT_STEEL_DATA, the canonical setup
cell right after it, the header (title, Colab badge, learning objectives, prerequisites, times),
Summary then 3-5 Exercises with solutions, a self-check, no ``.cuda()``, kernel ``python3``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from booktools import (
    REPO,
    RUN_FOLDER_CALLS,
    model_notebook,
    notebook_problems,
    page_source,
    parameters_problems,
    toc_entries,
    toc_notebooks,
)

from oneshot_steel.glue import DISPLAY_CELL_IMPORT
from oneshot_steel.notebook import CHECKPOINTS_PARAMETER, PARAMETERS_CELL, setup_cell

CHAPTERS = toc_notebooks()


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_follows_the_conventions(notebook: Path) -> None:
    problems = notebook_problems(notebook)
    assert not problems, f"{notebook.name}:\n- " + "\n- ".join(problems)


def test_toc_lists_only_pages_that_exist() -> None:
    missing = [e for e in toc_entries() if page_source(e) is None]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"


def test_every_book_notebook_is_in_the_toc() -> None:
    on_disk = {
        p.resolve()
        for p in (REPO / "book").rglob("*.ipynb")
        if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
    }
    listed = {p.resolve() for p in CHAPTERS}
    assert on_disk <= listed, (
        f"notebooks not listed in _toc.yml (add them, see its header): "
        f"{sorted(str(p.relative_to(REPO)) for p in on_disk - listed)}"
    )


def test_parameters_constant_is_the_canonical_cell() -> None:
    assert parameters_problems(PARAMETERS_CELL) == []
    assert parameters_problems(f"{PARAMETERS_CELL}\n{CHECKPOINTS_PARAMETER}") == []


TRAINING_CHAPTERS = [
    p for p in CHAPTERS if any(f"{f}(" in p.read_text(encoding="utf-8") for f in RUN_FOLDER_CALLS)
]


def test_chapters_that_train_have_the_checkpoints_parameter() -> None:
    """Chapters 5-11 keep trained runs; CHECKPOINTS (Drive on Colab) must be a parameter there."""
    expected = ["ch05", "ch06", "ch07", "ch08", "ch09", "ch10", "ch11"]
    assert [p.stem[:4] for p in TRAINING_CHAPTERS] == expected
    for path in TRAINING_CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert CHECKPOINTS_PARAMETER in params.source.splitlines(), path.name


def test_ch05_explains_checkpoints_as_a_parameter() -> None:
    """The prose points at the parameter, which comes first, not at a cell after the training."""
    nb = nbformat.read(REPO / "book" / "ch05_training.ipynb", as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert 'set `CHECKPOINTS = "/content/drive/MyDrive/oneshot-steel"`' in prose
    assert "before\nthe cell that sets `RUNS`" not in prose


def test_training_model_notebook_passes(tmp_path: Path) -> None:
    nb = model_notebook(REL)
    _trains(nb)
    assert notebook_problems(_write(tmp_path, nb), tmp_path) == []


# --------------------------------------------------------------------- the checker
REL = "book/ch99_pipeline_check.ipynb"


def _write(tmp_path: Path, nb: nbformat.NotebookNode) -> Path:
    path = tmp_path / REL
    path.parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "_config.yml").write_text((REPO / "_config.yml").read_text())
    nbformat.write(nb, path)
    return path


def _cell(nb: nbformat.NotebookNode, needle: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if needle in c.source)


def test_model_notebook_passes(tmp_path: Path) -> None:
    assert notebook_problems(_write(tmp_path, model_notebook(REL)), tmp_path) == []


def _with_outputs(nb):
    _cell(nb, "NBVAL_CHECK_OUTPUT").outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="smoke 0 bool\n")
    ]


def _with_count(nb):
    _cell(nb, "NBVAL_CHECK_OUTPUT").execution_count = 3


def _untag_parameters(nb):
    _cell(nb, "ONESHOT_STEEL_MODE").metadata["tags"] = []


def _two_parameters(nb):
    _cell(nb, "NBVAL_CHECK_OUTPUT").metadata["tags"] = ["parameters"]


def _hard_coded_mode(nb):
    cell = _cell(nb, "ONESHOT_STEEL_MODE")
    cell.source = cell.source.replace('os.environ.get("ONESHOT_STEEL_MODE", "")', '"quick"')


def _no_data_env(nb):
    cell = _cell(nb, "ONESHOT_STEEL_DATA")
    cell.source = cell.source.replace("ONESHOT_STEEL_DATA", "MY_DATA")


def _other_repository(nb):
    cell = _cell(nb, "setup_notebook(")
    cell.source = setup_cell("https://github.com/someone/else", "main")


def _no_setup(nb):
    nb.cells.remove(_cell(nb, "setup_notebook("))


def _setup_later(nb):
    setup = _cell(nb, "setup_notebook(")
    nb.cells.remove(setup)
    nb.cells.insert(nb.cells.index(_cell(nb, "NBVAL_CHECK_OUTPUT")) + 1, setup)


def _no_objectives(nb):
    nb.cells[0].source = nb.cells[0].source.replace("## Learning objectives", "## Goals")


def _no_summary(nb):
    nb.cells.remove(_cell(nb, "## Summary"))


def _no_exercises_heading(nb):
    cell = _cell(nb, "## Exercises")
    cell.source = cell.source.replace("## Exercises", "## Practice")


def _cuda(nb):
    _cell(nb, "matplotlib").source += "\nx = x.cuda()"


def _late_nbval_marker(nb):
    cell = _cell(nb, "NBVAL_CHECK_OUTPUT")
    cell.source = "x = 1\n" + cell.source


def _wrong_badge(nb):
    nb.cells[0].source = nb.cells[0].source.replace("ch99_pipeline_check", "ch01_other")


def _no_time_to_run(nb):
    nb.cells[0].source = nb.cells[0].source.replace("Time to run", "Duration")


def _two_exercises(nb):
    nb.cells.remove(_cell(nb, "ex-pipeline-third"))


def _unsolved(nb):
    cell = _cell(nb, "ex-pipeline-third")
    cell.source = cell.source.split("```{solution}")[0]


def _no_self_check(nb):
    for cell in [c for c in nb.cells if "check_equal" in c.source]:
        nb.cells.remove(cell)


def _other_kernel(nb):
    nb.metadata["kernelspec"]["name"] = "conda-env-foo"


def _display_cell_index(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.source.startswith(DISPLAY_CELL_IMPORT))


def _no_glue_display(nb):
    del nb.cells[_display_cell_index(nb)]


def _stale_glue_display(nb):
    _cell(nb, "{glue:text}`pipeline_share").source += " Twice: {glue:text}`pipeline_twice:.2f`."


def _orphan_glue_display(nb):
    index = _display_cell_index(nb)
    orphan = nbformat.v4.new_code_cell(nb.cells[index].source, metadata={"tags": ["remove-cell"]})
    nb.cells.insert(index + 2, orphan)


def _untagged_glue_display(nb):
    nb.cells[_display_cell_index(nb)].metadata["tags"] = []


def _trains(nb, parameter: str = CHECKPOINTS_PARAMETER, call: str = "checkpoints=CHECKPOINTS"):
    """The model notebook as a chapter that trains: it asks runs_dir where runs are kept."""
    cell = _cell(nb, "ONESHOT_STEEL_MODE")
    cell.source = cell.source.replace("SEED = 0", f"SEED = 0\n{parameter}".rstrip())
    nb.cells.insert(
        nb.cells.index(_cell(nb, "NBVAL_CHECK_OUTPUT")) + 1,
        nbformat.v4.new_code_cell(
            "from oneshot_steel.notebook import load_data\n"
            "from oneshot_steel.runs import runs_dir\n\n"
            f"RUNS = runs_dir(ctx, load_data(ctx), {call})"
        ),
    )


def _trains_without_parameter(nb):
    _trains(nb, parameter="")


def _trains_ignoring_parameter(nb):
    _trains(nb, call='["RS", "Pa", "In"], ["Cr", "PS", "Sc"]')


def _oneshot_run_ignoring_parameter(nb):
    _trains(nb)
    cell = _cell(nb, "RUNS = runs_dir(")
    cell.source = "from oneshot_steel.runs import oneshot_run\n\nrun = oneshot_run(ctx)"


def _hard_coded_checkpoints(nb):
    _trains(nb, parameter='CHECKPOINTS = "/content/drive"  # hard-coded')


VIOLATIONS: dict[str, tuple[Callable, str]] = {
    "outputs": (_with_outputs, "stored with outputs"),
    "execution count": (_with_count, "execution count"),
    "no parameters tag": (_untag_parameters, "exactly one cell must be tagged 'parameters'"),
    "two parameters tags": (_two_parameters, "found 2"),
    "hard-coded MODE": (_hard_coded_mode, 'MODE = os.environ.get("ONESHOT_STEEL_MODE"'),
    "DATA not from env": (_no_data_env, 'DATA = os.environ.get("ONESHOT_STEEL_DATA"'),
    "other repository": (_other_repository, "canonical setup cell"),
    "no setup cell": (_no_setup, "canonical setup cell"),
    "setup cell later": (_setup_later, "first code cell after the parameters"),
    "no objectives": (_no_objectives, "Learning objectives"),
    "no summary": (_no_summary, "## Summary"),
    "no exercises": (_no_exercises_heading, "## Exercises"),
    "cuda": (_cuda, ".cuda()"),
    "NBVAL marker late": (_late_nbval_marker, "must be the first line"),
    "wrong badge": (_wrong_badge, "Open-in-Colab badge"),
    "no time to run": (_no_time_to_run, "Time to run"),
    "two exercises": (_two_exercises, "3 to 5 exercises"),
    "exercise without solution": (_unsolved, "has no solution"),
    "no self-check": (_no_self_check, "oneshot_steel.checks"),
    "other kernel": (_other_kernel, "kernelspec"),
    "glue roles without display cell": (_no_glue_display, "no show_glued cell follows"),
    "stale display cell": (_stale_glue_display, "show_glued cell is out of date"),
    "orphan display cell": (_orphan_glue_display, "without glue roles above it"),
    "display cell shown in the book": (_untagged_glue_display, "tagged 'remove-cell'"),
    "runs_dir without CHECKPOINTS": (_trains_without_parameter, "CHECKPOINTS_PARAMETER"),
    "CHECKPOINTS not passed": (_trains_ignoring_parameter, "must pass checkpoints=CHECKPOINTS"),
    "CHECKPOINTS not passed to oneshot_run": (
        _oneshot_run_ignoring_parameter,
        "oneshot_run(...) must pass checkpoints=CHECKPOINTS",
    ),
    "CHECKPOINTS hard-coded": (_hard_coded_checkpoints, 'CHECKPOINTS = os.environ.get("ONES'),
}


@pytest.mark.parametrize("name", list(VIOLATIONS))
def test_checker_catches(name: str, tmp_path: Path) -> None:
    mutate, expected = VIOLATIONS[name]
    nb = model_notebook(REL)
    mutate(nb)
    problems = notebook_problems(_write(tmp_path, nb), tmp_path)
    assert any(expected in p for p in problems), f"{name}: not caught, got {problems}"
