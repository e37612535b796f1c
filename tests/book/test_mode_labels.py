"""The book's mode labels: in a smoke or quick run every glued number, table and figure says so.

The transform of book/_ext/oneshot_mode_labels.py on doctrees shaped like myst-nb's (fast); the
built mini book in test_book.py checks the same on real HTML.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from booktools import REPO
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

from oneshot_steel.glue import MODE_KEY

sys.path.insert(0, str(REPO / "book" / "_ext"))
try:
    import oneshot_mode_labels as labels
finally:
    sys.path.pop(0)


def _page() -> nodes.document:
    """A notebook page as myst-nb parses it: pasted glue text, an inline bundle, cell outputs."""
    doc = new_document("<page>", get_default_settings(Parser))
    doc += nodes.paragraph(
        "",
        "",
        nodes.Text("Accuracy "),
        nodes.inline("83.4", "83.4", classes=["pasted-text"]),
        nodes.Text(" % on "),
        nodes.inline("RS and Pa", "RS and Pa", classes=["pasted-text"]),
        nodes.Text(" after "),
        nodes.container("", nodes.literal("12", "12"), nb_element="mime_bundle"),
        nodes.Text(" epochs."),
    )
    table = nodes.raw("", "<table><tr><td>0.83</td></tr></table>", format="html")
    doc += nodes.container("", table, nb_element="cell_code_output")
    figure = nodes.image(uri="curve.png")
    doc += nodes.container("", figure, nb_element="cell_code_output")
    doc += nodes.container(
        "", nodes.literal_block("took 3 s", "took 3 s"), nb_element="cell_code_output"
    )
    return doc


@pytest.mark.parametrize("mode", ["smoke", "quick"])
def test_reduced_run_labels_numbers_tables_and_figures(mode: str) -> None:
    doc = _page()
    assert labels.label_reduced_run(doc, mode) == 4  # two numbers, a table, a figure
    paragraph = doc[0]
    sups = list(paragraph.findall(nodes.superscript))
    assert [s.astext() for s in sups] == [mode, mode]
    assert paragraph.astext() == f"Accuracy 83.4{mode} % on RS and Pa after 12{mode} epochs."
    (abbr,) = sups[0].findall(nodes.abbreviation)
    assert abbr["explanation"].startswith(f"{mode} mode:")
    assert "oneshot-mode-label" in sups[0]["classes"]
    notes = [n for n in doc.findall(nodes.paragraph) if "oneshot-mode-note" in n["classes"]]
    assert [n.parent for n in notes] == [doc[1], doc[2]]  # the table and the figure, not text
    assert all(n.astext().startswith(f"Computed in {mode} mode:") for n in notes)


@pytest.mark.parametrize("mode", ["full", None, "unknown"])
def test_full_run_and_pages_without_a_mode_are_untouched(mode: str | None) -> None:
    doc, before = _page(), _page().pformat()
    assert labels.label_reduced_run(doc, mode) == 0
    assert doc.pformat() == before


def test_run_mode_comes_from_the_pages_glue_data(tmp_path: Path) -> None:
    """myst-nb writes <docname>.glue.json with each key's text/plain repr; no file: no mode."""
    path = tmp_path / "ch05_training.glue.json"
    record = {"output_type": "display_data", "metadata": {}}
    path.write_text(json.dumps({MODE_KEY: {**record, "data": {"text/plain": "'quick'"}}}))
    assert labels.read_run_mode(path) == "quick"
    path.write_text(json.dumps({"ch05_acc": {**record, "data": {"text/plain": "0.5"}}}))
    assert labels.read_run_mode(path) is None
    assert labels.read_run_mode(tmp_path / "intro.glue.json") is None
