"""setup_notebook: mode, seeds, device and data, said out loud; load_data; the canonical cells."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

import oneshot_steel.data.loading as loading
from oneshot_steel.data.synthetic import MARKER
from oneshot_steel.errors import DataNotFoundError, FetchError
from oneshot_steel.notebook import (
    SETUP_CELL_TEMPLATE,
    ModeError,
    ParameterError,
    class_names,
    load_data,
    resolve_mode,
    runs_dir,
    setup_notebook,
)


@pytest.mark.parametrize(
    ("mode", "device", "expected"),
    [
        ("", "cpu", "quick"),
        ("", "cuda", "full"),
        ("", "mps", "quick"),
        ("smoke", "cuda", "smoke"),
        (" Quick ", "cpu", "quick"),
        ("full", "cpu", "full"),
    ],
)
def test_resolve_mode(mode: str, device: str, expected: str) -> None:
    resolved, reason = resolve_mode(mode, torch.device(device))
    assert resolved == expected and reason


def test_bad_mode_names_the_value_and_the_choices() -> None:
    with pytest.raises(ModeError, match=r"MODE='fast'.*'smoke'.*'quick'.*'full'"):
        resolve_mode("fast", torch.device("cpu"))
    with pytest.raises(ValueError):  # ModeError is also a ValueError
        setup_notebook(mode="fast", data="synthetic")


def test_smoke_on_synthetic_warns(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = setup_notebook(mode="smoke", data="synthetic", seed=3)
    assert (ctx.mode, ctx.data_root, ctx.synthetic, ctx.seed) == ("smoke", "synthetic", True, 3)
    assert ctx.device.type in {"cpu", "cuda", "mps"} and ctx.reduced
    out = capsys.readouterr().out
    for needle in ("Mode:   smoke", "Device: ", "Data:   the synthetic stand-in", "Seed:   3"):
        assert needle in out
    # Outside Jupyter the warning is a banner; it names both reasons.
    assert "!!! These results are not the final ones: synthetic data and smoke mode" in out
    assert "Synthetic data." in out and "Smoke mode." in out


def test_seeds_everything() -> None:
    ctx = setup_notebook(mode="smoke", data="synthetic", seed=7, verbose=False)
    first = torch.rand(3)
    torch.manual_seed(7)
    assert torch.equal(first, torch.rand(3))
    assert torch.equal(
        torch.rand(2, generator=ctx.generator),
        torch.rand(2, generator=torch.Generator().manual_seed(7)),
    )


def test_real_folder_in_full_mode_is_quiet(
    tiny_neu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "neu"
    shutil.copytree(tiny_neu_dir, folder)
    (folder / MARKER).unlink()  # without its marker the folder is "real" data
    ctx = setup_notebook(mode="full", data=str(folder))
    assert ctx.data_root == folder and not ctx.synthetic and not ctx.reduced
    assert "!!!" not in capsys.readouterr().out


def test_marked_folder_counts_as_synthetic(tiny_neu_dir: Path) -> None:
    ctx = setup_notebook(mode="full", data=str(tiny_neu_dir), verbose=False)
    assert ctx.synthetic and ctx.data_root == tiny_neu_dir


def test_missing_named_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="nope"):
        setup_notebook(mode="smoke", data=str(tmp_path / "nope"))


@pytest.mark.parametrize("error", [DataNotFoundError, FetchError])
def test_unreachable_default_falls_back_loudly(
    error: type[Exception], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable(root=None):
        raise error("every mirror failed: no network")

    monkeypatch.delenv("ONESHOT_STEEL_DATA", raising=False)
    monkeypatch.setattr(loading, "resolve_data_root", unreachable)
    ctx = setup_notebook(mode="full", data="")
    assert ctx.synthetic and ctx.data_root == "synthetic"
    out = capsys.readouterr().out
    flat = " ".join(line.removeprefix("!!!").strip() for line in out.splitlines())  # unwrap
    assert "could not be found or downloaded" in flat and "every mirror failed" in flat


def test_load_data_follows_the_context(tiny_neu_dir: Path) -> None:
    ctx = setup_notebook(mode="smoke", data=str(tiny_neu_dir), verbose=False)
    data = load_data(ctx, size=32)
    assert len(data) == 72 and data.image_size == 32 and data.synthetic


def test_setup_cell_template_installs_without_touching_torch() -> None:
    cell = SETUP_CELL_TEMPLATE.format(url="https://github.com/o/r", branch="b")
    assert '%pip install -q "oneshot-steel @ git+https://github.com/o/r@b"' in cell
    assert "--force" not in cell and "torch" not in cell.split("%pip")[1].split("\n")[0]
    assert cell.rstrip().endswith("ctx = setup_notebook(mode=MODE, data=DATA, seed=SEED)")


@pytest.mark.parametrize(
    "value",
    [["Cr", "PS", "Sc"], ("Cr", "PS", "Sc"), '["Cr","PS","Sc"]', "[Cr, PS, Sc]", "Cr,PS,Sc"],
)
def test_class_names_reads_what_papermill_injects(value) -> None:
    """-y injects a list, -p a string: both name the same split."""
    assert class_names(value, "TRAIN_CLASSES") == ("Cr", "PS", "Sc")


@pytest.mark.parametrize("value", [5, [1, 2], "", [], ["Cr", ""]])
def test_class_names_refuses_what_is_not_a_list_of_names(value) -> None:
    with pytest.raises(ParameterError, match=r'TEST_CLASSES=.*-y "TEST_CLASSES: \[Cr, PS, Sc\]"'):
        class_names(value, "TEST_CLASSES")


def test_runs_dir_names_mode_data_digest_and_split(
    tiny_neu_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chapters 5-9 and reproduce() share these folders: other pixels or splits get new ones."""
    monkeypatch.setenv("ONESHOT_STEEL_CHECKPOINTS", str(tmp_path / "drive"))
    ctx = setup_notebook(mode="smoke", data=str(tiny_neu_dir), verbose=False)
    data = load_data(ctx, size=32)
    paper = runs_dir(ctx, data)
    assert paper.parent == tmp_path / "drive"
    assert ctx.synthetic and paper.name.startswith("smoke-synthetic-")  # the stand-in, marked
    assert len(paper.name.split("-")[-1]) == 8  # a digest of the pixels
    assert runs_dir(ctx, data, ["RS", "Pa", "In"], ("Cr", "PS", "Sc")) == paper
    other = runs_dir(ctx, data, ("Cr", "PS", "Sc"), ("RS", "Pa", "In"))
    assert other.name == paper.name + "-Cr-PS-Sc-vs-RS-Pa-In"
    assert runs_dir(ctx, load_data(ctx, size=16)) != paper  # other pixels, other runs
    monkeypatch.delenv("ONESHOT_STEEL_CHECKPOINTS")
    assert runs_dir(ctx, data).parent.parts[-2:] == ("_build", "checkpoints")
