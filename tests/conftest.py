"""Shared fixtures: a tiny NEU-style folder, its loaded ImageSet, the real set when available.

The whole session writes its caches to a temporary folder (``ONESHOT_STEEL_CACHE``), so tests
never read or touch ``~/.cache``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oneshot_steel.data import load_neu
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.data.loading import IMAGE_EXTENSIONS
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


def _real_set_reason(value: str) -> str | None:
    """Why ``value`` is not a folder with the real NEU-CLS set, or None when it is one."""
    if not value:
        return "ONESHOT_STEEL_DATA is not set; point it at the real NEU-CLS folder"
    if value.strip().lower() == "synthetic":
        return "ONESHOT_STEEL_DATA=synthetic selects the stand-in, not the real set"
    path = Path(value).expanduser()
    if not path.is_dir():
        return f"ONESHOT_STEEL_DATA={value!r} is not a folder"
    if (path / ".oneshot-steel-synthetic.json").exists():
        return f"ONESHOT_STEEL_DATA={value!r} holds the synthetic stand-in"
    n = sum(1 for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if n < 1800:
        return f"ONESHOT_STEEL_DATA={value!r} holds {n} images, fewer than NEU-CLS's 1,800"
    return None


@pytest.fixture(scope="session")
def real_neu_dir() -> Path:
    """The real NEU-CLS folder named by ``ONESHOT_STEEL_DATA``; skips the test otherwise."""
    value = os.environ.get("ONESHOT_STEEL_DATA", "")
    reason = _real_set_reason(value)
    if reason is not None:
        pytest.skip(reason)
    return Path(value).expanduser()


@pytest.fixture
def write_image() -> Callable[..., Path]:
    """A function writing a small random image: ``write_image(path, size=(h, w), mode="L")``.

    The pixels come from ``seed`` (default: derived from the file name), so two calls with the
    same name and seed write identical pixels. The format follows the file extension.
    """

    def write(
        path: Path, size: tuple[int, int] = (24, 24), mode: str = "L", seed: int | None = None
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if seed is None:
            seed = sum(map(ord, path.name))
        rng = np.random.default_rng(seed)
        channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, size=(*size, channels), dtype=np.uint8)
        Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels).save(path)
        return path

    return write
