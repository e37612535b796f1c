"""The book builds with warnings as errors, and renders in a real (headless) browser, offline.

Two sites are checked: the book itself (smoke mode, every chapter of _toc.yml) and a mini book
made of the same configuration and pages plus a model notebook (booktools.model_notebook), so
the machinery is tested before the chapters exist. Chromium is driven over the DevTools protocol
(tests/browser.py) against a local HTTP server, with every host but 127.0.0.1 unreachable.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from bookruns import (
    Build,
    MiniBook,
    build_book,
    local_mathjax_or_reason,
    make_mini_book,
    mini_book,
    real_book_build,
    smoke_run,
)
from booktools import (
    REPO,
    colab_url,
    page_source,
    toc_entries,
    toc_notebooks,
)
from browser import Browser, StaticServer, find_chromium

# External images allowed on pages (they cannot load offline): the Open-in-Colab badge only.
EXTERNAL_IMAGES = ("https://colab.research.google.com/assets/colab-badge.svg",)
SOLUTION_MARKERS = ("SOLUTION-PLAIN", "SOLUTION-GATED", "SOLUTION-CODE")

PAGE_CHECK = r"""
(async () => {
  const images = Array.from(document.images);
  images.forEach(img => { img.loading = "eager"; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done); setTimeout(done, 15000);
  })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const article = document.querySelector("article") || document.body;
  const skip = new Set(["PRE", "CODE", "SCRIPT", "STYLE", "TEXTAREA", "MJX-CONTAINER"]);
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {acceptNode(node) {
    for (let e = node.parentElement; e && e !== article; e = e.parentElement) {
      if (skip.has(e.tagName)) return NodeFilter.FILTER_REJECT;
    }
    return NodeFilter.FILTER_ACCEPT;
  }});
  const raw = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const d of ["$$", "\\[", "\\(", "\\begin{"]) {
      if (node.nodeValue.includes(d)) raw.push(node.nodeValue.trim().slice(0, 80));
    }
  }
  const math = Array.from(document.querySelectorAll(".math"));
  return {
    mathjaxVersion: window.MathJax && MathJax.version ? MathJax.version : null,
    mathjaxScripts: Array.from(document.scripts).map(s => s.src).filter(s => /mathjax/i.test(s)),
    mathNodes: math.length,
    unrendered: math.filter(m => !m.querySelector("mjx-container")).map(m => m.textContent.slice(0, 80)),
    raw: raw,
    images: images.map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth})),
    errors: Array.from(document.querySelectorAll(
      ".traceback, .output.error, .system-message, .problematic")).map(e => e.textContent.slice(0, 300)),
    colab: Array.from(document.querySelectorAll('a[href*="colab.research.google.com/github/"]'))
      .map(a => a.href),
  };
})()
"""


# --------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def real_book() -> Build:
    return real_book_build()


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> MiniBook:
    return mini_book(tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        pytest.fail(
            "No Chromium found: run `make browser-deps` (apt-get install chromium), or set "
            "ONESHOT_STEEL_CHROMIUM to a Chromium or Chrome executable."
        )
    chromium = Browser(executable)
    yield chromium
    chromium.close()


# --------------------------------------------------------------------- builds
def test_book_builds_with_warnings_as_errors(real_book: Build) -> None:
    for entry in toc_entries():
        assert page_source(entry) is not None, f"_toc.yml lists {entry!r}, which does not exist"
        assert (real_book.html / f"{entry}.html").is_file(), f"{entry} was not built"
    assert "build succeeded" in real_book.log


def test_book_build_reuses_the_smoke_runs(real_book: Build) -> None:
    # The papermill runs primed the execution cache: the build itself executes nothing.
    executed = re.findall(r"(\S+\.ipynb): Executing notebook", real_book.log)
    assert not executed, f"the build re-executed {executed}: priming the cache failed"
    for notebook in toc_notebooks():
        assert f"{notebook}: Using cached notebook" in real_book.log


def test_mini_book_builds_from_the_primed_cache(mini: MiniBook) -> None:
    for build in (mini.complete, mini.student):
        assert "Executing notebook" not in build.log
        assert (build.html / "book" / f"{mini.notebook.stem}.html").is_file()


def test_failing_cell_fails_the_build(tmp_path: Path) -> None:
    root = tmp_path / "broken"
    root.mkdir()
    notebook = make_mini_book(root, "book/ch98_broken")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell('raise ValueError("broken on purpose")'))
    nbformat.write(nb, notebook)
    with pytest.raises(AssertionError, match="broken on purpose"):
        build_book(root, root / "_build" / "out")


def test_smoke_run_labels_its_glued_numbers_and_hides_the_colab_box(mini: MiniBook) -> None:
    """The mini book runs in smoke mode: its glued number says so; the Colab box is not shown."""
    page = (mini.complete.html / "book" / f"{mini.notebook.stem}.html").read_text(encoding="utf-8")
    assert re.search(
        r'<span class="pasted-text">33\.3</span><sup class="oneshot-mode-label">'
        r'<abbr title="smoke mode:[^"]*">smoke</abbr></sup>',
        page,
    ), "the glued 33.3 of a smoke run carries no label"
    # A glued word is not a number: no label. The show_glued cell (for Colab) is removed.
    assert '<span class="pasted-text">smoke</span>.' in page
    assert "show_glued" not in page and "Numbers in the text above" not in page
    assert page.count('class="oneshot-mode-note"') >= 1  # under the figure


# --------------------------------------------------------------------- editions
def test_solutions_only_in_the_complete_edition(mini: MiniBook) -> None:
    page = f"book/{mini.notebook.stem}.html"
    complete = (mini.complete.html / page).read_text(encoding="utf-8")
    student = (mini.student.html / page).read_text(encoding="utf-8")
    for marker in SOLUTION_MARKERS:
        assert marker in complete, f"{marker} missing from the complete edition"
        assert marker not in student, f"{marker} leaked into the student edition"
    for text in ("Compute twice the seed.", "Name the device this notebook ran on."):
        assert text in complete and text in student
    # Folded in the complete edition: every solution admonition is a dropdown.
    solutions = re.findall(r'<div class="([^"]*\bsolution\b[^"]*)"', complete)
    assert len(solutions) == 3 and all("dropdown" in c.split() for c in solutions)


def test_published_configuration_uses_the_mathjax_cdn(mini: MiniBook) -> None:
    intro = (mini.student.html / "book" / "intro.html").read_text(encoding="utf-8")
    assert re.search(r'<script[^>]+src="https://cdn\.jsdelivr\.net/npm/mathjax@3/', intro)
    assert not (mini.student.html / "_static" / "mathjax").exists()


# --------------------------------------------------------------------- the browser
def _check_site(browser: Browser, html: Path, root: Path) -> dict[str, dict]:
    """Open every page of ``root``'s toc from ``html``; fail on anything a reader would see."""
    mathjax, reason = local_mathjax_or_reason()
    assert mathjax is not None, f"no local MathJax for the offline browser test: {reason}"
    server = StaticServer(html)
    results: dict[str, dict] = {}
    try:
        for entry in toc_entries(root):
            source = page_source(entry, root)
            assert source is not None
            page = browser.open(f"{server.url}/{entry}.html")
            try:
                info = page.evaluate(PAGE_CHECK)
                failed = [
                    u
                    for u in page.failed_requests()
                    if u.startswith(server.url) and not u.endswith("/favicon.ico")
                ]
            finally:
                page.close()
            where = f"{entry}.html"
            assert not info["errors"], f"{where} shows errors: {info['errors']}"
            assert not info["unrendered"], f"{where}: MathJax left {info['unrendered']}"
            assert not info["raw"], f"{where}: raw TeX visible in the text: {info['raw']}"
            if info["mathNodes"]:
                assert info["mathjaxVersion"], f"{where}: MathJax did not start"
                assert info["mathjaxScripts"], f"{where}: no MathJax script"
                for src in info["mathjaxScripts"]:
                    assert src.startswith(f"{server.url}/_static/mathjax/"), (
                        f"{where}: MathJax came from {src}, not the local copy"
                    )
            for img in info["images"]:
                if img["src"].startswith(server.url):
                    assert img["width"] > 0, f"{where}: image {img['src']} did not load"
                else:
                    assert img["src"] in EXTERNAL_IMAGES, f"{where}: external image {img['src']}"
            assert not failed, f"{where}: local files failed to load: {failed}"
            if source.suffix == ".ipynb":
                rel = source.relative_to(root).as_posix()
                assert set(info["colab"]) == {colab_url(rel, root)}, (
                    f"{where}: Colab links {info['colab']} should all be {colab_url(rel, root)}"
                )
            results[entry] = info
    finally:
        server.close()
    return results


@pytest.mark.browser
def test_book_renders_in_a_browser(browser: Browser, real_book: Build) -> None:
    results = _check_site(browser, real_book.html, REPO)
    intro = results[toc_entries()[0]]
    assert intro["mathNodes"] > 0, "the introduction's equation was not found"


@pytest.mark.browser
def test_mini_book_renders_in_a_browser(browser: Browser, mini: MiniBook) -> None:
    results = _check_site(browser, mini.complete.html, mini.root)
    chapter = results[f"book/{mini.notebook.stem}"]
    assert chapter["mathNodes"] >= 2  # display equation and inline math
    local = [i for i in chapter["images"] if i["src"].startswith("http://127.0.0.1")]
    assert any("jupyter_execute" in i["src"] or "_images" in i["src"] for i in local), (
        "the matplotlib figure of the model notebook is missing"
    )
    assert smoke_run(mini.notebook, mini.root).error == ""


# --------------------------------------------------------------------- the checks catch faults
@pytest.mark.browser
def test_browser_check_catches_math_that_cannot_render(browser: Browser, mini: MiniBook) -> None:
    # The student build loads MathJax from its CDN, which the offline browser cannot reach.
    with pytest.raises(AssertionError, match="MathJax"):
        _check_site(browser, mini.student.html, mini.root)


@pytest.fixture
def tampered(mini: MiniBook, tmp_path: Path) -> Path:
    html = tmp_path / "html"
    shutil.copytree(mini.complete.html, html)
    return html


@pytest.mark.browser
def test_browser_check_catches_a_missing_image(
    browser: Browser, mini: MiniBook, tampered: Path
) -> None:
    page = tampered / "book" / f"{mini.notebook.stem}.html"
    images = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+)"', page.read_text(encoding="utf-8"))
    assert images, "the model notebook's figure is not in the page"
    (page.parent / images[0]).unlink()
    with pytest.raises(AssertionError, match="did not load"):
        _check_site(browser, tampered, mini.root)


@pytest.mark.browser
def test_browser_check_catches_an_error_output(
    browser: Browser, mini: MiniBook, tampered: Path
) -> None:
    page = tampered / "book" / f"{mini.notebook.stem}.html"
    text = page.read_text(encoding="utf-8")
    error = '<div class="output traceback"><pre>ZeroDivisionError: boom</pre></div>'
    page.write_text(text.replace("<h2>Summary", error + "<h2>Summary", 1), encoding="utf-8")
    with pytest.raises(AssertionError, match="shows errors.*ZeroDivisionError"):
        _check_site(browser, tampered, mini.root)
