"""Fixtures of every test (tests/package and tests/book): an isolated cache, a tiny NEU-style
folder and its loaded ImageSet. The package tests add theirs in tests/package/conftest.py, the
book tests in tests/book/conftest.py.

The whole session writes its caches to a temporary folder (``ONESHOT_STEEL_CACHE``), so tests
never read or touch ``~/.cache``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oneshot_steel.data import load_neu
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.data.synthetic import make_synthetic

#: Images per class in ``tiny_neu_dir`` and side length of ``tiny_set``.
TINY_PER_CLASS = 12
TINY_SIZE = 64


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``ONESHOT_STEEL_CACHE`` at a fresh temporary folder for the whole session."""
    path = tmp_path_factory.mktemp("oneshot_steel_cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("ONESHOT_STEEL_CACHE", str(path))
    yield path
    patch.undo()


@pytest.fixture(scope="session")
def tiny_neu_dir(tmp_path_factory: pytest.TempPathFactory, isolated_cache: Path) -> Path:
    """A flat NEU-style folder of the synthetic stand-in: Cr_1.bmp ... Sc_12.bmp, 200x200.

    Read-only for tests: copy it (``shutil.copytree``) before changing anything in it.
    """
    return make_synthetic(
        tmp_path_factory.mktemp("tiny_neu") / "neu", seed=0, n_per_class=TINY_PER_CLASS
    )


@pytest.fixture(scope="session")
def tiny_set(tiny_neu_dir: Path) -> ImageSet:
    """``tiny_neu_dir`` loaded at 64x64: 72 images, 12 per class, ``synthetic=True``.

    Shared by many tests: do not modify it in place (use ``select``/``subset``, which copy).
    """
    return load_neu(tiny_neu_dir, size=TINY_SIZE)
