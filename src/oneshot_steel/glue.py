"""Numbers from the run in the prose: myst-nb ``glue`` in the book, a display box elsewhere.

The chapters put computed values into their text with myst-nb roles such as
``{glue:text}`ch05_acc:.1f```. The built book replaces each role by its value; Colab and plain
Jupyter show the raw role. So every Markdown cell that uses glue roles is followed by a small
code cell, tagged ``remove-cell`` (the book never shows it), that calls :func:`show_glued` with
the cell's roles: it displays "Numbers in the text above: ..." with each value formatted as the
book formats it (:func:`format_glued`), and a key glued only further down as "(computed further
down)". :func:`glue` records every value in this module's registry for that purpose.

The display cells are generated, never written by hand: :func:`sync_glue_cells` (or
``python -m oneshot_steel.glue sync book/*.ipynb``) adds, updates and removes them, and
:func:`glue_cell_problems` is the hygiene check that fails when one is missing or stale.

A reduced run (smoke or quick mode) labels every glued number with its mode, in the box and,
through the book's Sphinx extension, next to the number on the page: :func:`setup_notebook
<oneshot_steel.notebook.setup_notebook>` glues the mode under :data:`MODE_KEY`.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from ast import literal_eval
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DISPLAY_CELL_IMPORT",
    "MODE_KEY",
    "REDUCED_MODES",
    "display_cell_source",
    "format_glued",
    "glue",
    "glue_cell_problems",
    "glue_refs",
    "glued",
    "mode_label",
    "show_bundle",
    "show_glued",
    "sync_glue_cells",
]

#: The glue key under which setup_notebook records the run's mode (read by the book's extension).
MODE_KEY = "oneshot_steel_mode"
#: Modes whose numbers are not the final results; each glued number of such a run is labelled.
REDUCED_MODES: tuple[str, ...] = ("smoke", "quick")
#: The first line of every generated display cell: how the sync tool recognises its own cells.
DISPLAY_CELL_IMPORT = "from oneshot_steel.glue import show_glued  # the numbers of the text above"
DISPLAY_CELL_TAG = "remove-cell"

_GLUED: dict[str, Any] = {}
#: A glue role and its content: {glue}`key`, {glue:text}`key:.1f`, {glue:md}`key` ...
_ROLE = re.compile(r"\{glue(?::(\w*))?\}`([^`]+)`")
_HEADING = "Numbers in the text above"
#: A number: a digit that does not continue a name (``bf16``, ``Pa_101`` are names).
_NUMBER = re.compile(r"(?<!\w)\d")


def glue(name: str, value: Any, display: bool = False) -> None:
    """Put a value computed by the run into the book's prose (myst-nb ``{glue}``).

    The value is also recorded for :func:`show_glued`, which shows it on Colab and in plain
    Jupyter, where no myst-nb pastes it. NumPy and torch scalars become Python numbers first,
    so ``{glue:text}`` formats such as ``:.1f`` work. Returns None, like myst-nb's ``glue``, so
    a ``glue(...)`` on a cell's last line adds no output (a second output would break a figure
    cell's label). Outside IPython (a script, a test) the value is only recorded.
    """
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    _GLUED[name] = value
    try:
        from IPython import get_ipython
        from myst_nb import glue as _myst_glue
    except ImportError:
        return
    if get_ipython() is not None:
        _myst_glue(name, value, display=display)


def glued(name: str) -> Any:
    """The value last glued under ``name`` in this kernel (KeyError if none was)."""
    return _GLUED[name]


def _plain_text(value: Any) -> str:
    """What myst-nb stores for ``value``: IPython's text/plain representation."""
    try:
        from IPython.lib.pretty import pretty
    except ImportError:  # pragma: no cover - IPython comes with every notebook
        return repr(value)
    return pretty(value)


def format_glued(value: Any, spec: str = "s") -> str:
    """``value`` as ``{glue:text}`key:spec``` shows it in the book.

    The same steps as myst-nb's ``format_plain_text``: take the text/plain form, undo its
    quotes with ``literal_eval``, convert by the spec's type character (``d``: int, ``f``,
    ``e``, ``g``, ``%``: float, ``s``: str), then ``format``. A spec that cannot format the
    value gives the plain text, where the book would warn and show nothing.
    """
    text = _plain_text(value)
    try:
        plain: Any = literal_eval(text)
    except (SyntaxError, ValueError):
        plain = text
    if spec == "":
        return str(plain)
    try:
        kind = spec[-1]
        if kind == "s":
            plain = str(plain)
        elif kind in "bcdoxX":
            plain = int(plain)
        elif kind in "eEfFgGn%":
            plain = float(plain)
        return format(plain, spec)
    except (TypeError, ValueError):
        return str(plain)


def mode_label(text: str, mode: str | None = None) -> str:
    """The label a glued ``text`` carries: the run's mode when reduced and ``text`` has a number.

    ``mode`` defaults to the mode setup_notebook recorded. Text without a number (a class name,
    a sentence, a name with digits such as ``bf16`` or ``Pa_101``) carries no label.
    """
    mode = _GLUED.get(MODE_KEY) if mode is None else mode
    if mode in REDUCED_MODES and _NUMBER.search(text):
        return str(mode)
    return ""


def glue_refs(markdown: str) -> list[str]:
    """The glue references of a Markdown cell, in order, each once: ``"key"`` or ``"key:spec"``.

    A ``{glue:text}`` reference keeps its format spec; other roles paste the value as it is,
    so only their key is kept.
    """
    refs: list[str] = []
    for role, content in _ROLE.findall(markdown):
        ref = content.strip() if role == "text" else content.strip().split(":")[0]
        if ref not in refs:
            refs.append(ref)
    return refs


def _split_ref(ref: str) -> tuple[str, str]:
    key, sep, spec = ref.rpartition(":")
    return (key, spec) if sep and "::" not in ref else (ref, "s")


def show_glued(*refs: str) -> None:
    """Show the values behind the glue roles ``refs`` of the Markdown cell above.

    Generated cells call it on Colab and in Jupyter (the book removes them): a box with each
    value formatted as the book would, labelled with the mode in a reduced run, or "(computed
    further down)" for a key the notebook glues later.
    """
    rows: list[tuple[str, str, str]] = []
    for ref in refs:
        key, spec = _split_ref(ref)
        if key in _GLUED:
            text = format_glued(_GLUED[key], spec)
            rows.append((key, text, mode_label(text)))
        else:
            rows.append((key, "(computed further down)", ""))
    plain = f"{_HEADING}: " + "; ".join(
        f"{k} = {v}" + (f" [{m} mode]" if m else "") for k, v, m in rows
    )
    markdown = f"**{_HEADING}:** " + "; ".join(
        f"`{k}` = **{v}**" + (f"<sup>{m}</sup>" if m else "") for k, v, m in rows
    )
    box = (
        '<div style="border-left:4px solid #5b7db1;background:#f2f5fa;color:#1b2535;'
        'padding:0.35em 0.9em;margin:0.2em 0;font-size:0.92em"><strong>'
        + _HEADING
        + ":</strong> "
        + "; ".join(
            f"<code>{html.escape(k)}</code>&nbsp;=&nbsp;<b>{html.escape(v)}</b>"
            + (f'<sup title="{m} mode: not the final result">{m}</sup>' if m else "")
            for k, v, m in rows
        )
        + "</div>"
    )
    show_bundle(markdown, box, plain)


def show_bundle(markdown: str, html_text: str, plain: str) -> None:
    """Display one output in three forms: Markdown (the book's MyST), HTML (Jupyter and Colab),
    plain text (a terminal, or a script outside IPython, where it is printed)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with every notebook
        print(plain)
        return
    if get_ipython() is None:
        print(plain)
        return
    display({"text/markdown": markdown, "text/html": html_text, "text/plain": plain}, raw=True)


# ----------------------------------------------------------------------------- the display cells
def display_cell_source(refs: Sequence[str], width: int = 92) -> str:
    """The source of the display cell for ``refs``: the import line and one wrapped call."""
    lines, line = [], "show_glued("
    for i, ref in enumerate(refs):
        item = f'"{ref}"' + (", " if i < len(refs) - 1 else ")")
        if len(line) + len(item.rstrip()) > width:
            lines.append(line.rstrip())
            line = "    "
        line += item
    return "\n".join([DISPLAY_CELL_IMPORT, *lines, line])


def _is_display_cell(cell: Any) -> bool:
    return cell.cell_type == "code" and cell.source.startswith(DISPLAY_CELL_IMPORT)


def _display_cell(after: Any, source: str) -> Any:
    import nbformat

    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [DISPLAY_CELL_TAG]})
    if after.get("id"):  # a stable id: syncing twice, or on another machine, gives the same file
        cell["id"] = f"{after['id']}-numbers"[:64]
    return cell


def sync_glue_cells(nb: Any) -> int:
    """Add, update or remove the display cells of notebook ``nb`` in place; how many changed."""
    changed, cells, i = 0, [], 0
    source_cells = list(nb.cells)
    while i < len(source_cells):
        cell = source_cells[i]
        i += 1
        if _is_display_cell(cell):  # an orphan: its Markdown cell lost its roles or moved
            changed += 1
            continue
        cells.append(cell)
        refs = glue_refs(cell.source) if cell.cell_type == "markdown" else []
        if not refs:
            continue
        wanted = display_cell_source(refs)
        nxt = source_cells[i] if i < len(source_cells) else None
        if nxt is not None and _is_display_cell(nxt):
            i += 1
            if nxt.source != wanted or nxt.metadata.get("tags") != [DISPLAY_CELL_TAG]:
                nxt.source = wanted
                nxt.metadata["tags"] = [DISPLAY_CELL_TAG]
                changed += 1
            cells.append(nxt)
        else:
            cells.append(_display_cell(cell, wanted))
            changed += 1
    nb.cells = cells
    return changed


def glue_cell_problems(nb: Any) -> list[str]:
    """Every Markdown cell of ``nb`` with glue roles but no up-to-date display cell after it."""
    problems = []
    fix = "run `python -m oneshot_steel.glue sync book/*.ipynb`"
    for i, cell in enumerate(nb.cells):
        after = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
        if cell.cell_type == "markdown" and (refs := glue_refs(cell.source)):
            if after is None or not _is_display_cell(after):
                problems.append(f"cell {i} uses glue roles but no show_glued cell follows ({fix})")
            elif after.source != display_cell_source(refs):
                problems.append(f"cell {i + 1}: the show_glued cell is out of date ({fix})")
            elif DISPLAY_CELL_TAG not in after.metadata.get("tags", []):
                problems.append(f"cell {i + 1}: the show_glued cell must be tagged 'remove-cell'")
        elif _is_display_cell(cell) and (
            i == 0
            or nb.cells[i - 1].cell_type != "markdown"
            or not glue_refs(nb.cells[i - 1].source)
        ):
            problems.append(f"cell {i}: a show_glued cell without glue roles above it ({fix})")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m oneshot_steel.glue sync [--check] NOTEBOOK...``: keep the display cells."""
    import nbformat

    parser = argparse.ArgumentParser(prog="python -m oneshot_steel.glue", description=main.__doc__)
    parser.add_argument("command", choices=["sync"])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        changed = sync_glue_cells(nb)
        if changed and not args.check:
            nbformat.write(nb, path)
        if changed:
            stale += 1
            print(f"{path}: {changed} display cell(s) {'stale' if args.check else 'synced'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
