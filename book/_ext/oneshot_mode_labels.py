"""Sphinx extension: every number of a reduced run (smoke or quick mode) says so where it appears.

setup_notebook shows a warning at the top of a page built from a reduced run, but a reader who
lands on a paragraph or a table further down sees numbers that look final. So, in a page whose
notebook ran in smoke or quick mode (setup_notebook glues the mode under
``oneshot_steel.glue.MODE_KEY``; myst-nb writes a page's glue data to ``<docname>.glue.json``
in its output folder while it parses the page):

- every number that a glue role pasted into the prose carries a superscript label with the mode
  (myst-nb's ``{glue:text}`` role makes an ``inline`` node of class ``pasted-text``; ``{glue}``
  makes an inline ``mime_bundle`` container);
- every code-cell output that shows a table or a figure is followed by a note naming the mode.

A full-mode page, and every page that is not a notebook, is left exactly as it was. Loaded by
oneshot_book's ``setup``.
"""

from __future__ import annotations

import json
from ast import literal_eval
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

from oneshot_steel.glue import MODE_KEY, mode_label

LOGGER = logging.getLogger(__name__)

#: What a label's tooltip and an output's note say, per reduced mode.
NOTES = {
    "smoke": "smoke mode: tiny sizes that only test the code; the numbers mean nothing",
    "quick": "quick mode: shortened schedules; the numbers show trends, not the final results",
}


def read_run_mode(glue_json: Path) -> str | None:
    """The mode setup_notebook glued into a page's glue data, or None (no notebook, no mode)."""
    try:
        data = json.loads(glue_json.read_text(encoding="utf-8"))
        return str(literal_eval(data[MODE_KEY]["data"]["text/plain"]))
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        return None


def _label(mode: str) -> nodes.superscript:
    word = nodes.abbreviation(mode, mode, explanation=NOTES[mode])
    return nodes.superscript("", "", word, classes=["oneshot-mode-label"])


def _shows_table_or_figure(output: nodes.Element) -> bool:
    for node in output.findall(nodes.Element):
        if isinstance(node, nodes.image | nodes.table | nodes.figure):
            return True
        if isinstance(node, nodes.raw) and "<table" in node.astext():
            return True
    return False


def label_reduced_run(doctree: nodes.document, mode: str | None) -> int:
    """Label the pasted numbers and the tables and figures of a ``mode`` run; how many labels."""
    if mode not in NOTES:
        return 0
    count = 0
    for node in list(doctree.findall(nodes.Element)):
        pasted = isinstance(node, nodes.inline) and "pasted-text" in node["classes"]
        inline_bundle = (
            isinstance(node, nodes.container)
            and node.get("nb_element") == "mime_bundle"
            and isinstance(node.parent, nodes.TextElement)
        )
        if (pasted or inline_bundle) and mode_label(node.astext(), mode):
            node.parent.insert(node.parent.index(node) + 1, _label(mode))
            count += 1
        elif node.get("nb_element") == "cell_code_output" and _shows_table_or_figure(node):
            note = nodes.emphasis(text=f"Computed in {NOTES[mode]}.")
            node.append(nodes.paragraph("", "", note, classes=["oneshot-mode-note"]))
            count += 1
    return count


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    folder = getattr(getattr(app.env, "mystnb_config", None), "output_folder", None)
    if not folder:
        return
    parts = app.env.docname.split("/")
    mode = read_run_mode(Path(folder).joinpath(*parts[:-1], f"{parts[-1]}.glue.json"))
    count = label_reduced_run(doctree, mode)
    if count:
        LOGGER.info("[oneshot_book] %s: %d numbers labelled %s", app.env.docname, count, mode)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", _on_doctree_read, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
