"""The run layout has one home (oneshot_steel.runs): chapters 5-8 and reproduce() share it.

A network trained by one of them must be found by the others, so for the same split, seed,
mode and images they must resolve the same folder: the paper's split and any other.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from booktools import REPO

import oneshot_steel.reproduce as reproduce_module
from oneshot_steel.data.synthetic import make_synthetic
from oneshot_steel.notebook import ModeError, load_data, setup_notebook
from oneshot_steel.runs import (
    MODE_PRESETS,
    oneshot_run_dir,
    preset_for,
    runs_dir,
    seed_dir,
    table3_run_dir,
)
from oneshot_steel.train import TrainConfig

PAPER = (("RS", "Pa", "In"), ("Cr", "PS", "Sc"))
OTHER = (("Cr", "PS", "Sc"), ("RS", "Pa", "In"))
#: The chapters that train or load the one-shot net of chapter 5.
CHAPTERS = [
    REPO / "book" / name
    for name in (
        "ch05_training.ipynb",
        "ch06_oneshot_evaluation.ipynb",
        "ch07_baselines.ipynb",
        "ch08_better_one_shot_models.ipynb",
    )
]
#: A run folder written by hand: a path joined with, or a name set to, the layout's folders.
HAND_WRITTEN = re.compile(r"""(/|=)\s*["'](oneshot|table3)["']|["']oneshot-["']""")
#: A mode -> preset table of a chapter's own (preset_for is the one).
MODE_TABLE = re.compile(r"""["']full["']\s*:\s*["']paper["']""")


def test_layout_names() -> None:
    assert seed_dir("r", 2) == Path("r/seed2")
    assert oneshot_run_dir("r", 0) == Path("r/oneshot/seed0")
    assert oneshot_run_dir("r", 1, ["RS", "Pa", "In"]) == Path("r/oneshot/seed1")
    assert oneshot_run_dir("r", 1, ("Cr", "Pa")) == Path("r/oneshot-Cr-Pa/seed1")
    assert table3_run_dir("r", 3) == Path("r/table3/seed3")


def test_each_mode_trains_its_preset() -> None:
    assert {m: preset_for(m) for m in MODE_PRESETS} == {
        "smoke": "smoke",
        "quick": "quick",
        "full": "paper",
    }
    for mode in MODE_PRESETS:
        TrainConfig.preset(preset_for(mode))  # a preset the trainer knows
    with pytest.raises(ModeError, match="'fast'"):
        preset_for("fast")


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.stem[:4] for p in CHAPTERS])
def test_chapter_writes_no_run_layout_by_hand(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    by_hand = [source for source in code if HAND_WRITTEN.search(source)]
    assert not by_hand, f"{notebook.name} writes a run folder by hand:\n{by_hand[0]}"
    tables = [source for source in code if MODE_TABLE.search(source)]
    assert not tables, f"{notebook.name} has its own mode -> preset table:\n{tables[0]}"


def test_package_writes_no_run_folder_by_hand() -> None:
    package = REPO / "src" / "oneshot_steel"
    by_hand = [
        p.name
        for p in package.rglob("*.py")
        if p.name != "runs.py" and HAND_WRITTEN.search(p.read_text(encoding="utf-8"))
    ]
    assert not by_hand


@pytest.fixture(scope="module")
def neu_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough images per class (30) for reproduce()'s 5-shot episodes of 15 queries."""
    return make_synthetic(tmp_path_factory.mktemp("runs") / "neu", seed=0, n_per_class=30)


class _Trained(Exception):
    """Raised instead of training: the folder is all this test wants."""


@pytest.mark.parametrize("split", [PAPER, OTHER], ids=["paper split", "other split"])
def test_chapters_and_reproduce_resolve_the_same_folder(
    split: tuple[tuple[str, ...], tuple[str, ...]],
    neu_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """reproduce() on the chapters' folder (as chapter 7 calls it) trains seed 1 where the
    chapters look for it."""
    train, test = split
    ctx = setup_notebook(mode="smoke", data=str(neu_dir), seed=0, verbose=False)
    data = load_data(ctx)
    root = runs_dir(ctx, data, checkpoints=tmp_path)
    trained: list[Path] = []

    def record(config, train_set, val_set, out_dir, **kwargs):
        trained.append(Path(out_dir))
        raise _Trained

    monkeypatch.setattr(reproduce_module, "train_or_load", record)
    with pytest.raises(_Trained):
        reproduce_module.reproduce(
            "smoke", data, root, seeds=[1], device="cpu", progress=False,
            train_classes=list(train), test_classes=list(test),
        )  # fmt: skip
    assert trained == [oneshot_run_dir(root, 1, train)]
