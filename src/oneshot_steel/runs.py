"""Where training runs live, and which preset a mode trains: one home for the run layout.

Chapters 5-10 and :func:`~oneshot_steel.reproduce.reproduce` (the command line's too) find their
trained networks here, so that a network trained once is loaded everywhere else::

    {root}/oneshot/seed{N}           the one-shot Siamese net of the paper's split
    {root}/oneshot-A-B-C/seed{N}     ... of another split, trained on classes A, B, C
    {root}/table3/seed{N}            Table 3's Siamese net and CNN (all six classes)
    {root}/ch09/{loss}-{key}         chapter 9's inspection net (chapter 10 loads it)

``root`` is :func:`runs_dir` in the notebooks (one folder per mode and data) and ``out_dir``
for ``reproduce``. A chapter asks :func:`oneshot_run` for its one-shot run: the mode's preset
(:func:`preset_for`), the class split, the images and the folder of each seed's run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import data_fingerprint
from .data.imageset import ImageSet
from .data.splits import PAPER_TEST_CLASSES, PAPER_TRAIN_CLASSES, OneShotSplit, one_shot_split
from .errors import ModeError
from .files import repo_root
from .notebook import NotebookContext, class_names, load_data
from .train import TrainConfig
from .truncate import test_steps

__all__ = [
    "MODE_PRESETS",
    "OneShotRun",
    "inspection_run_dir",
    "oneshot_run",
    "oneshot_run_dir",
    "preset_for",
    "run_key",
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


def run_key(*parts: Any) -> str:
    """A short, stable folder name for a run, from what defines it: configs (anything with
    ``to_dict``), class lists, sizes. The same parts give the same folder, so a chapter loads
    another's run; any change gives a new folder instead of a checkpoint that does not fit."""
    text = json.dumps(
        [p.to_dict() if hasattr(p, "to_dict") else p for p in parts], sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def inspection_run_dir(root: str | os.PathLike, loss: str, key: str) -> Path:
    """The folder of chapter 9's inspection net under ``root``: ``ch09/{loss}-{key}``, where
    ``key`` identifies its config, training classes and image size (see
    :func:`oneshot_steel.inspection.inspection_net`); chapter 10 loads it from there."""
    return Path(root) / "ch09" / f"{loss}-{key}"


def runs_dir(
    ctx: NotebookContext,
    images: ImageSet,
    *,
    checkpoints: str | os.PathLike = "",
    source: str | None = None,
) -> Path:
    """The folder of this mode's training runs on ``images``: the ``root`` of the layout.

    ``{root}/{mode}-{data}-{digest}``. Every chapter asks here, so chapter 6 finds chapter 5's
    nets; the digest of the pixels gives other images (a regenerated stand-in, your own data)
    runs of their own instead of a checkpoint that no longer fits them. ``root`` is
    ``checkpoints`` (the chapters' ``CHECKPOINTS`` parameter), else
    ``$ONESHOT_STEEL_CHECKPOINTS`` (on Colab, a folder on Google Drive outlives the session),
    else ``_build/checkpoints`` of the repository. The class split names the run inside it
    (:func:`oneshot_run_dir`), as in ``reproduce``'s ``out_dir``. ``source`` names data that
    are not the chapter's images (chapter 11's recordings); default: the image folder's name.
    """
    if source is None:
        source = "synthetic" if ctx.synthetic else Path(ctx.data_root).name
    name = f"{ctx.mode}-{source}-{data_fingerprint(images)['sha256'][:8]}"
    if test_steps() is not None:  # truncated test runs (see .truncate) get folders of their own
        name += f"-test{test_steps()}"
    env = str(checkpoints).strip() or os.environ.get("ONESHOT_STEEL_CHECKPOINTS", "").strip()
    root = Path(env).expanduser() if env else (repo_root() or Path.cwd()) / "_build" / "checkpoints"
    return root / name


@dataclass(frozen=True)
class OneShotRun:
    """The one-shot run of a chapter: preset, class split, images, and where each seed trains."""

    preset: str  #: "smoke", "quick" or "paper" (:func:`preset_for` of the mode)
    config: TrainConfig  #: the preset's config, with the notebook's seed
    train_classes: tuple[str, ...]
    test_classes: tuple[str, ...]
    data: ImageSet  #: the images the nets train on
    root: Path  #: :func:`runs_dir` of the mode and images

    def run_dir(self, seed: int) -> Path:
        """The folder of the training run of ``seed`` (``reproduce`` trains there too)."""
        return oneshot_run_dir(self.root, seed, self.train_classes)

    def split(self, seed: int) -> OneShotSplit:
        """Train/validation images of the training classes and the unseen test classes."""
        return one_shot_split(self.data, self.train_classes, self.test_classes, seed=seed)


def oneshot_run(
    ctx: NotebookContext,
    train_classes: str | Sequence[str] = PAPER_TRAIN_CLASSES,
    test_classes: str | Sequence[str] = PAPER_TEST_CLASSES,
    *,
    images: ImageSet | None = None,
    checkpoints: str | os.PathLike = "",
) -> OneShotRun:
    """The one-shot run of chapters 5-8 for ``ctx``: what every chapter trains and loads.

    The class lists may be given however papermill passed them (see ``class_names``);
    ``images`` defaults to ``load_data(ctx)`` (100 px, as in chapter 1); ``checkpoints`` is
    the chapters' ``CHECKPOINTS`` parameter (see :func:`runs_dir`).
    """
    preset = preset_for(ctx.mode)
    train = class_names(train_classes, "TRAIN_CLASSES")  # names checked before the images load
    test = class_names(test_classes, "TEST_CLASSES")
    data = load_data(ctx) if images is None else images
    return OneShotRun(
        preset=preset,
        config=TrainConfig.preset(preset, seed=ctx.seed),
        train_classes=train,
        test_classes=test,
        data=data,
        root=runs_dir(ctx, data, checkpoints=checkpoints),
    )
