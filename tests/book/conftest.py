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

import kernel_polling
import pytest

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    # papermill runs in this process: see kernel_polling for the stall this prevents.
    kernel_polling.install()


#: Modules whose tests execute the chapters with the default checkpoint folder, or use those
#: executions (the memoised smoke runs of ``bookruns`` live in one process). Under
#: ``pytest -n 2 --dist loadgroup`` (``make test``) they all go to one worker, in one group, so
#: each chapter runs once, in book order, and no two runs of a chapter share checkpoints at the
#: same time; every other test (the package's, the full-mode guard with its own checkpoints,
#: the builds that do not execute) runs on the other worker meanwhile.
CHAPTER_RUNS = {
    "test_notebooks.py",
    "test_book.py",
    "test_ch07_agreement.py",
    "test_launch_links.py",
    "test_variants.py",
    "test_colab_install.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        if HERE in path.parents:
            item.add_marker(pytest.mark.book)
            if path.name in CHAPTER_RUNS:
                item.add_marker(pytest.mark.xdist_group("chapter-runs"))
