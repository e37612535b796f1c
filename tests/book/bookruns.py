"""Running and building for the book tests: smoke runs, nbval, book builds (memoised).

Expensive steps are memoised for the whole pytest session (this module is imported once), so
that each notebook is executed twice in all: once by papermill (whose outputs also prime the
book's execution cache, so the book build does not run it again) and once by nbval, which
checks that the outputs marked ``# NBVAL_CHECK_OUTPUT`` come out the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from booktools import (
    REPO,
    load_config,
    model_notebook,
    page_source,
    toc_entries,
    toc_notebooks,
)

MATHJAX_PREFIX = REPO / "_build" / "mathjax"
MATHJAX_ES5 = MATHJAX_PREFIX / "node_modules" / "mathjax" / "es5"
SMOKE_LIMIT_S = 120  # SPEC: smoke mode runs a whole notebook in well under 2 minutes


# ------------------------------------------------------------------------- environment
def smoke_data() -> str:
    """The data the smoke runs use: ONESHOT_STEEL_DATA when set, else the synthetic stand-in."""
    return os.environ.get("ONESHOT_STEEL_DATA", "").strip() or "synthetic"


def smoke_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, ONESHOT_STEEL_MODE="smoke", ONESHOT_STEEL_DATA=smoke_data())
    env.update(extra)
    return env


@contextmanager
def patched_environ(env: dict[str, str]) -> Iterator[None]:
    """Run with ``os.environ`` replaced (kernels started inside inherit it)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ------------------------------------------------------------------------- executing notebooks
@dataclass
class SmokeRun:
    source: Path
    output: Path
    seconds: float
    error: str = ""


_RUNS: dict[Path, SmokeRun] = {}


def papermill_output(source: Path, root: Path = REPO) -> Path:
    return root / "_build" / "papermill" / source.relative_to(root)


def smoke_run(source: Path, root: Path = REPO) -> SmokeRun:
    """Execute ``source`` once per session with papermill, MODE="smoke" (memoised)."""
    source = source.resolve()
    if source in _RUNS:
        return _RUNS[source]
    run = execute(source, papermill_output(source, root), smoke_env())
    _RUNS[source] = run
    return run


def execute(source: Path, output: Path, env: dict[str, str]) -> SmokeRun:
    """Run ``source`` with papermill into ``output`` under ``env`` (MODE and DATA from it)."""
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    error = ""
    with patched_environ(env):
        try:
            papermill.execute_notebook(
                str(source),
                str(output),
                parameters={"MODE": env["ONESHOT_STEEL_MODE"], "DATA": env["ONESHOT_STEEL_DATA"]},
                kernel_name="python3",
                cwd=str(source.parent),
                progress_bar=False,
                execution_timeout=600,
            )
        except Exception as err:  # the test reports it; the build then fails on it too
            error = f"{type(err).__name__}: {err}"
    return SmokeRun(source, output, time.perf_counter() - start, error)


def prime_execution_cache(run: SmokeRun, cache_dir: Path) -> bool:
    """Store ``run``'s outputs in the book's jupyter-cache under the SOURCE notebook's hash.

    The outputs are the source's code cells run with the same MODE and DATA the build passes
    (papermill only injects those two values), so the build may show them as they are.
    """
    if run.error:
        return False
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    source = nbformat.read(run.source, as_version=4)
    executed = nbformat.read(run.output, as_version=4)
    ran = [
        c
        for c in executed.cells
        if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
    ]
    code = [c for c in source.cells if c.cell_type == "code"]
    if [c.source for c in code] != [c.source for c in ran]:
        return False
    for cell, done in zip(code, ran, strict=True):
        cell.outputs, cell.execution_count = done.outputs, done.execution_count
    get_cache(str(cache_dir)).cache_notebook_bundle(
        CacheBundleIn(source, str(run.source), data={"execution_seconds": run.seconds}),
        check_validity=False,
        overwrite=True,
    )
    return True


def error_outputs(executed: Path) -> list[str]:
    """``"ename: evalue"`` of every error output of an executed notebook."""
    nb = nbformat.read(executed, as_version=4)
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]


def run_nbval(executed: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Re-run an executed notebook with nbval and compare its ``NBVAL_CHECK_OUTPUT`` cells."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-cell-timeout=600",
        "-p",
        "no:cacheprovider",
        "-c",
        os.devnull,
        "--rootdir",
        str(executed.parent),
        "-q",
        str(executed),
    ]
    return subprocess.run(
        cmd,
        cwd=executed.parent,
        env=smoke_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ------------------------------------------------------------------------- building the book
@dataclass
class Build:
    root: Path
    html: Path
    log: str
    seconds: float


def jupyter_book() -> list[str]:
    script = Path(sys.executable).parent / "jupyter-book"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


def ensure_local_mathjax() -> Path:
    """MathJax 3's es5 folder under _build/mathjax (npm install on first use)."""
    if not (MATHJAX_ES5 / "tex-mml-chtml.js").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "npm is needed once to install MathJax 3 for the offline browser test: install "
                "Node.js, or run `npm install --prefix _build/mathjax mathjax@3` elsewhere and "
                "copy the folder here (`make browser-deps` does it)."
            )
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(MATHJAX_PREFIX),
                "--no-audit",
                "--no-fund",
                "mathjax@3",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return MATHJAX_ES5


def build_book(root: Path, out: Path, strict: bool = True, **env: str) -> Build:
    """``jupyter-book build root -W -n --keep-going --all`` into ``out``; raises with the log.

    ``strict=False`` drops ``-W`` (warnings are then not errors).
    """
    cmd = [*jupyter_book(), "build", str(root), *(["-W"] if strict else []), "-n", "--keep-going"]
    cmd += ["--all"]
    cmd += ["--path-output", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=root, env=smoke_env(**env), capture_output=True, text=True, timeout=3600
    )
    log = proc.stdout + proc.stderr
    if proc.returncode != 0 or "build succeeded" not in log:
        raise AssertionError(f"book build failed (exit {proc.returncode}):\n{log[-8000:]}")
    return Build(root, out / "_build" / "html", log, time.perf_counter() - start)


def execution_cache_dir(root: Path, env: dict[str, str]) -> Path:
    """The cache folder the book's extension will use for ``env`` (same code, same answer)."""
    sys.path.insert(0, str(root / "book" / "_ext"))
    try:
        import oneshot_book
    finally:
        sys.path.pop(0)
    return oneshot_book.execution_cache_dir(root, env)


# ------------------------------------------------------------------------- the session's builds
@dataclass
class MiniBook:
    root: Path
    notebook: Path
    complete: Build  # solutions folded, local MathJax
    student: Build  # no solutions, MathJax from the CDN (the published configuration)


_BUILDS: dict[str, object] = {}


def local_mathjax_or_reason() -> tuple[Path | None, str]:
    try:
        return ensure_local_mathjax(), ""
    except (RuntimeError, subprocess.SubprocessError, OSError) as err:
        return None, str(err)


def real_book_build() -> Build:
    """The book itself in smoke mode, complete edition, local MathJax when available (memoised).

    Every chapter is run by papermill first (memoised, shared with test_notebooks.py) and the
    build's execution cache is primed with those runs, so the build executes nothing itself.
    """
    if "real" not in _BUILDS:
        cache = execution_cache_dir(REPO, smoke_env())
        for notebook in toc_notebooks():
            prime_execution_cache(smoke_run(notebook), cache)
        mathjax, _ = local_mathjax_or_reason()
        extra = {"ONESHOT_STEEL_MATHJAX_DIR": str(mathjax)} if mathjax else {}
        _BUILDS["real"] = build_book(REPO, REPO / "_build" / "test", **extra)
    return _BUILDS["real"]  # type: ignore[return-value]


def mini_book(base: Path) -> MiniBook:
    """The book's configuration and pages plus the model notebook, built twice (memoised).

    ``base`` (a fresh temporary folder) is used by the first call only.
    """
    if "mini" not in _BUILDS:
        root = base / "mini-book"
        root.mkdir(parents=True)
        notebook = make_mini_book(root)
        run = smoke_run(notebook, root)
        if run.error:
            raise AssertionError(f"the model notebook failed in smoke mode: {run.error}")
        prime_execution_cache(run, execution_cache_dir(root, smoke_env()))
        mathjax, _ = local_mathjax_or_reason()
        extra = {"ONESHOT_STEEL_MATHJAX_DIR": str(mathjax)} if mathjax else {}
        complete = build_book(root, root / "_build" / "complete", **extra)
        student = build_book(root, root / "_build" / "student", ONESHOT_STEEL_EDITION="student")
        _BUILDS["mini"] = MiniBook(root, notebook, complete, student)
    return _BUILDS["mini"]  # type: ignore[return-value]


# ------------------------------------------------------------------------- the mini book
def make_mini_book(root: Path, notebook: str = "book/ch99_pipeline_check") -> Path:
    """A copy of the book's configuration and pages plus the model notebook, under ``root``."""
    for name in ("_config.yml",):
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(
        REPO / "book", root / "book", ignore=shutil.ignore_patterns("*.ipynb", "__pycache__")
    )
    nbformat.write(model_notebook(f"{notebook}.ipynb", root), root / f"{notebook}.ipynb")
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    toc.pop("parts", None)
    toc["parts"] = [
        {"caption": "Pipeline check", "chapters": [{"file": notebook}]},
        {
            "caption": "Pages of the book",
            "chapters": [
                {"file": e}
                for e in toc_entries(REPO)[1:]
                if (page_source(e, REPO) or Path()).suffix == ".md"
            ],
        },
    ]
    (root / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    return root / f"{notebook}.ipynb"


# ------------------------------------------------------------------------- the launch book
@dataclass
class LaunchBook:
    root: Path
    chapters: list[Path]  # the complete chapters, as the repository holds them
    complete: Build
    student: Build


def launch_book(base: Path, chapters: tuple[str, ...]) -> LaunchBook:
    """Real chapters of the book in a book of their own, both editions, built without executing.

    The launch buttons and the solutions do not depend on outputs, so the notebooks are not run
    (seconds instead of minutes); the build then warns about glued values it cannot find, hence
    no ``-W`` here. ``base`` must be a fresh folder.
    """
    root = base / "launch-book"
    (root / "book").mkdir(parents=True)
    config = load_config(REPO)
    config["execute"]["execute_notebooks"] = "off"
    (root / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    shutil.copytree(REPO / "book" / "_ext", root / "book" / "_ext")
    shutil.copy2(REPO / "book" / "references.bib", root / "book" / "references.bib")
    (root / "book" / "intro.md").write_text("# Launch check\n\nReal chapters.\n", encoding="utf-8")
    for name in chapters:
        shutil.copy2(REPO / "book" / f"{name}.ipynb", root / "book" / f"{name}.ipynb")
    toc = {
        "format": "jb-book",
        "root": "book/intro",
        "chapters": [{"file": f"book/{name}"} for name in chapters],
    }
    (root / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    complete = build_book(root, root / "_build" / "complete", strict=False)
    student = build_book(
        root, root / "_build" / "student", strict=False, ONESHOT_STEEL_EDITION="student"
    )
    return LaunchBook(root, toc_notebooks(root), complete, student)
