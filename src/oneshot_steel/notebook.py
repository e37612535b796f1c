"""The first cells of every chapter: one call that sets up mode, seeds, device and data.

Each chapter notebook starts with a ``parameters`` cell (:data:`PARAMETERS_CELL`, which papermill
overrides) and the setup cell (:data:`SETUP_CELL`), identical in every notebook::

    ctx = setup_notebook(mode=MODE, data=DATA, seed=SEED)

:func:`setup_notebook` resolves the mode (``""`` means ``full`` on a CUDA GPU and ``quick``
otherwise), seeds Python, NumPy and torch, picks the device, finds the data (fetching it when
needed, falling back loudly to the synthetic stand-in when that fails) and says all of it in
the output, so that a reader of the built book knows what produced the numbers on the page.
When the numbers are not the real thing (synthetic data, or a reduced mode) it shows a warning
admonition: a MyST admonition in the book, a coloured box in Jupyter and Colab.

A chapter may add its own parameters after the standard lines of its ``parameters`` cell (the
class split of chapters 5, 6 and 9, for example); :func:`class_names` reads a class list
however papermill passed it.
"""

from __future__ import annotations

import ast
import html
import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from .data import load_neu, resolve_data_root
from .data.paths import is_synthetic_folder
from .data.splits import PAPER_TEST_CLASSES
from .errors import DataNotFoundError, FetchError, ModeError, OneShotSteelError, ParameterError
from .files import repo_root
from .glue import MODE_KEY, glue, show_bundle, show_glued
from .precision import autocast_settings
from .runtime import default_device, seed_everything
from .truncate import ENV, test_steps

__all__ = [
    "CHECKPOINTS_PARAMETER",
    "MODES",
    "PARAMETERS_CELL",
    "SETUP_CELL_TEMPLATE",
    "NotebookContext",
    "class_names",
    "glue",
    "load_data",
    "repository",
    "resolve_mode",
    "setup_cell",
    "setup_notebook",
    "show_glued",
]

#: The run modes, from cheapest to most faithful.
MODES: tuple[str, ...] = ("smoke", "quick", "full")

_MODE_MEANING = {
    "smoke": "every cell runs on tiny sizes to check the code path; the numbers mean nothing",
    "quick": "reduced schedules sized for a CPU; the numbers show trends, not final results",
    "full": "the paper's schedules; meant for a GPU",
}

#: The ``parameters`` cell of every chapter (papermill injects its overrides after it).
PARAMETERS_CELL = """\
import os
MODE = os.environ.get("ONESHOT_STEEL_MODE", "")  # "smoke" | "quick" | "full"; empty: full on a GPU, quick on a CPU
DATA = os.environ.get("ONESHOT_STEEL_DATA", "")  # a folder, "synthetic", or "" for the default
SEED = 0"""

#: The parameter line that chapters which train add to their parameters cell (for runs_dir).
CHECKPOINTS_PARAMETER = (
    'CHECKPOINTS = os.environ.get("ONESHOT_STEEL_CHECKPOINTS", "")  # where trained networks are '
    'kept; on Colab e.g. "/content/drive/MyDrive/oneshot-steel"'
)

#: The setup cell; ``{url}`` and ``{branch}`` come from _config.yml's ``repository`` section.
SETUP_CELL_TEMPLATE = """\
import sys
if "google.colab" in sys.modules:  # on Colab: install the package, keeping Colab's own torch and numpy
    %pip install -q "oneshot-steel @ git+{url}@{branch}"
from oneshot_steel.notebook import setup_notebook
ctx = setup_notebook(mode=MODE, data=DATA, seed=SEED)"""


def repository() -> tuple[str, str]:
    """The book's repository ``(url, branch)``.

    Read from ``repository`` in _config.yml (the one place that names it) when running from a
    checkout; an installed package (Colab) falls back to its metadata's Homepage, which the tests
    keep equal to _config.yml's url, and the branch ``main``.
    """
    root = repo_root()
    config = root / "_config.yml" if root is not None else None
    if config is not None and config.is_file():
        try:
            import yaml  # comes with jupyter-book; not a dependency of the package itself
        except ImportError:
            pass
        else:
            repo = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("repository", {})
            if repo.get("url"):
                return str(repo["url"]).rstrip("/"), str(repo.get("branch") or "main")
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("oneshot-steel").get_all("Project-URL") or []
    except PackageNotFoundError as err:
        raise OneShotSteelError(
            "Cannot tell the book's repository: no _config.yml next to this package and "
            "oneshot-steel is not installed. Run from a checkout or `pip install -e .`."
        ) from err
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "homepage":
            return url.strip().rstrip("/"), "main"
    raise OneShotSteelError("The installed oneshot-steel metadata has no Homepage URL.")


def setup_cell(url: str | None = None, branch: str | None = None) -> str:
    """The canonical setup cell for the repository ``url`` at ``branch`` (default: ours)."""
    if url is None or branch is None:
        default_url, default_branch = repository()
        url, branch = url or default_url, branch or default_branch
    return SETUP_CELL_TEMPLATE.format(url=url.rstrip("/"), branch=branch)


def __getattr__(name: str) -> str:
    # SETUP_CELL is computed on first use: it reads _config.yml, which a plain import should not.
    if name == "SETUP_CELL":
        return setup_cell()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class NotebookContext:
    """What a chapter runs with; every later cell reads its sizes and paths from here."""

    mode: str  #: "smoke", "quick" or "full"
    device: torch.device
    data_root: Path | Literal["synthetic"]  #: the data folder, or "synthetic" for the stand-in
    synthetic: bool  #: True when the images are the synthetic stand-in
    seed: int
    on_colab: bool
    bf16: bool = False  #: bfloat16 autocast is supported and worth using on this device
    mode_reason: str = ""  #: why this mode was chosen, in words
    generator: torch.Generator = field(default_factory=torch.Generator, repr=False, compare=False)

    @property
    def reduced(self) -> bool:
        """True in smoke and quick mode: the numbers are not the final results."""
        return self.mode != "full"


def resolve_mode(mode: str, device: torch.device) -> tuple[str, str]:
    """``(mode, reason)``: validate ``mode``; ``""`` becomes full on CUDA, quick elsewhere."""
    value = str(mode).strip().lower()
    if value in MODES:
        return value, f"MODE={value!r} was requested"
    if value == "":
        if device.type == "cuda":
            return "full", "MODE was empty and a CUDA GPU is present"
        return (
            "quick",
            f'MODE was empty and there is no CUDA GPU ({device.type}); MODE = "full" overrides',
        )
    raise ModeError(
        f"MODE={mode!r} is not a run mode. Use 'smoke' (tiny sizes, checks the code), 'quick' "
        "(CPU-sized), 'full' (the paper's schedule, for a GPU), or '' (full on a GPU, quick on "
        "a CPU). Set it in the notebook's parameters cell or with ONESHOT_STEEL_MODE."
    )


def _bf16(device: torch.device) -> bool:
    """Native bf16, decided exactly as training decides it (a T4 only emulates bf16)."""
    return autocast_settings(device).dtype == torch.bfloat16


def _device_line(device: torch.device, bf16: bool) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        name = f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
        bf = "bfloat16 supported" if bf16 else "no bfloat16: training stays in float32"
    elif device.type == "mps":
        name, bf = "Apple GPU (MPS)", "float32"
    else:
        name = f"{torch.get_num_threads()} threads"
        bf = f"training runs {autocast_settings(device).reason}"
    return f"Device: {device.type} ({name}); {bf}"


def _resolve_data(data: str | os.PathLike) -> tuple[Path | Literal["synthetic"], bool, str]:
    """``(root, synthetic, fallback_reason)``; the reason is empty unless we fell back."""
    explicit = str(data).strip()
    try:
        root = resolve_data_root(explicit or None)
    except (DataNotFoundError, FetchError) as err:
        if explicit or os.environ.get("ONESHOT_STEEL_DATA", "").strip():
            raise  # a folder that was named but is not there is a typo to fix, not to hide
        return "synthetic", True, str(err).splitlines()[0]
    if root == "synthetic":
        return root, True, ""
    return root, is_synthetic_folder(root), ""


def _display_warning(title: str, items: list[str]) -> None:
    """A MyST admonition for the book, an HTML box for Jupyter/Colab, a banner for a terminal."""
    markdown = "\n".join(
        [f":::{{admonition}} {title}", ":class: warning", "", *[f"- {i}" for i in items], ":::"]
    )
    box = (
        '<div style="border-left:6px solid #e69500;background:#fff4e0;color:#3a2a00;'
        'padding:0.6em 1em;margin:0.5em 0"><strong>&#9888; '
        + html.escape(title)
        + "</strong><ul>"
        + "".join(f"<li>{html.escape(i).replace('**', '')}</li>" for i in items)
        + "</ul></div>"
    )
    bar = "!" * 78
    wrapped = [
        textwrap.fill(
            "- " + i.replace("**", ""), 78, initial_indent="!!! ", subsequent_indent="!!!   "
        )
        for i in items
    ]
    plain = "\n".join([bar, f"!!! {title}", *wrapped, bar])
    show_bundle(markdown, box, plain)


def setup_notebook(
    mode: str = "", data: str | os.PathLike = "", seed: int = 0, *, verbose: bool = True
) -> NotebookContext:
    """Resolve the mode, seed everything, pick the device, find the data, and say so.

    ``mode``: ``"smoke"``, ``"quick"``, ``"full"`` or ``""`` (full on a CUDA GPU, else quick).
    ``data``: a folder, ``"synthetic"``, or ``""`` for the default folder (fetched when missing).
    When ``data`` is empty and the real set can be neither found nor fetched, the synthetic
    stand-in is used and a warning says so; a folder that was named but does not exist raises
    :class:`~oneshot_steel.errors.DataNotFoundError` instead, since that is a typo.
    On Colab it also turns on Colab's custom widget manager, which ipywidgets 8 needs there.
    """
    on_colab = "google.colab" in sys.modules
    if on_colab:  # Colab draws ipywidgets 8 (and tqdm's bars) only through this; harmless with 7
        try:
            from google.colab import output

            output.enable_custom_widget_manager()
        except (ImportError, AttributeError):  # an older Colab without it still draws 7.x widgets
            pass
    device = default_device()
    mode, reason = resolve_mode(mode, device)
    try:
        seed = int(seed)
    except (TypeError, ValueError) as err:
        raise ModeError(f"SEED={seed!r} is not an integer; set SEED = 0 (or any int).") from err
    generator = seed_everything(seed)
    bf16 = _bf16(device)
    root, synthetic, fallback = _resolve_data(data)
    ctx = NotebookContext(
        mode=mode,
        device=device,
        data_root=root,
        synthetic=synthetic,
        seed=seed,
        on_colab=on_colab,
        bf16=bf16,
        mode_reason=reason,
        generator=generator,
    )
    glue(MODE_KEY, mode)  # the book's extension labels the numbers of a reduced run with it
    if verbose:
        _report(ctx, fallback)
    return ctx


def _report(ctx: NotebookContext, fallback: str) -> None:
    if ctx.data_root == "synthetic":
        data = "the synthetic stand-in"
    elif ctx.synthetic:
        data = f"the synthetic stand-in in {ctx.data_root}"
    else:
        data = f"{ctx.data_root}"
    lines = [
        f"Mode:   {ctx.mode}: {_MODE_MEANING[ctx.mode]} ({ctx.mode_reason})",
        _device_line(ctx.device, ctx.bf16),
        f"Data:   {data}",
        f"Seed:   {ctx.seed} (Python, NumPy and torch seeded)",
    ]
    if test_steps() is not None:  # the TEST-ONLY knob: say so before anything runs
        lines.append(f"Test:   {ENV}={test_steps()}: training truncated, NOT real results")
    for line in lines:
        print(textwrap.fill(line, width=88, subsequent_indent=" " * 8, break_on_hyphens=False))
    if ctx.on_colab and ctx.device.type != "cuda":
        print("Tip: on Colab, Runtime > Change runtime type > GPU runs the full schedule.")
    items = []
    if fallback:
        items.append(
            f"**The real NEU-CLS images could not be found or downloaded** "
            f"(`{fallback.replace('`', chr(39))}`). "
            "This run fell back to the synthetic stand-in."
        )
    if ctx.synthetic:
        items.append(
            "**Synthetic data.** The images are a procedural stand-in with the six NEU classes: "
            "every number on this page says how the code behaves, not how well it recognises "
            "real steel defects. Set `DATA` to the NEU-CLS folder for real results."
        )
    if ctx.mode == "smoke":
        items.append(
            "**Smoke mode.** Every cell runs on tiny sizes to check that the code works; "
            "losses, accuracies and plots are not meaningful. Use quick or full mode to learn "
            "from the numbers."
        )
    elif ctx.mode == "quick":
        items.append(
            "**Quick mode.** Training schedules are shortened to fit a CPU: the numbers show "
            "the trends but fall short of what the full schedule reaches. Run with "
            '`MODE = "full"` on a GPU for the final figures.'
        )
    if items:
        parts = (["synthetic data"] if ctx.synthetic else []) + (
            [f"{ctx.mode} mode"] if ctx.reduced else []
        )
        _display_warning("These results are not the final ones: " + " and ".join(parts), items)


def load_data(ctx: NotebookContext, size: int = 100):
    """The data set of ``ctx`` as an ImageSet of ``size`` x ``size`` images (see ``load_neu``)."""
    data = load_neu(ctx.data_root, size=size)
    if data.synthetic != ctx.synthetic:  # cannot happen unless the folder changed under us
        raise OneShotSteelError(
            f"{ctx.data_root} changed since setup_notebook (synthetic={data.synthetic}); "
            "re-run the setup cell."
        )
    return data


def class_names(value: str | Sequence[str], name: str = "classes") -> tuple[str, ...]:
    """A class list parameter as a tuple of names, however it was set.

    ``papermill -y "TRAIN_CLASSES: [Cr, PS, Sc]"`` injects a list; ``papermill -p`` injects
    a string, e.g. ``'["Cr","PS","Sc"]'``, ``"[Cr, PS, Sc]"`` or ``"Cr,PS,Sc"``: all give
    ``("Cr", "PS", "Sc")``. Whether the names are classes of the data is checked where they
    are used (``one_shot_split`` raises ``UnknownClassError``).
    """
    items: Any = value
    if isinstance(value, str):
        text = value.strip()
        try:
            items = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            items = text.strip("[]()").replace(",", " ").split()
        items = [items] if isinstance(items, str) else items
    if (
        not items
        or not isinstance(items, Sequence)
        or not all(isinstance(c, str) and c.strip() for c in items)
    ):
        quoted = ", ".join(f'"{c}"' for c in PAPER_TEST_CLASSES)  # the example: the paper's
        spaced, tight = ", ".join(PAPER_TEST_CLASSES), ",".join(PAPER_TEST_CLASSES)
        raise ParameterError(
            f"{name}={value!r} is not a list of class names. Set it to a list such as "
            f'[{quoted}] (papermill: -y "{name}: [{spaced}]" or -p {name} {tight}).'
        )
    return tuple(c.strip() for c in items)
