"""The student notebooks: every chapter without its solutions, opened by the student edition.

The student edition of the book leaves the solutions out of its pages; its Colab and Binder
buttons must open notebooks that leave them out too. Here real chapters (with plain and gated
code solutions) are built in both editions, every launch link is followed to the notebook it
names, and that notebook is compared with the complete chapter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from bookruns import LaunchBook, launch_book
from booktools import REPO, launch_links, model_notebook, repository

from oneshot_steel.errors import OneShotSteelError
from oneshot_steel.instructors import exercise_index, solutions
from oneshot_steel.student import MANIFEST, STUDENT_BRANCH, strip_solutions

#: ch01: an exercise between exercise-start/-end and a gated code solution; ch03: a gated code
#: solution whose code repeats the exercise's check line, and a solution holding a code block.
CHAPTERS = ("ch01_dataset", "ch03_contrastive_loss")
SOLUTION_MARKERS = ("SOLUTION-PLAIN", "SOLUTION-GATED", "SOLUTION-CODE")


# --------------------------------------------------------------------- stripping one notebook
def test_strip_removes_solution_text_and_gated_code(tmp_path: Path) -> None:
    nb = model_notebook("book/ch99_pipeline_check.ipynb")
    nb.cells[4].outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    nb.cells[4].execution_count = 3
    student, removed = strip_solutions(nb)
    assert removed == 3
    whole = "\n".join(c.source for c in student.cells)
    for marker in SOLUTION_MARKERS:
        assert marker in "\n".join(c.source for c in nb.cells)  # the original is untouched
        assert marker not in whole, f"{marker} survived the stripping"
    assert "{solution" not in whole
    for statement in (
        "Why does the loss of a pair of different classes vanish beyond the margin?",
        "Compute twice the seed.",
        "Name the device this notebook ran on.",
        "answer = ...  # your code here",
    ):
        assert statement in whole, f"the exercise text {statement!r} was lost"
    code = [c for c in student.cells if c.cell_type == "code"]
    assert len(code) == len([c for c in nb.cells if c.cell_type == "code"]) - 1
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert code[0].metadata["tags"] == ["parameters"]
    nbformat.validate(student)
    nbformat.write(nb, tmp_path / "complete.ipynb")
    nbformat.write(student, tmp_path / "student.ipynb")
    labels = [
        [e.label for e in exercise_index([tmp_path / f"{n}.ipynb"])]
        for n in ("complete", "student")
    ]
    assert labels[0] == labels[1] == ["ex-pipeline-plain", "ex-pipeline-code", "ex-pipeline-third"]


def test_an_unclosed_gated_solution_is_an_error_naming_the_file() -> None:
    nb = model_notebook("book/ch99_pipeline_check.ipynb")
    nb.cells = [c for c in nb.cells if "{solution-end}" not in c.source]
    with pytest.raises(OneShotSteelError, match=r"ch99\.ipynb.*ex-pipeline-code.*solution-end"):
        strip_solutions(nb, "ch99.ipynb")


# --------------------------------------------------------------------- the real chapters
@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> LaunchBook:
    built = launch_book(tmp_path_factory.mktemp("launch"), CHAPTERS)
    # The CLI that `make student-notebooks` runs, on this book.
    proc = subprocess.run(
        [sys.executable, "-m", "oneshot_steel.student", "--root", str(built.root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"publish them to the branch {STUDENT_BRANCH!r}" in proc.stdout
    return built


def _links(html: Path, chapter: Path, root: Path) -> list[tuple[str, str, str]]:
    """Every Colab and Binder link of ``chapter``'s page: (link, branch, notebook path)."""
    rel = chapter.relative_to(root).with_suffix(".html")
    found = launch_links((html / rel).read_text(encoding="utf-8"), root)
    kinds = {"colab" if "colab" in link else "binder" for link, _, _ in found}
    assert kinds == {"colab", "binder"}, f"{rel}: launch links {found}"
    return found


def _solution_content(nb: nbformat.NotebookNode) -> tuple[set[str], set[str], list[str]]:
    """The lines only solutions have, the lines outside solutions, and the gated code cells."""
    spans = solutions(nb.cells)
    inside: list[str] = []
    gated_code: list[str] = []
    outside_parts: list[str] = []
    cuts: dict[int, list[tuple[int, int]]] = {}
    covered: set[int] = set()
    for sol in spans:
        (first, a), (last, b) = sol.start, sol.end
        if first == last:
            cuts.setdefault(first, []).append((a, b))
        else:
            cuts.setdefault(first, []).append((a, len(nb.cells[first].source)))
            cuts.setdefault(last, []).append((0, b))
            covered.update(range(first + 1, last))
    for i, cell in enumerate(nb.cells):
        if i in covered:
            inside.append(cell.source)
            if cell.cell_type == "code":
                gated_code.append(cell.source)
            continue
        at = 0
        for a, b in sorted(cuts.get(i, [])):
            outside_parts.append(cell.source[at:a])
            inside.append(cell.source[a:b])
            at = b
        outside_parts.append(cell.source[at:])

    def lines(texts: list[str]) -> set[str]:
        return {line.strip() for text in texts for line in text.splitlines() if line.strip()}

    outside = lines(outside_parts)
    return {line for line in lines(inside) - outside if len(line) >= 12}, outside, gated_code


def test_student_edition_launches_solution_free_notebooks(book: LaunchBook) -> None:
    out = book.root / "_build" / "student-notebooks"
    assert (out / MANIFEST).is_file()
    _, source_branch = repository(book.root)
    gated_seen = 0
    for chapter in book.chapters:
        complete = nbformat.read(chapter, as_version=4)
        only_solutions, outside, gated_code = _solution_content(complete)
        assert len(only_solutions) > 5, f"{chapter.name}: no solutions to look for"
        gated_seen += len(gated_code)
        for link, branch, path in _links(book.student.html, chapter, book.root):
            assert branch == STUDENT_BRANCH, f"{chapter.name}: the student edition opens {link}"
            target = out / path
            assert target.is_file(), f"{link} opens {path}, which make student-notebooks lacks"
            student = nbformat.read(target, as_version=4)
            nbformat.validate(student)
            text = "\n".join(c.source for c in student.cells)
            copy_lines = {line.strip() for line in text.splitlines()}
            leaked = sorted(only_solutions & copy_lines)
            assert not leaked, f"{link} opens a notebook with solution lines: {leaked[:3]}"
            assert "{solution" not in text, f"{link} opens a notebook with a solution directive"
            sources = [c.source for c in student.cells if c.cell_type == "code"]
            assert not set(gated_code) & set(sources), f"{link}: gated solution code kept"
            # Everything else is kept (the Colab badge opens the student branch, too).
            relinked = {
                line.replace(f"/blob/{source_branch}/", f"/blob/{STUDENT_BRANCH}/")
                for line in outside
            }
            lost = sorted(relinked - copy_lines)
            assert not lost, f"{link}: the student notebook lost {lost[:3]}"
            assert [e.label for e in exercise_index([target])] == [
                e.label for e in exercise_index([chapter])
            ]
            assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
            tags = [c.metadata.get("tags", []) for c in student.cells]
            assert ["parameters"] in tags, f"{path}: the parameters cell lost its tag"
    assert gated_seen >= 2, "the chapters under test have no gated code solution"
    # The student pages themselves hold no solution either.
    for chapter in book.chapters:
        page = (book.student.html / "book" / f"{chapter.stem}.html").read_text(encoding="utf-8")
        assert 'class="solution' not in page and "solution-start" not in page


def test_complete_edition_launches_the_complete_notebooks(book: LaunchBook) -> None:
    _, source_branch = repository(book.root)
    for chapter in book.chapters:
        only_solutions, _, _ = _solution_content(nbformat.read(chapter, as_version=4))
        for link, branch, path in _links(book.complete.html, chapter, book.root):
            assert branch == source_branch, f"{chapter.name}: the complete edition opens {link}"
            assert path == chapter.relative_to(book.root).as_posix(), link
            # In the repository, that path on that branch is the complete chapter.
            text = (REPO / path).read_text(encoding="utf-8")
            assert only_solutions <= {
                line.strip()
                for c in nbformat.reads(text, as_version=4).cells
                for line in c.source.splitlines()
            }
