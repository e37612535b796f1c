"""The generated parts of the instructors' page, and where the chapters' exercises and solutions are.

The chapter overview and the exercise index are read from the chapters themselves (their header
cell and their ``{exercise}`` directives), so they cannot drift from the book:
``python -m oneshot_steel.instructors`` rewrites the blocks between ``<!-- chapters:start/end
-->`` and ``<!-- exercises:start/end -->`` of ``book/instructors.md``, and a test fails when an
exercise of a chapter is missing from that page. :func:`solutions` finds every solution (a
``{solution}`` directive, or the cells between ``{solution-start}`` and ``{solution-end}``): the
student notebooks (:mod:`oneshot_steel.student`) are the chapters without them.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OneShotSteelError
from .files import atomic_write_text, repo_root

__all__ = [
    "DIFFICULTY",
    "Exercise",
    "Solution",
    "book_chapters",
    "chapters_markdown",
    "exercise_index",
    "exercises_markdown",
    "main",
    "solutions",
    "update_instructors_page",
]


@dataclass(frozen=True)
class Exercise:
    """One ``{exercise}`` directive of a chapter."""

    chapter: str  #: notebook file stem, e.g. "ch04_siamese_network"
    label: str
    title: str
    kind: str  #: "coding, self-checked", "coding" or "answer in words"
    difficulty: str


#: Difficulty by label, the instructors' judgement: 1 routine (applies the chapter directly),
#: 2 moderate (the chapter's ideas in a new setting), 3 a small project (runs chapters or needs
#: new measurements). Exercises not listed (new ones too) count as 2 until someone judges them.
DIFFICULTY: dict[str, int] = {
    **dict.fromkeys(("ex-ch01-threshold", "ch04-ex-share"), 1),
    **dict.fromkeys(("ch10-ex-per-row", "ch11-ex-defect"), 1),
    **dict.fromkeys(("ch05-ex-margin", "ch05-ex-triplet", "ch07-ex-heldout"), 3),
    **dict.fromkeys(("ch08-ex-window", "ch09-ex-variants"), 3),
    **dict.fromkeys(("ch10-ex-paper-int8", "ch11-ex-direction"), 3),
}
_STARS = {1: "★☆☆ routine", 2: "★★☆ moderate", 3: "★★★ project"}
_EXERCISE = re.compile(
    r"(`{3,})\{exercise(?:-start)?\}[ \t]*([^\n]*)\n((?:[ \t]*:[\w-]+:[^\n]*\n)*)"
)
#: A cell that only shows glued numbers in Colab (see :func:`oneshot_steel.glue.show_glued`).
_DISPLAY_ONLY = re.compile(r"(?:#[^\n]*\n)*show_glued\((?:[^()]|\([^()]*\))*\)")
_CODE_BLOCK = re.compile(r"`{3,}\s*(?:python|bash|\{code-cell\})")
_SOLUTION = re.compile(r"^ {0,3}(`{3,}|:{3,})\{solution(-start)?\}[ \t]*(\S*)[^\n]*(?:\n|\Z)", re.M)
_SOLUTION_END = re.compile(r"^ {0,3}(`{3,}|:{3,})\{solution-end\}[^\n]*(?:\n|\Z)", re.M)


def _chapter_title(nb: Any, fallback: str) -> str:
    first = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
    match = re.match(r"#\s+(.+)", first)
    return match.group(1).strip() if match else fallback


def _segments(cells: list[Any]) -> list[tuple[re.Match[str], str, list[str]]]:
    """Each exercise directive with its text and code cells, up to the next exercise."""
    marks = [
        (i, m)
        for i, c in enumerate(cells)
        if c.cell_type == "markdown"
        for m in _EXERCISE.finditer(c.source)
    ]
    out = []
    for n, (i, match) in enumerate(marks):
        following = marks[n + 1] if n + 1 < len(marks) else None
        if following is not None and following[0] == i:
            out.append((match, cells[i].source[match.start() : following[1].start()], []))
            continue
        stop = following[0] if following is not None else len(cells)
        text, code = [cells[i].source[match.start() :]], []
        for cell in cells[i + 1 : stop]:
            if cell.cell_type != "code":
                text.append(cell.source)
            elif not _DISPLAY_ONLY.fullmatch(cell.source.strip()):  # show_glued: no exercise code
                code.append(cell.source)
        if following is not None:
            text.append(cells[stop].source[: following[1].start()])
        out.append((match, "\n".join(text), code))
    return out


def _title(match: re.Match[str], text: str) -> str:
    """The directive's title, or the first sentence of the exercise when it has none."""
    if match.group(2).strip():
        return match.group(2).strip()
    rest = text[match.end() - match.start() :]
    body = rest.split(match.group(1), 1)[0]
    if not body.strip():  # {exercise-start}: the exercise is the text after the directive
        body = rest.split(match.group(1), 1)[-1].split("```", 1)[0]
    body = re.sub(r"\*\*(.+?)\*\*", r"\1", body)
    sentence = re.split(r"(?<=[.?!])\s", " ".join(body.split()), maxsplit=1)[0]
    if len(sentence) <= 70:
        return sentence
    cut = sentence[:67].rsplit(" ", 1)[0]
    while cut.count("`") % 2:  # never end inside inline code or a role: drop that piece
        cut = re.sub(r"\s*(\{[\w:-]+\})?`[^`]*$", "", cut)
    return cut.rstrip(" ,;:") + " ..."


def exercise_index(notebooks: Sequence[str | Path]) -> list[Exercise]:
    """Every exercise of ``notebooks``, in order, with its kind and difficulty.

    Kind: "coding, self-checked" when a code cell of the exercise calls a check; "coding" when
    it has code cells or its solution shows code; "answer in words" otherwise.
    """
    import nbformat

    found = []
    for path in notebooks:
        nb = nbformat.read(Path(path), as_version=4)
        for match, text, code in _segments(nb.cells):
            label = re.search(r":label:\s*(\S+)", match.group(3))
            if label is None:
                continue
            if any("check" in c for c in code):
                kind = "coding, self-checked"
            elif code or _CODE_BLOCK.search(text):
                kind = "coding"
            else:
                kind = "answer in words"
            level = DIFFICULTY.get(label.group(1), 2)
            found.append(
                Exercise(Path(path).stem, label.group(1), _title(match, text), kind, _STARS[level])
            )
    return found


@dataclass(frozen=True)
class Solution:
    """Where one solution lies in a notebook: from ``start`` up to (not including) ``end``.

    Positions are ``(cell index, character offset in its source)``. A gated solution
    (``{solution-start}`` ... ``{solution-end}``) spans the cells in between, code cells too.
    """

    label: str
    start: tuple[int, int]
    end: tuple[int, int]
    gated: bool


def _closing_fence(source: str, fence: str, pos: int) -> re.Match[str] | None:
    """The line closing a block opened by ``fence`` (CommonMark: same character, as long or
    longer, nothing else on the line), searched from ``pos``."""
    pattern = rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*(?:\n|\Z)"
    return re.compile(pattern, re.M).search(source, pos)


def solutions(cells: Sequence[Any], where: str = "the notebook") -> list[Solution]:
    """Every solution of a notebook's ``cells``, in order; ``where`` names it in errors.

    Raises :class:`OneShotSteelError` when a solution is not closed, since a stripped copy
    would then lose (or keep) the wrong cells.
    """
    found: list[Solution] = []
    i, pos = 0, 0
    while i < len(cells):
        source = cells[i].source if cells[i].cell_type == "markdown" else ""
        match = _SOLUTION.search(source, pos)
        if match is None:
            i, pos = i + 1, 0
            continue
        fence, gated, label = match.group(1), bool(match.group(2)), match.group(3)
        close = _closing_fence(source, fence, match.end())
        if close is None:
            raise OneShotSteelError(
                f"{where}, cell {i}: the solution {label!r} opened with {fence} is never closed."
            )
        end: tuple[int, int] = (i, close.end())
        if gated:
            j, at = i, close.end()
            while True:
                if j >= len(cells):
                    raise OneShotSteelError(
                        f"{where}, cell {i}: the gated solution {label!r} has no "
                        "{solution-end} after it; add one after its last cell."
                    )
                text = cells[j].source if cells[j].cell_type == "markdown" else ""
                stop = _SOLUTION_END.search(text, at)
                if stop is not None:
                    final = _closing_fence(text, stop.group(1), stop.end())
                    end = (j, final.end() if final is not None else stop.end())
                    break
                j, at = j + 1, 0
        found.append(Solution(label, (i, match.start()), end, gated))
        i, pos = end
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _first_cell_field(first: str, name: str) -> str:
    match = re.search(r"\*\*" + name + r":\*\*\s*(.+?)(?:\n\s*\n|\Z)", first, re.S)
    return " ".join(match.group(1).split()) if match else "not stated"


def chapters_markdown(notebooks: Sequence[str | Path]) -> str:
    """Per chapter: title, learning objectives, time to read and to run, from its header."""
    import nbformat

    parts = []
    for path in notebooks:
        nb = nbformat.read(Path(path), as_version=4)
        first = nb.cells[0].source if nb.cells else ""
        objectives = re.search(r"## Learning objectives\s*\n(.*?)(?:\n\s*\n\*\*|\Z)", first, re.S)
        bullets = objectives.group(1).strip() if objectives else "- (not stated)"
        parts.append(
            "\n".join(
                [
                    f"### {_chapter_title(nb, Path(path).stem)}",
                    "",
                    f"`{Path(path).name}`. **Time to read:** "
                    f"{_first_cell_field(first, 'Time to read')} **Time to run:** "
                    f"{_first_cell_field(first, 'Time to run')}",
                    "",
                    bullets,
                ]
            )
        )
    return "\n\n".join(parts)


def exercises_markdown(exercises: Sequence[Exercise]) -> str:
    """The exercise index as a Markdown table."""
    rows = ["| chapter | label | exercise | kind | difficulty |", "| --- | --- | --- | --- | --- |"]
    rows += [
        f"| {e.chapter.split('_')[0]} | `{e.label}` | {_cell(e.title)} | {e.kind} | {e.difficulty} |"
        for e in exercises
    ]
    return "\n".join(rows)


def _replace_block(text: str, name: str, body: str, path: Path) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise OneShotSteelError(
            f"{path} lacks the markers {start} ... {end}; add them where the table goes."
        )
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def book_chapters(root: str | Path | None = None) -> list[Path]:
    """Every chapter notebook ``book/chNN_*.ipynb``, in chapter order (listed in _toc.yml or
    not yet: an instructor plans with the chapters that exist)."""
    found = Path(root) if root is not None else repo_root()
    if found is None:
        raise OneShotSteelError("Cannot find the book's repository; run from a checkout.")
    return sorted((found / "book").glob("ch[0-9][0-9]_*.ipynb"))


def update_instructors_page(page: str | Path, notebooks: Sequence[str | Path]) -> str:
    """Rewrite the generated blocks of the instructors' page; returns the new text."""
    page = Path(page)
    text = page.read_text(encoding="utf-8")
    text = _replace_block(text, "chapters", chapters_markdown(notebooks), page)
    text = _replace_block(text, "exercises", exercises_markdown(exercise_index(notebooks)), page)
    atomic_write_text(page, text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m oneshot_steel.instructors [PAGE]``: rewrite PAGE (default book/instructors.md)."""
    parser = argparse.ArgumentParser(
        prog="python -m oneshot_steel.instructors",
        description="Rewrite the generated blocks (chapter overview, exercise index) of the "
        "instructors' page from the chapter notebooks. Needs a source checkout of the book "
        "(the notebooks are not part of the installed package).",
    )
    parser.add_argument(
        "page", nargs="?", type=Path, default=None, help="default: book/instructors.md"
    )
    args = parser.parse_args(argv)
    try:
        chapters = book_chapters()
        page = args.page if args.page is not None else chapters[0].parent / "instructors.md"
        if not page.is_file():
            raise OneShotSteelError(f"{page} is not a file; give the instructors' page (.md)")
        update_instructors_page(page, chapters)
    except (OneShotSteelError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"updated the chapter overview and the exercise index of {page} ({len(chapters)} chapters)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
