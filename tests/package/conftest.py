"""Fixtures of the package tests (fast, one test file per module): the real NEU-CLS set when
``ONESHOT_STEEL_DATA`` points at it, a writer of small image files, and the paper's branch."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from oneshot_steel.data.loading import IMAGE_EXTENSIONS
from oneshot_steel.models import PaperEmbeddingNet


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


@pytest.fixture(scope="module")
def paper_net() -> PaperEmbeddingNet:
    """The paper's branch (40 M parameters), seeded; built once per test module."""
    torch.manual_seed(0)
    return PaperEmbeddingNet()
