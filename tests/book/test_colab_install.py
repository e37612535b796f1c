"""The book as Colab runs it: the setup cell's own ``%pip`` line, Colab's torch and ipywidgets 7.

Colab has torch, numpy and ipywidgets 7.7 installed before a chapter's setup cell runs
``%pip install "oneshot-steel @ git+URL@BRANCH"``; that line must add the package without
touching any of them. The slow test rebuilds that situation on this machine:

1. the working tree as it is now (uncommitted changes included) is committed in a temporary
   repository and cloned bare: the stand-in for GitHub;
2. a fresh virtual environment *sees* this environment's torch, numpy and the rest of what Colab
   ships preinstalled (a ``.pth`` file pointing at a folder of symlinks to those packages and
   their ``.dist-info``: pip lists them as installed without copying 5 GB), and gets Colab's
   ipywidgets 7.7.1 and widgetsnbextension 3.6 really installed;
3. a kernel of that environment starts with a stand-in ``google.colab`` imported (the only stub:
   Colab's module, whose ``output.enable_custom_widget_manager`` prints that it was called);
4. chapter 3 (the one with the margin slider) runs top to bottom in smoke mode on the synthetic
   stand-in, its setup cell unchanged except for the URL, which points at the bare clone;
5. torch and numpy must have the same version at the same place as before, ipywidgets must still
   be 7.x, the package must come from the bare clone, and the slider must be a 7.x widget.

Colab's widget wheels are not in this machine's local indexes: they and what they require come
from PyPI once and are kept in a wheelhouse in pip's cache folder (``ONESHOT_STEEL_WHEELHOUSE``
moves it), so later runs install with ``--no-index``. The test skips only when the wheelhouse
cannot provide them and PyPI cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import types
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

import nbformat
import pytest
from bookruns import patched_environ
from booktools import REPO, repository
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from oneshot_steel.notebook import setup_cell, setup_notebook

CHAPTER = REPO / "book" / "ch03_contrastive_loss.ipynb"

#: What Colab has installed of the widget stack (its runtime of 2025), installed for real with
#: what they require that the fresh environment does not see: widgetsnbextension 3 wants a
#: ``notebook`` server (Colab has 6.5; pip picks the one that fits this kernel stack), so that,
#: as on Colab, nothing is missing when the setup cell's pip walks the installed widget stack.
COLAB_WIDGETS = (
    "ipywidgets==7.7.1",
    "widgetsnbextension==3.6.10",
    "jupyterlab_widgets==3.0.15",
    "ipython_genutils==0.2.0",
)

#: What Colab ships preinstalled that the package or a kernel needs: the fresh environment sees
#: this environment's copies of these and of everything they require.
COLAB_PREINSTALLED = (
    "torch",
    "torchvision",
    "numpy",
    "pillow",
    "matplotlib",
    "seaborn",
    "scikit-learn",
    "scikit-image",
    "tqdm",
    "ipykernel",
    "ipython",
    "pyyaml",
    "pip",
)

#: Never exposed: Colab's own widget stack is installed instead, and the package must come
#: from the bare clone.
NOT_EXPOSED = {"ipywidgets", "widgetsnbextension", "jupyterlab-widgets", "oneshot-steel"}

#: The stand-in for Colab's ``google.colab`` package (namespace ``google``: protobuf lives there).
COLAB_STUB = {
    "google/colab/__init__.py": '"""Test stand-in for Colab\'s google.colab."""\n'
    "from . import output  # noqa: F401\n",
    "google/colab/output.py": '"""Test stand-in for google.colab.output."""\n\n'
    "def enable_custom_widget_manager():\n"
    '    print("google.colab stand-in: custom widget manager enabled")\n',
}

WATCHED = ("torch", "numpy", "torchvision", "ipywidgets", "widgetsnbextension", "oneshot-steel")


def say(step: str) -> None:
    """One line of the session's log (pytest -s shows it; it is also in the report on failure)."""
    print(f"[colab] {step}", flush=True)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if out.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        )
    return out


# ------------------------------------------------------------------------- fast: no install
def test_setup_notebook_enables_colabs_widget_manager(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: calls.append("enabled")  # type: ignore[attr-defined]
    colab = types.ModuleType("google.colab")
    colab.output = output  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    ctx = setup_notebook(mode="smoke", data="synthetic")
    assert ctx.on_colab and calls == ["enabled"]
    assert "Tip: on Colab" in capsys.readouterr().out or ctx.device.type == "cuda"


def test_widget_chapters_use_no_ipywidgets_8_only_api() -> None:
    """Widgets that 7.x lacks, or whose value 8.x changed (FileUpload), stay out of the book."""
    only_8 = ("TagsInput", "ColorsInput", "FloatsInput", "IntsInput", "Stack(", "TimePicker")
    only_8 += ("DatetimePicker", "FileUpload(")
    for path in sorted((REPO / "book").glob("ch*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        assert not [n for n in only_8 if f"widgets.{n}" in code], path.name


# ------------------------------------------------------------------------- the Colab session
def _site_packages(python: Path) -> Path:
    out = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    return Path(out.stdout.strip())


def _closure(roots: tuple[str, ...]) -> list[Distribution]:
    """The installed distributions ``roots`` name and everything they require (with the extras
    asked for: torch's ``cuda-toolkit[cublas,cudart,...]`` brings the nvidia-* libraries)."""
    seen: dict[str, Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo = [(name, "") for name in roots]
    while todo:
        name, extra = todo.pop()
        name = canonicalize_name(name)
        if (name, extra) in done or name in NOT_EXPOSED:
            continue
        done.add((name, extra))
        try:
            dist = seen.get(name) or distribution(name)
        except PackageNotFoundError:
            continue  # an optional requirement this environment does not have
        seen[name] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo += [(req.name, e) for e in ("", *sorted(req.extras))]
    return list(seen.values())


def _expose(dists: list[Distribution], links: Path) -> int:
    """Symlink each distribution's top-level files and its .dist-info into ``links``."""
    links.mkdir(parents=True)
    for dist in dists:
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            target = links / top
            if (base / top).exists() and not target.exists():
                target.symlink_to(base / top)
    return len(dists)


def _installed(python: Path) -> dict[str, tuple[str, str]]:
    """pip's own view of the environment: ``{name: (version, location)}``."""
    out = run([str(python), "-m", "pip", "list", "--format", "json", "-v"])
    return {
        canonicalize_name(p["name"]): (p["version"], p["location"]) for p in json.loads(out.stdout)
    }


def _watched(installed: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    return {name: installed[name] for name in WATCHED if name in installed}


def _wheelhouse() -> Path:
    env = os.environ.get("ONESHOT_STEEL_WHEELHOUSE", "").strip()
    if env:
        return Path(env).expanduser()
    out = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True
    )
    cache = Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None
    return (cache or Path.home() / ".cache" / "pip") / "oneshot-steel-colab-wheels"


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


def _install_colab_widgets(python: Path) -> None:
    """Colab's widget stack into the venv: from the wheelhouse, filled from PyPI when it lacks it."""
    house = _wheelhouse()
    cmd = [str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(house)]
    if subprocess.run([*cmd, *COLAB_WIDGETS], capture_output=True, text=True).returncode == 0:
        say(f"installed Colab's {', '.join(COLAB_WIDGETS)} (and what they need) from {house}")
        return
    house.mkdir(parents=True, exist_ok=True)
    fetch = [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:"]
    fetch += ["--retries", "1", "--timeout", "20", "-d", str(house), *COLAB_WIDGETS]
    out = subprocess.run(fetch, capture_output=True, text=True)
    if out.returncode != 0:
        if not _pypi_reachable():
            pytest.skip(
                f"Colab's widget stack ({', '.join(COLAB_WIDGETS)}) is not in the wheelhouse "
                f"{house} and PyPI cannot be reached to fetch it: "
                + (out.stderr.strip() or "?").splitlines()[-1]
            )
        raise AssertionError(f"pip download failed with PyPI reachable:\n{out.stderr[-3000:]}")
    run([*cmd, *COLAB_WIDGETS])
    say(f"fetched Colab's {', '.join(COLAB_WIDGETS)} and what they need into {house}; installed")


def _bare_clone(tmp: Path) -> tuple[Path, str]:
    """The working tree as it is now, committed and cloned bare: ``(bare, branch)``."""
    _, branch = repository()
    files = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO
    ).stdout.split("\0")
    tree = tmp / "tree"
    copied = 0
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
            copied += 1
    git = [
        "git",
        "-c",
        "user.name=colab test",
        "-c",
        "user.email=colab@test",
        "-c",
        "commit.gpgsign=false",
    ]
    run([*git, "init", "-q", "-b", branch], cwd=tree)
    run([*git, "add", "-A"], cwd=tree)
    run([*git, "commit", "-q", "-m", "working tree under test"], cwd=tree)
    bare = tmp / "oneshot-steel.git"
    run(["git", "clone", "-q", "--bare", str(tree), str(bare)])
    say(
        f"committed the working tree ({copied} files, uncommitted changes included) and cloned it bare: {bare}"
    )
    return bare, branch


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.timeout(600)
def test_setup_cell_installs_on_colab_without_touching_torch_numpy_or_ipywidgets(
    tmp_path: Path,
) -> None:
    start = time.perf_counter()
    bare, branch = _bare_clone(tmp_path)

    # The Colab stand-in: a fresh venv that sees this environment's preinstalled stack.
    venv = tmp_path / "colab-venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = _site_packages(python)
    dists = _closure(COLAB_PREINSTALLED)
    n = _expose(dists, tmp_path / "preinstalled")
    (site / "colab-preinstalled.pth").write_text(f"{tmp_path / 'preinstalled'}\n")
    for rel, text in COLAB_STUB.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    say(
        f"fresh venv {venv} sees {n} preinstalled distributions (torch, numpy and what they "
        "and Colab's kernel need) through a .pth file and symlinks; google.colab stand-in added"
    )
    _install_colab_widgets(python)
    before = _installed(python)
    say(f"pip lists {len(before)} distributions, among them {_watched(before)}")
    links = str(tmp_path / "preinstalled")
    assert before["torch"][1] == links and before["numpy"][1] == links, before
    assert before["ipywidgets"] == ("7.7.1", str(site)) and "oneshot-steel" not in before

    # The chapter, with its setup cell as the book has it but the URL pointing at the clone.
    url, _ = repository()
    nb = nbformat.read(CHAPTER, as_version=4)
    cells = [
        c for c in nb.cells if c.cell_type == "code" and c.source.strip() == setup_cell().strip()
    ]
    assert len(cells) == 1, f"{CHAPTER.name} has no standard setup cell"
    line = next(ln for ln in cells[0].source.splitlines() if "%pip install" in ln)
    cells[0].source = cells[0].source.replace(f"git+{url}@", f"git+{bare.as_uri()}@")
    assert f'"oneshot-steel @ git+{bare.as_uri()}@{branch}"' in cells[0].source
    say(
        f"setup cell's own line, URL pointed at the clone: {line.strip().replace(url, bare.as_uri())}"
    )
    notebook = tmp_path / CHAPTER.name
    nbformat.write(nb, notebook)

    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    spec = {
        "argv": [
            str(python),
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.exec_lines=import google.colab",
        ],
        "display_name": "Colab stand-in",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(
        JUPYTER_PATH=str(tmp_path / "jupyter"),
        ONESHOT_STEEL_MODE="smoke",
        ONESHOT_STEEL_DATA="synthetic",
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    import papermill

    executed = tmp_path / "executed.ipynb"
    ran = time.perf_counter()
    with patched_environ(env):
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters={"MODE": "smoke", "DATA": "synthetic"},
            kernel_name="colab",
            cwd=str(tmp_path),
            progress_bar=False,
            execution_timeout=300,
        )
    say(
        f"ran {CHAPTER.name} top to bottom in smoke mode in the venv's kernel ({time.perf_counter() - ran:.0f} s)"
    )

    after = _installed(python)
    added = sorted(set(after) - set(before))
    changed = sorted(n for n in before if after.get(n) != before[n])
    say(f"the %pip line added {added} and changed {changed}; now {_watched(after)}")
    assert added == ["oneshot-steel"] and changed == [], (added, changed)
    for name in ("torch", "numpy", "torchvision", "ipywidgets", "widgetsnbextension"):
        assert after[name] == before[name], f"{name} changed: {before[name]} -> {after[name]}"
    assert after["oneshot-steel"][1] == str(site)
    assert not (site / "torch").exists() and not (site / "numpy").exists()
    probe = run(
        [
            str(python),
            "-c",
            "import json, importlib.metadata as m, torch, numpy, ipywidgets;"
            "print(json.dumps([m.distribution('oneshot-steel').read_text('direct_url.json'),"
            "torch.__file__, numpy.__file__, ipywidgets.__version__]))",
        ]
    )
    direct_url, torch_file, numpy_file, widgets_version = json.loads(probe.stdout)
    assert json.loads(direct_url)["url"] == bare.as_uri(), direct_url
    assert torch_file.startswith(links) and numpy_file.startswith(links)
    assert widgets_version == "7.7.1"
    say(
        f"torch {after['torch'][0]} and numpy {after['numpy'][0]} untouched at {links}; "
        f"ipywidgets {widgets_version} kept; oneshot-steel {after['oneshot-steel'][0]} from {bare.as_uri()}"
    )

    out = nbformat.read(executed, as_version=4)
    setup_out = "".join(
        o.get("text", "")
        for c in out.cells
        if c.cell_type == "code" and "%pip install" in c.source
        for o in c.outputs
    )
    assert "custom widget manager enabled" in setup_out and "Mode:   smoke" in setup_out, setup_out
    took = [c.metadata.get("papermill", {}).get("duration") or 0 for c in out.cells]
    pip_s = next(t for c, t in zip(out.cells, took, strict=True) if "%pip install" in c.source)
    say(
        f"the setup cell (the %pip install and setup_notebook) took {pip_s:.0f} s, all cells {sum(took):.0f} s"
    )
    state = out.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    sliders = [m for m in state.get("state", {}).values() if m["model_name"] == "FloatSliderModel"]
    assert sliders and sliders[0]["model_module_version"] == "1.5.0", sliders  # ipywidgets 7.x
    seconds = time.perf_counter() - start
    say(
        f"setup cell enabled Colab's widget manager; the margin slider is an ipywidgets 7 "
        f"FloatSlider (controls 1.5.0); whole session {seconds:.0f} s"
    )
