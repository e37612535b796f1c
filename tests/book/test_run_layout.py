"""Chapters 5-9 and reproduce() ask oneshot_steel.runs for their runs (see
tests/package/test_runs.py for the layout itself).

A network trained by one of them must be found by the others, so for the same split, seed,
mode and images they must resolve the same folder: the paper's split and any other.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from booktools import REPO

import oneshot_steel.reproduce as reproduce_module
from oneshot_steel.data.synthetic import make_synthetic
from oneshot_steel.notebook import load_data, setup_notebook
from oneshot_steel.runs import oneshot_run, oneshot_run_dir, runs_dir

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
        "ch09_inspection.ipynb",
    )
]
#: A run folder written by hand: a path joined with, or a name set to, the layout's folders.
HAND_WRITTEN = re.compile(r"""(/|=)\s*["'](oneshot|table3)["']|["']oneshot-["']""")
#: A mode -> preset table of a chapter's own (preset_for is the one).
MODE_TABLE = re.compile(r"""["']full["']\s*:\s*["']paper["']""")


@pytest.fixture(scope="module")
def neu_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough images per class (30) for reproduce()'s 5-shot episodes of 15 queries."""
    return make_synthetic(tmp_path_factory.mktemp("runs") / "neu", seed=0, n_per_class=30)


def _oneshot_run_calls(notebook: Path) -> list[str]:
    """The ``oneshot_run(...)`` calls of the notebook's code cells, as source."""
    nb = nbformat.read(notebook, as_version=4)
    return [
        ast.unparse(node)
        for cell in nb.cells
        if cell.cell_type == "code" and "oneshot_run(" in cell.source
        for node in ast.walk(ast.parse(cell.source))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "oneshot_run"
    ]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.stem[:4] for p in CHAPTERS])
def test_chapter_asks_the_layout_for_its_run(notebook: Path) -> None:
    """One oneshot_run call per chapter; no run folder or preset table of its own."""
    assert len(_oneshot_run_calls(notebook)) == 1
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


class _Trained(Exception):
    """Raised instead of training: the folder is all this test wants."""


@pytest.mark.parametrize("split", [PAPER, OTHER], ids=["paper split", "other split"])
def test_chapters_and_reproduce_resolve_the_same_folder(
    split: tuple[tuple[str, ...], tuple[str, ...]],
    neu_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each chapter's own oneshot_run call, evaluated for this split, and reproduce() on the
    chapters' folder (as chapter 7 calls it) train seed 1 in one and the same folder."""
    train, test = split
    ctx = setup_notebook(mode="smoke", data=str(neu_dir), seed=0, verbose=False)
    data = load_data(ctx)  # the same images for every chapter (100 px, as chapter 5 loads)
    names = {
        "ctx": ctx,
        "oneshot_run": oneshot_run,
        "TRAIN_CLASSES": list(train),
        "TEST_CLASSES": list(test),
        "CHECKPOINTS": str(tmp_path / "drive"),
        "data": data,  # chapter 7's name for the images
        "data100": data,  # chapters 8 and 9's
    }
    runs = {p.stem[:4]: eval(_oneshot_run_calls(p)[0], names) for p in CHAPTERS}
    expected = oneshot_run_dir(tmp_path / "drive" / runs_dir(ctx, data).name, 1, train)
    assert {ch: run.run_dir(1) for ch, run in runs.items()} == dict.fromkeys(runs, expected)

    trained: list[Path] = []

    def record(config, train_set, val_set, out_dir, **kwargs):
        trained.append(Path(out_dir))
        raise _Trained

    monkeypatch.setattr(reproduce_module, "train_or_load", record)
    with pytest.raises(_Trained):
        reproduce_module.reproduce(
            "smoke", data, runs["ch07"].root, seeds=[1], device="cpu", progress=False,
            train_classes=list(train), test_classes=list(test),
        )  # fmt: skip
    assert trained == [expected]


def test_chapter_8_trains_the_network_chapter_9_loads():
    """The recipe `best` on the paper's split is one run, not two: chapter 8 trains it in the
    folder that chapter 9's ``inspection_net`` names (chapter 10 loads it from there too)."""
    for name in ("ch08_better_one_shot_models.ipynb", "ch09_inspection.ipynb"):
        nb = nbformat.read(REPO / "book" / name, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "inspection_net(" in code, (
            f"{name} no longer asks inspection_net for the recipe's run"
        )
