"""The book tests: notebooks (hygiene, papermill + nbval in smoke mode, the full-mode guard),
the Jupyter Book build, the browser check, launch links, variants, the Colab replay and the
agreement of chapters with the package. Their helpers are modules of this folder:
``booktools`` (config, table of contents, the notebook rules), ``bookruns`` (running and
building) and ``browser`` (headless Chromium).

Every test here carries the ``book`` marker, so ``pytest -m "not book"`` (or ``make
test-package``, which runs tests/package) leaves them out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.book)
