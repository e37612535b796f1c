"""Student notebooks: every chapter without its exercise solutions.

The student edition of the book (``make book-student``) leaves the solutions out of its pages,
but its Colab and Binder buttons open notebooks from the repository; the chapters on ``main``
hold every solution. ``make student-notebooks`` (``python -m oneshot_steel.student``) writes a
copy of each chapter listed in _toc.yml with its solutions removed, text and gated code cells
alike, to ``_build/student-notebooks/book/``; the book workflow publishes that folder to the
:data:`STUDENT_BRANCH` of the repository, and the student edition's buttons open that branch
(book/_ext/oneshot_book.py). The solutions are found by :func:`oneshot_steel.instructors.solutions`,
the same reader the exercise index uses.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import OneShotSteelError
from .files import repo_root
from .instructors import solutions

__all__ = [
    "MANIFEST",
    "STUDENT_BRANCH",
    "main",
    "relink_colab",
    "strip_solutions",
    "toc_notebooks",
    "write_student_notebooks",
]

#: The branch of the repository that holds the student notebooks (published by the book
#: workflow, opened by the student edition's launch buttons).
STUDENT_BRANCH = "student"
#: Written next to the notebooks: the branch to publish to and what was removed, per notebook.
MANIFEST = "student-notebooks.json"
DEFAULT_OUT = Path("_build") / "student-notebooks"
_COLAB_BLOB = r"(https://colab\.research\.google\.com/github/[^/\s)\"']+/[^/\s)\"']+/blob/){}/"


def strip_solutions(nb: Any, where: str = "the notebook") -> tuple[Any, int]:
    """A copy of ``nb`` without its solutions, and how many were removed.

    Solution text is cut out of its Markdown cell (a cell left empty is dropped); the code cells
    of a gated solution are dropped; everything else, exercise statements and cell tags
    included, stays as it was. Outputs and execution counts are cleared, so the copy is a clean
    hand-out that runs top to bottom.
    """
    found = solutions(nb.cells, where)
    cuts: dict[int, list[tuple[int, int]]] = {}
    dropped: set[int] = set()
    for sol in found:
        (first, a), (last, b) = sol.start, sol.end
        if first == last:
            cuts.setdefault(first, []).append((a, b))
            continue
        cuts.setdefault(first, []).append((a, len(nb.cells[first].source)))
        dropped.update(range(first + 1, last))
        cuts.setdefault(last, []).append((0, b))
    out = copy.deepcopy(nb)
    cells = []
    for i, cell in enumerate(out.cells):
        if i in dropped:
            continue
        if i in cuts:
            source, kept, at = cell.source, [], 0
            for a, b in sorted(cuts[i]):
                kept.append(source[at:a])
                at = b
            kept.append(source[at:])
            # Where a solution was, one blank line separates what stood around it.
            cell.source = "\n\n".join(k.strip("\n") for k in kept if k.strip())
            if not cell.source:
                continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    out.cells = cells
    return out, len(found)


def relink_colab(nb: Any, branch: str, student_branch: str = STUDENT_BRANCH) -> None:
    """Point the notebook's Open-in-Colab links at ``student_branch`` instead of ``branch``.

    The badge of a chapter opens the chapter itself; on the student branch it must open the
    student copy, not the complete notebook on ``branch``.
    """
    pattern = re.compile(_COLAB_BLOB.format(re.escape(branch)))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = pattern.sub(rf"\g<1>{student_branch}/", cell.source)


def toc_notebooks(root: Path) -> list[Path]:
    """The notebooks that ``root``/_toc.yml lists (the chapters), in reading order."""
    import yaml  # comes with jupyter-book, like everything that builds the book

    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise OneShotSteelError(f"{toc_path} does not exist: point --root at the book's checkout.")
    found: list[Path] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node and (root / f"{node[key]}.ipynb").is_file():
                    found.append(root / f"{node[key]}.ipynb")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc_path.read_text(encoding="utf-8")))
    return found


def _source_branch(root: Path) -> str:
    """The branch the chapters are published on (_config.yml's ``repository.branch``)."""
    import yaml

    path = root / "_config.yml"
    if not path.is_file():
        raise OneShotSteelError(f"{path} does not exist: point --root at the book's checkout.")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return str((config.get("repository") or {}).get("branch") or "main")


def write_student_notebooks(
    root: str | Path, out: str | Path, branch: str = STUDENT_BRANCH
) -> dict[str, Any]:
    """Write the solution-free copy of every chapter of ``root`` under ``out``; the manifest.

    Paths under ``out`` are the chapters' paths in the repository (``book/chNN_x.ipynb``), so
    that ``out`` can be laid over a checkout of the ``branch``. The whole folder is written
    next to ``out`` first and then swapped in: a reader never sees half of it.
    """
    import nbformat

    root, out = Path(root).resolve(), Path(out).resolve()
    chapters = toc_notebooks(root)
    if not chapters:
        raise OneShotSteelError(f"{root / '_toc.yml'} lists no notebook: nothing to copy.")
    source_branch = _source_branch(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        removed: dict[str, int] = {}
        for chapter in chapters:
            rel = chapter.relative_to(root).as_posix()
            try:
                nb = nbformat.read(chapter, as_version=4)
            except Exception as err:
                raise OneShotSteelError(f"{chapter} is not a readable notebook: {err}") from err
            student, removed[rel] = strip_solutions(nb, str(chapter))
            relink_colab(student, source_branch, branch)
            try:
                nbformat.validate(student)
            except nbformat.ValidationError as err:
                raise OneShotSteelError(f"the student copy of {chapter} is invalid: {err}") from err
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(student, target)
        manifest = {"branch": branch, "source_branch": source_branch, "solutions_removed": removed}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / out.name)
        staging.rename(out)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m oneshot_steel.student [--root DIR] [--out DIR]``: write the student notebooks."""
    parser = argparse.ArgumentParser(
        prog="python -m oneshot_steel.student",
        description="Copy every chapter of the book without its exercise solutions. Needs a "
        "source checkout of the book (the notebooks are not part of the installed package).",
    )
    parser.add_argument("--root", type=Path, help="the book's checkout (default: this one)")
    parser.add_argument(
        "--out", type=Path, help=f"output folder (default: <root>/{DEFAULT_OUT.as_posix()})"
    )
    args = parser.parse_args(argv)
    root = args.root or repo_root()
    if root is None:
        parser.error("cannot find the book's checkout; pass --root")
    out = args.out or Path(root) / DEFAULT_OUT
    try:
        manifest = write_student_notebooks(root, out)
    except OneShotSteelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    total = sum(manifest["solutions_removed"].values())
    print(
        f"wrote {len(manifest['solutions_removed'])} student notebooks ({total} solutions "
        f"removed) to {out}; publish them to the branch {manifest['branch']!r}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
