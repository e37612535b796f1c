"""Assignment variants (papermill) and the generated parts of the instructors' page."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from bookruns import smoke_data
from booktools import REPO

from oneshot_steel.errors import VariantError
from oneshot_steel.instructors import (
    DIFFICULTY,
    book_chapters,
    chapters_markdown,
    exercise_index,
    update_instructors_page,
)
from oneshot_steel.notebook import PARAMETERS_CELL
from oneshot_steel.variants import (
    VARIANTS,
    Variant,
    _value,
    check_variant,
    main,
    notebook_parameters,
    run_variant,
    run_variants,
)

CH09 = REPO / "book" / "ch09_inspection.ipynb"
CH10 = REPO / "book" / "ch10_deployment.ipynb"
INSTRUCTORS = REPO / "book" / "instructors.md"


# ----------------------------------------------------------------------------- the catalogue
def test_every_variant_names_parameters_of_its_chapter() -> None:
    assert len({v.name for v in VARIANTS}) == len(VARIANTS)
    for variant in VARIANTS:
        path = check_variant(variant)
        defaults = notebook_parameters(path)
        changed = [k for k, v in variant.parameters.items() if repr(v) != defaults[k]]
        assert changed, f"{variant.name} changes nothing: {variant.parameters}"


def test_parameters_are_read_with_ast_comments_and_calls_included() -> None:
    params = notebook_parameters(CH09)
    assert {"MODE", "DATA", "SEED", "TRAIN_CLASSES", "TEST_CLASSES", "UNKNOWN_CLASS"} <= set(params)
    assert {"N_WAY", "K_SHOT", "LOSS", "MARGIN"} <= set(params)
    assert params["MODE"] == "os.environ.get('ONESHOT_STEEL_MODE', '')"
    assert params["K_SHOT"] == "1"


def test_chapter_10_takes_chapter_9s_scenario_with_the_same_defaults() -> None:
    """Chapter 10 trains or loads chapter 9's network: the same parameters, the same defaults."""
    ch09, ch10 = notebook_parameters(CH09), notebook_parameters(CH10)
    assert ch10 == ch09
    assert any(v.notebook == "book/ch10_deployment.ipynb" for v in VARIANTS)


@pytest.mark.parametrize("chapter", ["ch05_training", "ch06_oneshot_evaluation"])
def test_chapters_5_and_6_take_the_class_split_as_parameters(chapter: str) -> None:
    """The split is in the parameters cell, so a variant (or papermill) may change it."""
    notebook = f"book/{chapter}.ipynb"
    params = notebook_parameters(REPO / notebook)
    assert params["TRAIN_CLASSES"] == "['RS', 'Pa', 'In']"
    assert params["TEST_CLASSES"] == "['Cr', 'PS', 'Sc']"
    swapped = {"TRAIN_CLASSES": ["Cr", "PS", "Sc"], "TEST_CLASSES": ["RS", "Pa", "In"]}
    check_variant(Variant("swapped", notebook, swapped))
    nb = nbformat.read(REPO / notebook, as_version=4)
    assert not any("globals()" in c.source for c in nb.cells)


def _notebook(tmp_path: Path, extra: str = "K = 3") -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMETERS_CELL + "\n" + extra)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(MODE, K)")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "book" / "ch98_model.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_unknown_parameter_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    _notebook(tmp_path)
    bad = Variant("typo", "book/ch98_model.ipynb", {"K_SHOTS": 5})
    with pytest.raises(VariantError, match=r"\['K_SHOTS'\].*\['DATA', 'K', 'MODE', 'SEED'\]"):
        check_variant(bad, tmp_path)


def test_missing_notebook_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VariantError, match="ch97_gone.ipynb"):
        check_variant(Variant("gone", "book/ch97_gone.ipynb"), tmp_path)


def test_prepare_only_writes_the_parameterised_hand_out(tmp_path: Path) -> None:
    _notebook(tmp_path)
    variant = Variant("k5", "book/ch98_model.ipynb", {"K": 5}, "five")
    runs = run_variants([variant], tmp_path / "out", execute=False, root=tmp_path, progress=False)
    assert runs[0].ok and not runs[0].executed
    nb = nbformat.read(runs[0].output, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert 'MODE = "smoke"' in injected[0].source and "K = 5" in injected[0].source
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    manifest = json.loads((tmp_path / "out" / "variants.json").read_text())
    assert manifest["executed"] is False
    assert manifest["variants"][0]["parameters"] == {"K": 5}
    assert manifest["variants"][0]["output"] == "k5.ipynb"


def test_a_failing_variant_is_reported_not_raised(tmp_path: Path) -> None:
    path = _notebook(tmp_path)
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("assert K != 7, 'seven is not allowed'"))
    nbformat.write(nb, path)
    run = run_variant(Variant("k7", "book/ch98_model.ipynb", {"K": 7}), tmp_path, root=tmp_path)
    assert not run.ok and "seven is not allowed" in run.error
    assert run.output.is_file()  # papermill keeps the notebook, failing cell marked


def test_command_line_values_and_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert _value("5") == 5 and _value("1.5") == 1.5 and _value("abc") == "abc"
    assert _value("[Cr, PS]") == ["Cr", "PS"] and _value("['Cr']") == ["Cr"]
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(v.name in out for v in VARIANTS)
    with pytest.raises(VariantError, match="No variant named"):
        main(["--only", "no-such-variant", "--list"])


@pytest.mark.notebooks
def test_every_variant_runs_in_smoke_mode(tmp_path: Path) -> None:
    """The course's variants, executed as `make variants` does (smoke mode, the test data)."""
    runs = run_variants(VARIANTS, tmp_path, mode="smoke", data=smoke_data(), progress=False)
    for run in runs:
        assert run.ok, f"{run.variant.name} failed: {run.error[-3000:]}"
        nb = nbformat.read(run.output, as_version=4)
        scenario = next(c for c in nb.cells if c.source.startswith("# NBVAL_CHECK_OUTPUT\ndata ="))
        text = "".join(o.get("text", "") for o in scenario.outputs)
        params = run.variant.parameters
        # the printed scenario shows the injected values took effect (chapters 9 and 10 alike)
        if "UNKNOWN_CLASS" in params:
            assert f"unknown class     {params['UNKNOWN_CLASS']}:" in text
        if "K_SHOT" in params:
            assert f"{params['K_SHOT']} per class enrolled" in text
        if "N_WAY" in params:
            assert f"episodes {params['N_WAY']}-way" in text
        if "LOSS" in params:
            assert f"loss {params['LOSS']}" in text
        if "MARGIN" in params:
            assert f"loss {params['LOSS']}, margin {params['MARGIN']:g}" in text
        if "TRAIN_CLASSES" in params:
            assert f"training classes  {'/'.join(params['TRAIN_CLASSES'])}:" in text


# ----------------------------------------------------------------------------- instructors page
def _labels_in(notebook: Path) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return re.findall(r"```\{exercise(?:-start)?\}[^\n]*\n\s*:label:\s*(\S+)", text)


def test_instructors_page_lists_every_exercise() -> None:
    page = INSTRUCTORS.read_text(encoding="utf-8")
    missing = [
        f"{nb.name}: {label}"
        for nb in book_chapters(REPO)
        for label in _labels_in(nb)
        if f"`{label}`" not in page
    ]
    assert not missing, (
        "book/instructors.md does not list these exercises; regenerate its tables with "
        f"`python -m oneshot_steel.instructors`: {missing}"
    )


def test_every_judged_difficulty_names_an_exercise_of_the_book() -> None:
    labels = {label for nb in book_chapters(REPO) for label in _labels_in(nb)}
    stale = sorted(set(DIFFICULTY) - labels)
    assert not stale, f"DIFFICULTY in oneshot_steel/instructors.py names removed exercises: {stale}"


def test_exercise_index_finds_what_the_directives_hold() -> None:
    chapters = book_chapters(REPO)
    found = exercise_index(chapters)
    assert [e.label for e in found] == [label for nb in chapters for label in _labels_in(nb)]
    by_label = {e.label: e for e in found}
    assert by_label["ch09-ex-cost"].kind == "coding, self-checked"
    assert by_label["ch09-ex-accept-rate"].kind == "coding"
    assert by_label["ch09-ex-variants"].difficulty.startswith("★★★")
    assert by_label["ch10-ex-per-row"].kind == "coding, self-checked"
    assert by_label["ch10-ex-per-row"].difficulty.startswith("★☆☆")
    assert by_label["ch10-ex-speed"].kind == "answer in words"
    assert by_label["ch10-ex-paper-int8"].kind == "coding"
    assert by_label["ch10-ex-paper-int8"].difficulty.startswith("★★★")


def test_a_cell_that_only_shows_glued_numbers_is_no_exercise_code(tmp_path: Path) -> None:
    words = "```{exercise}\n:label: ex-words\nExplain why.\n```"
    code = "```{exercise}\n:label: ex-code\nCompute it.\n```"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_markdown_cell(words),
        nbformat.v4.new_code_cell('# shown in Colab\nshow_glued("a:.1f", fmt("b"))'),
        nbformat.v4.new_markdown_cell(code),
        nbformat.v4.new_code_cell('x = 1\nshow_glued("a")'),
    ]
    path = tmp_path / "ch99_demo.ipynb"
    nbformat.write(nb, path)
    kinds = {e.label: e.kind for e in exercise_index([path])}
    assert kinds == {"ex-words": "answer in words", "ex-code": "coding"}


def test_instructors_page_is_regenerated_between_its_markers(tmp_path: Path) -> None:
    page = tmp_path / "instructors.md"
    shutil.copy(INSTRUCTORS, page)
    text = update_instructors_page(page, [CH09])
    assert text == page.read_text(encoding="utf-8")
    assert "| ch09 | `ch09-ex-cost` |" in text and "| ch04 |" not in text
    assert "### Chapter 9: One-shot inspection in practice" in text
    assert "## Course plan" in text  # the hand-written parts stay
    assert "Time to read:** about 30 minutes." in chapters_markdown([CH09])
    assert "### Chapter 10: Deployment on the line" in chapters_markdown([CH10])
    page.write_text("no markers here\n", encoding="utf-8")
    with pytest.raises(Exception, match="chapters:start"):
        update_instructors_page(page, [CH09])
