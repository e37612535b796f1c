"""The repository is named once (_config.yml), and every launch link leads to a real notebook.

The student edition's links open the student notebooks: see also test_student_notebooks.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from bookruns import (
    MiniBook,
    mini_book,
    real_book_build,
)
from booktools import (
    REPO,
    colab_url,
    launch_links,
    load_config,
    page_source,
    repository,
    toc_entries,
    toc_notebooks,
)

import oneshot_steel.notebook as helper
from oneshot_steel.student import STUDENT_BRANCH, write_student_notebooks

CHAPTERS = toc_notebooks()
COLAB_HREF = re.compile(r'href="(https://colab\.research\.google\.com/github/[^"]+)"')
BINDER_HREF = re.compile(r'href="(https://mybinder\.org/v2/gh/[^"]+)"')


def test_repository_is_named_in_config_only() -> None:
    url, branch = repository()
    assert url.startswith("https://github.com/") and branch
    # pyproject.toml cannot read _config.yml; its Homepage must agree with it.
    homepage = re.search(
        r'^Homepage\s*=\s*"([^"]+)"', (REPO / "pyproject.toml").read_text(encoding="utf-8"), re.M
    )
    assert homepage and homepage.group(1).rstrip("/") == url
    # Code, tests, workflows and prose read it from _config.yml instead of repeating it.
    slug = url.split("github.com/", 1)[1]
    files = [
        *(REPO / "src").rglob("*.py"),
        *(REPO / "tests").rglob("*.py"),
        *(REPO / "book").glob("*.md"),
        *(REPO / "book" / "_ext").glob("*.py"),
        *(REPO / ".github" / "workflows").glob("*.yml"),
        REPO / "Makefile",
        REPO / "_toc.yml",
    ]
    repeating = [str(p.relative_to(REPO)) for p in files if p.is_file() and slug in p.read_text()]
    assert not repeating, f"{slug} is spelled out in {repeating}; read _config.yml instead"


def test_helper_reads_the_repository_from_config() -> None:
    url, branch = repository()
    assert helper.repository() == (url, branch)
    assert f'"oneshot-steel @ git+{url}@{branch}"' in helper.SETUP_CELL
    assert helper.setup_cell(url, branch) == helper.SETUP_CELL


def _install_targets(notebook: Path) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)
    lines = [
        line
        for cell in nb.cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if re.search(r"\bpip\s+install\b", line)
    ]
    return [m for line in lines for m in re.findall(r"git\+(\S+?)[\"'\s]", line + " ")]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_install_line_matches_config(notebook: Path) -> None:
    url, branch = repository()
    targets = _install_targets(notebook)
    assert targets, f"{notebook.name} installs nothing from git: the setup cell is missing"
    assert set(targets) == {f"{url}@{branch}"}, f"{notebook.name} installs from {targets}"


def _check_launch_links(html: Path, root: Path) -> int:
    """Every notebook page links to Colab and Binder at its own path; return the count."""
    config = load_config(root)
    url, branch = repository(root)
    checked = 0
    for entry in toc_entries(root):
        source = page_source(entry, root)
        page = (html / f"{entry}.html").read_text(encoding="utf-8")
        colab = set(COLAB_HREF.findall(page))
        if source is None or source.suffix != ".ipynb":
            assert not colab, f"{entry}: a Markdown page has Colab links {colab}"
            continue
        rel = source.relative_to(root).as_posix()
        assert colab == {colab_url(rel, root)}, f"{entry}: Colab links {colab}"
        for link in colab:  # the path after blob/<branch>/ must exist in the repository
            path = link.split(f"/blob/{branch}/", 1)[1]
            assert (root / path).is_file(), f"{entry}: Colab opens {path}, which does not exist"
        if config["launch_buttons"].get("binderhub_url"):
            binder = BINDER_HREF.findall(page)
            slug = url.split("github.com/", 1)[1]
            assert binder, f"{entry}: no Binder link"
            for link in binder:
                link = link.replace("&amp;", "&")
                assert link.startswith(f"https://mybinder.org/v2/gh/{slug}/{branch}?"), link
                target = re.search(r"urlpath=(?:lab/)?tree/([^&]+)", link.replace("%2F", "/"))
                assert target, f"{entry}: Binder link {link} opens no notebook"
                assert target.group(1) == rel, f"{entry}: Binder opens {target.group(1)}"
        checked += 1
    return checked


def test_built_launch_links_resolve() -> None:
    build = real_book_build()
    assert _check_launch_links(build.html, REPO) == len(CHAPTERS)


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> MiniBook:
    return mini_book(tmp_path_factory.mktemp("book"))


def test_model_notebook_launch_links_resolve(mini: MiniBook) -> None:
    assert _check_launch_links(mini.complete.html, mini.root) == 1
    url, branch = repository(mini.root)
    assert _install_targets(mini.notebook) == [f"{url}@{branch}"]


def test_model_notebook_student_links_open_the_student_notebook(
    mini: MiniBook, tmp_path: Path
) -> None:
    # The student edition opens the same path on the student branch, where the book workflow
    # publishes `make student-notebooks`; the copy holds the exercises and none of the solutions.
    out = tmp_path / "student-notebooks"
    write_student_notebooks(mini.root, out)
    rel = mini.notebook.relative_to(mini.root).as_posix()
    page = (mini.student.html / rel).with_suffix(".html").read_text(encoding="utf-8")
    links = launch_links(page, mini.root)
    assert len({link for link, _, _ in links}) == 2, links  # Colab (button and badge), Binder
    for link, branch, path in links:
        assert (branch, path) == (STUDENT_BRANCH, rel), link
        text = (out / path).read_text(encoding="utf-8")
        for marker in ("SOLUTION-PLAIN", "SOLUTION-GATED", "SOLUTION-CODE"):
            assert marker in mini.notebook.read_text(encoding="utf-8")
            assert marker not in text, f"{link} opens a notebook holding {marker}"
        assert "Compute twice the seed." in text
