"""Where training runs live, and which preset a mode trains: one home for the run layout.

Chapters 5-9 and :func:`~oneshot_steel.reproduce.reproduce` (the command line's too) find their
trained networks here, so that a network trained once is loaded everywhere else::

    {root}/oneshot/seed{N}           the one-shot Siamese net of the paper's split
    {root}/oneshot-A-B-C/seed{N}     ... of another split, trained on classes A, B, C
    {root}/table3/seed{N}            Table 3's Siamese net and CNN (all six classes)

``root`` is :func:`runs_dir` in the notebooks (one folder per mode and data) and ``out_dir``
for ``reproduce``. :func:`preset_for` says which training preset a run mode uses.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._report import TRAIN_CLASSES as PAPER_TRAIN_CLASSES
from ._utils import repo_root

if TYPE_CHECKING:
    from .data.imageset import ImageSet
    from .notebook import NotebookContext

__all__ = [
    "MODE_PRESETS",
    "oneshot_run_dir",
    "preset_for",
    "runs_dir",
    "seed_dir",
    "table3_run_dir",
]

#: The training preset of each run mode (of ``TrainConfig.preset``, ``CNNConfig.preset`` and
#: ``reproduce``): full mode trains the paper's schedule, the reduced modes their namesakes.
MODE_PRESETS: dict[str, str] = {"smoke": "smoke", "quick": "quick", "full": "paper"}


def preset_for(mode: str) -> str:
    """The preset that run mode ``mode`` trains (``"full"`` -> ``"paper"``)."""
    try:
        return MODE_PRESETS[mode]
    except KeyError:
        from .notebook import ModeError

        raise ModeError(f"Unknown run mode {mode!r}; choose one of {list(MODE_PRESETS)}") from None


def seed_dir(folder: str | os.PathLike, seed: int) -> Path:
    """``folder/seed{N}``: one run per training seed, side by side."""
    return Path(folder) / f"seed{int(seed)}"


def oneshot_run_dir(
    root: str | os.PathLike, seed: int, train_classes: Sequence[str] = PAPER_TRAIN_CLASSES
) -> Path:
    """The folder of the one-shot Siamese run of ``seed`` under ``root``.

    ``oneshot/seed{N}`` for the paper's split; another split trains under
    ``oneshot-A-B-C/seed{N}`` (its training classes, in order), so the paper split's runs are
    kept. The net depends on the training classes only, so the test classes are not named.
    """
    train = tuple(train_classes)
    folder = "oneshot" if train == PAPER_TRAIN_CLASSES else "oneshot-" + "-".join(train)
    return seed_dir(Path(root) / folder, seed)


def table3_run_dir(root: str | os.PathLike, seed: int) -> Path:
    """The folder of Table 3's runs of ``seed`` (Siamese net and CNN, all six classes)."""
    return seed_dir(Path(root) / "table3", seed)


def runs_dir(
    ctx: NotebookContext, images: ImageSet, *, checkpoints: str | os.PathLike = ""
) -> Path:
    """The folder of this mode's training runs on ``images``: the ``root`` of the layout.

    ``{root}/{mode}-{data}-{digest}``. Every chapter asks here, so chapter 6 finds chapter 5's
    nets; the digest of the pixels gives other images (a regenerated stand-in, your own data)
    runs of their own instead of a checkpoint that no longer fits them. ``root`` is
    ``checkpoints`` (the chapters' ``CHECKPOINTS`` parameter), else
    ``$ONESHOT_STEEL_CHECKPOINTS`` (on Colab, a folder on Google Drive outlives the session),
    else ``_build/checkpoints`` of the repository. The class split names the run inside it
    (:func:`oneshot_run_dir`), as in ``reproduce``'s ``out_dir``.
    """
    from .checkpoint import data_fingerprint
    from .truncate import test_steps

    source = "synthetic" if ctx.synthetic else Path(ctx.data_root).name
    name = f"{ctx.mode}-{source}-{data_fingerprint(images)['sha256'][:8]}"
    if test_steps() is not None:  # truncated test runs (see .truncate) get folders of their own
        name += f"-test{test_steps()}"
    env = str(checkpoints).strip() or os.environ.get("ONESHOT_STEEL_CHECKPOINTS", "").strip()
    root = Path(env).expanduser() if env else (repo_root() or Path.cwd()) / "_build" / "checkpoints"
    return root / name
