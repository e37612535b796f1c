"""setup_notebook: mode, seeds, device and data, said out loud; load_data; the canonical cells;
glued numbers shown off the book (Colab, Jupyter) and the cells that show them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import oneshot_steel.glue as glue_module
import oneshot_steel.notebook as notebook_module
from oneshot_steel.data.synthetic import MARKER
from oneshot_steel.errors import DataNotFoundError, FetchError, ModeError, ParameterError
from oneshot_steel.glue import (
    display_cell_source,
    format_glued,
    glue_cell_problems,
    glue_refs,
    glued,
    mode_label,
    sync_glue_cells,
)
from oneshot_steel.notebook import (
    SETUP_CELL_TEMPLATE,
    class_names,
    glue,
    load_data,
    resolve_mode,
    setup_notebook,
    show_glued,
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
    monkeypatch.setattr(notebook_module, "resolve_data_root", unreachable)
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


# --------------------------------------------------------------------- glued numbers off the book
@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A fresh glue registry, as in a new kernel."""
    fresh: dict = {}
    monkeypatch.setattr(glue_module, "_GLUED", fresh)
    return fresh


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        (83.41666, ".1f"),
        (0.5, ".0f"),
        (1.5, ".0f"),
        (12345, ","),
        (0.000123, ".1e"),
        (-0.0441, "+.2f"),
        (0.8342, ".2g"),
        (7, ".3f"),
        ("83.4", ".1f"),  # a number glued as text is formatted as a number
        ("RS, Pa and In", "s"),
        ("it's", "s"),
        ("3", ""),
        (True, "s"),
    ],
)
def test_format_glued_agrees_with_myst_nb(value, spec: str) -> None:
    """The box shows what the book shows: myst-nb formats the text/plain repr the same way."""
    variables = pytest.importorskip("myst_nb.core.variables")
    from IPython.lib.pretty import pretty

    assert format_glued(value, spec) == variables.format_plain_text(pretty(value), spec)


def test_glue_outside_ipython_records_without_printing(
    registry: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    glue("acc", np.float32(0.75))
    assert registry == {"acc": 0.75} and type(registry["acc"]) is float  # a Python number
    assert glued("acc") == 0.75 and capsys.readouterr().out == ""


def test_show_glued_formats_each_role_and_says_what_comes_later(
    registry: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    glue("ch99_acc", 83.41666)
    glue("ch99_n", 1800)
    show_glued("ch99_acc:.1f", "ch99_n:,", "ch99_later:.2f")
    assert capsys.readouterr().out == (
        "Numbers in the text above: ch99_acc = 83.4; ch99_n = 1,800; "
        "ch99_later = (computed further down)\n"
    )


def test_show_glued_in_jupyter_is_a_box_labelled_in_a_reduced_run(
    registry: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In Jupyter/Colab: HTML, Markdown and plain text; numbers of a quick run say so."""
    import IPython
    import IPython.display

    setup_notebook(mode="quick", data="synthetic", verbose=False)  # records the mode
    glue("ch99_acc", 0.8342)
    glue("ch99_split", "RS, Pa and In")
    shown: list[dict] = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())  # as if in a kernel
    monkeypatch.setattr(IPython.display, "display", lambda bundle, raw: shown.append(bundle))
    show_glued("ch99_acc:.2f", "ch99_split")
    (bundle,) = shown
    html = bundle["text/html"]
    assert "<code>ch99_acc</code>&nbsp;=&nbsp;<b>0.83</b><sup" in html
    assert ">quick</sup>" in html and html.count("<sup") == 1  # the words carry no label
    assert "<b>RS, Pa and In</b>" in html and "Numbers in the text above" in html
    assert "`ch99_acc` = **0.83**<sup>quick</sup>" in bundle["text/markdown"]
    assert "ch99_acc = 0.83 [quick mode]; ch99_split = RS, Pa and In" in bundle["text/plain"]


def test_full_mode_numbers_carry_no_label(registry: dict, capsys) -> None:
    setup_notebook(mode="full", data="synthetic", verbose=False)
    glue("ch99_acc", 0.8342)
    show_glued("ch99_acc:.2f")
    assert capsys.readouterr().out.strip() == "Numbers in the text above: ch99_acc = 0.83"
    assert mode_label("83.4", "smoke") == "smoke" and mode_label("83.4", "full") == ""
    assert mode_label("the RS class", "quick") == "" and mode_label("cpu (bf16)", "quick") == ""
    assert mode_label("Pa_101 = Pa_105", "smoke") == "" and mode_label("-0.04", "quick") == "quick"


def test_glue_refs_keep_text_formats_in_order_once() -> None:
    text = (
        "Accuracy {glue:text}`acc:.1f` % on {glue:text}`n:,` images, again {glue:text}`acc:.1f`;"
        " {glue}`plot` and {glue:md}`table:commonmark`; ```{glue:figure} fig\n```"
    )
    assert glue_refs(text) == ["acc:.1f", "n:,", "plot", "table"]
    assert glue_refs("no roles, just `code`") == []


def _glue_notebook(*cells: str):
    import nbformat

    nb = nbformat.v4.new_notebook()
    for text in cells:
        make = (
            nbformat.v4.new_markdown_cell if text.startswith("md:") else nbformat.v4.new_code_cell
        )
        nb.cells.append(make(text.removeprefix("md:")))
    return nb


def test_sync_adds_updates_and_removes_display_cells() -> None:
    nb = _glue_notebook("glue('a', 1.0)", "md:A is {glue:text}`a:.1f`.", "md:No roles.", "x = 1")
    assert glue_cell_problems(nb) and sync_glue_cells(nb) == 1
    assert [c.cell_type for c in nb.cells] == ["code", "markdown", "code", "markdown", "code"]
    display = nb.cells[2]
    assert display.metadata["tags"] == ["remove-cell"]
    assert (
        display.source == display_cell_source(["a:.1f"]) and 'show_glued("a:.1f")' in display.source
    )
    assert glue_cell_problems(nb) == [] and sync_glue_cells(nb) == 0  # idempotent
    nb.cells[1].source += " And {glue:text}`b:.2f`."  # the prose changed: the cell is stale
    assert "out of date" in glue_cell_problems(nb)[0] and sync_glue_cells(nb) == 1
    assert 'show_glued("a:.1f", "b:.2f")' in nb.cells[2].source
    nb.cells[1].source = "The roles are gone."  # now the display cell is an orphan
    assert "without glue roles" in glue_cell_problems(nb)[0] and sync_glue_cells(nb) == 1
    assert len(nb.cells) == 4 and glue_cell_problems(nb) == []


def test_display_cell_wraps_long_calls_and_runs() -> None:
    refs = [f"ch99_a_rather_long_key_{i}:.1f" for i in range(6)]
    source = display_cell_source(refs)
    assert all(len(line) <= 92 for line in source.splitlines()) and len(source.splitlines()) > 2
    compile(source, "<display cell>", "exec")  # valid Python


def test_sync_command_checks_and_writes(tmp_path: Path, capsys) -> None:
    import nbformat

    path = tmp_path / "nb.ipynb"
    nbformat.write(_glue_notebook("md:{glue:text}`a`"), path)
    assert glue_module.main(["sync", "--check", str(path)]) == 1
    assert len(nbformat.read(path, as_version=4).cells) == 1  # --check changes nothing
    assert glue_module.main(["sync", str(path)]) == 0
    assert glue_module.main(["sync", "--check", str(path)]) == 0
    assert len(nbformat.read(path, as_version=4).cells) == 2
