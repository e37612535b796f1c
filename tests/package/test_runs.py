"""The run layout has one home (oneshot_steel.runs): its names, the mode -> preset table, the
chapters' one-shot run and the folder of a mode's runs. That chapters 5-8 and reproduce() use
it is checked in tests/book/test_run_layout.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oneshot_steel.data.synthetic import make_synthetic
from oneshot_steel.errors import ModeError
from oneshot_steel.notebook import load_data, setup_notebook
from oneshot_steel.runs import (
    MODE_PRESETS,
    oneshot_run,
    oneshot_run_dir,
    preset_for,
    run_key,
    runs_dir,
    seed_dir,
    table3_run_dir,
)
from oneshot_steel.train import TrainConfig

OTHER = (("Cr", "PS", "Sc"), ("RS", "Pa", "In"))


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


@pytest.fixture(scope="module")
def neu_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough images per class (30) for reproduce()'s 5-shot episodes of 15 queries."""
    return make_synthetic(tmp_path_factory.mktemp("runs") / "neu", seed=0, n_per_class=30)


def test_oneshot_run_is_chapter_5s_run(neu_dir: Path, tmp_path: Path) -> None:
    ctx = setup_notebook(mode="smoke", data=str(neu_dir), seed=3, verbose=False)
    run = oneshot_run(ctx, "[Cr, PS, Sc]", ["RS", "Pa", "In"], checkpoints=tmp_path)
    assert (run.train_classes, run.test_classes) == OTHER  # however papermill passed them
    assert run.preset == "smoke" and run.config == TrainConfig.preset("smoke", seed=3)
    assert run.data.image_size == 100
    assert run.root == runs_dir(ctx, run.data, checkpoints=tmp_path)
    assert run.run_dir(1) == run.root / "oneshot-Cr-PS-Sc" / "seed1"
    split = run.split(1)
    assert split.train.classes == ["Cr", "PS", "Sc"] and split.test.classes == ["RS", "Pa", "In"]


def test_runs_dir_names_mode_data_and_digest(
    tiny_neu_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chapters 5-10 and reproduce() share these folders: other pixels get new ones (a class
    split names the run inside, see test_runs.py)."""
    monkeypatch.setenv("ONESHOT_STEEL_CHECKPOINTS", str(tmp_path / "drive"))
    ctx = setup_notebook(mode="smoke", data=str(tiny_neu_dir), verbose=False)
    data = load_data(ctx, size=32)
    paper = runs_dir(ctx, data)
    assert paper.parent == tmp_path / "drive"
    assert ctx.synthetic and paper.name.startswith("smoke-synthetic-")  # the stand-in, marked
    assert len(paper.name.split("-")[-1]) == 8  # a digest of the pixels
    assert runs_dir(ctx, load_data(ctx, size=16)) != paper  # other pixels, other runs
    vibration = runs_dir(ctx, data, source="cwru")  # chapter 11 names its recordings
    assert vibration.name == paper.name.replace("-synthetic-", "-cwru-")
    monkeypatch.delenv("ONESHOT_STEEL_CHECKPOINTS")
    assert runs_dir(ctx, data).parent.parts[-2:] == ("_build", "checkpoints")


def test_runs_dir_honours_the_checkpoints_parameter(
    tiny_neu_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHECKPOINTS (papermill -p CHECKPOINTS ...) wins over the environment; "" defers to it."""
    monkeypatch.setenv("ONESHOT_STEEL_CHECKPOINTS", str(tmp_path / "env"))
    ctx = setup_notebook(mode="smoke", data=str(tiny_neu_dir), verbose=False)
    data = load_data(ctx, size=32)
    assert runs_dir(ctx, data, checkpoints=str(tmp_path / "drive")).parent == tmp_path / "drive"
    assert runs_dir(ctx, data, checkpoints="").parent == tmp_path / "env"
    assert runs_dir(ctx, data, checkpoints=tmp_path / "p").name == runs_dir(ctx, data).name


def test_run_key_names_a_run_by_what_defines_it():
    cfg = TrainConfig.preset("smoke", seed=0)
    key = run_key(cfg, ["RS", "Pa", "In"], 100)
    assert key == run_key(TrainConfig.preset("smoke", seed=0), ["RS", "Pa", "In"], 100)
    assert key == run_key(cfg.to_dict(), ["RS", "Pa", "In"], 100)  # a config is its dict
    assert (
        len(
            {
                key,
                run_key(TrainConfig.preset("smoke", seed=1), ["RS", "Pa", "In"], 100),
                run_key(cfg, ["RS", "Pa", "Cr"], 100),
                run_key(cfg, ["RS", "Pa", "In"], 200),
            }
        )
        == 4
    )
