"""Sphinx extension for the One-Shot Steel book: the build settings that change between builds.

_config.yml describes the published book. What differs between builds is read here from the
environment, so that no build needs an edited copy of _config.yml:

``ONESHOT_STEEL_EDITION``
    ``student``: every exercise solution is left out (a course hand-out), gated solutions with
    their code cells included, and the Colab and Binder buttons (and the chapters' Open-in-Colab
    badges) open the student notebooks, the chapters without solutions that the book workflow
    publishes to the branch ``oneshot_steel.student.STUDENT_BRANCH`` of the same repository
    (``make student-notebooks``); "edit this page" still opens the chapter on _config.yml's
    branch. Anything else, or unset: the complete edition, where each solution is folded in a
    dropdown so that a learner working alone sees it only on request.
``ONESHOT_STEEL_MATHJAX_DIR``
    A folder holding MathJax 3's ``es5`` build (``npm install --prefix _build/mathjax mathjax@3``
    puts one at ``_build/mathjax/node_modules/mathjax/es5``). It is copied into the site's
    ``_static/mathjax`` and used instead of the CDN: the offline browser test needs it. Unset (the
    published book): MathJax comes from its CDN, as Sphinx does by default.
``ONESHOT_STEEL_EXECUTION_CACHE``
    The jupyter-cache folder. Unset: ``_build/.jupyter_cache/<mode>-<data>-<package hash>``
    under the repository (``<data>``: ``synthetic``, ``default``, or a digest of the data
    folder's path), because jupyter-cache keys on a notebook's code only and would otherwise
    serve smoke-mode outputs to a full-mode build, synthetic-data outputs to a real-data build,
    or outputs computed by an older version of the package. An explicit
    ``execute.cache`` in _config.yml wins over both.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

MATHJAX_ENTRY = "tex-mml-chtml.js"  # the bundle Sphinx loads from the CDN by default
MATHJAX_STATIC = "mathjax"  # folder under the site's _static


def package_hash(repo: Path) -> str:
    """A short digest of the package's Python sources: the outputs depend on them."""
    digest = hashlib.sha256()
    src = repo / "src" / "oneshot_steel"
    for path in sorted(src.rglob("*.py")):
        digest.update(path.relative_to(src).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def execution_cache_dir(repo: Path, env: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """The jupyter-cache folder for the mode and data the notebooks will see in ``env``."""
    explicit = env.get("ONESHOT_STEEL_EXECUTION_CACHE", "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    mode = env.get("ONESHOT_STEEL_MODE", "").strip().lower() or "auto"
    data = env.get("ONESHOT_STEEL_DATA", "").strip()
    if data.lower() in ("", "synthetic"):
        data_tag = data.lower() or "default"
    else:  # one folder of images is not another: key on where it is
        where = str(Path(data).expanduser().resolve())
        data_tag = "data" + hashlib.sha256(where.encode()).hexdigest()[:8]
    return repo / "_build" / ".jupyter_cache" / f"{mode}-{data_tag}-{package_hash(repo)}"


def _configure(app: Sphinx, config: Config) -> None:
    repo = Path(app.srcdir).resolve()
    if not config.nb_execution_cache_path:
        config.nb_execution_cache_path = str(execution_cache_dir(repo))
        LOGGER.info("[oneshot_book] jupyter-cache: %s", config.nb_execution_cache_path)

    edition = os.environ.get("ONESHOT_STEEL_EDITION", "").strip().lower()
    app.oneshot_student = edition == "student"  # type: ignore[attr-defined]
    LOGGER.info("[oneshot_book] edition: %s", "student" if app.oneshot_student else "complete")
    if app.oneshot_student:
        _launch_student_branch(app, config)

    mathjax_dir = os.environ.get("ONESHOT_STEEL_MATHJAX_DIR", "").strip()
    if mathjax_dir:
        entry = Path(mathjax_dir).expanduser().resolve() / MATHJAX_ENTRY
        if not entry.is_file():
            raise FileNotFoundError(
                f"ONESHOT_STEEL_MATHJAX_DIR={mathjax_dir!r} holds no {MATHJAX_ENTRY}: point it at "
                "MathJax 3's es5 folder, e.g. after `npm install --prefix _build/mathjax "
                "mathjax@3` use _build/mathjax/node_modules/mathjax/es5, or unset it to use the CDN."
            )
        # Relative to the site's _static folder (Sphinx's rule for a local mathjax_path).
        config.mathjax_path = f"{MATHJAX_STATIC}/{MATHJAX_ENTRY}"
        app.oneshot_mathjax_dir = entry.parent  # type: ignore[attr-defined]


def _launch_student_branch(app: Sphinx, config: Config) -> None:
    """Student edition: the launch buttons open the student notebooks' branch.

    sphinx-book-theme builds the Colab and Binder URLs from ``html_theme_options``
    (``repository_url``, ``repository_branch``, ``path_to_docs``), which Jupyter Book fills from
    _config.yml's ``repository``; only the branch changes, so the paths stay ``book/chNN_x.ipynb``.
    """
    from oneshot_steel.student import STUDENT_BRANCH

    options = dict(config.html_theme_options or {})
    source = str(options.get("repository_branch") or "main")
    options["repository_branch"] = STUDENT_BRANCH
    config.html_theme_options = options
    app.oneshot_branches = (source, STUDENT_BRANCH)  # type: ignore[attr-defined]
    LOGGER.info("[oneshot_book] launch buttons open the branch %r", STUDENT_BRANCH)


def _edit_on_source_branch(app: Sphinx) -> None:
    """Student edition: "edit this page" still edits the chapter, on _config.yml's branch.

    The theme copies ``repository_branch`` into ``html_context`` (``builder-inited``, priority
    500), where the edit button reads it; this handler runs after it.
    """
    branches = getattr(app, "oneshot_branches", None)
    if branches is not None and "github_version" in app.config.html_context:
        app.config.html_context["github_version"] = branches[0]


def _launch_prefixes(app: Sphinx, branch: str) -> list[str]:
    """The start of every Colab and Binder URL of the repository at ``branch``."""
    options = app.config.html_theme_options or {}
    slug = str(options.get("repository_url", "")).rstrip("/").split("github.com/", 1)[-1]
    buttons = options.get("launch_buttons") or {}
    colab = str(buttons.get("colab_url") or "https://colab.research.google.com").rstrip("/")
    binder = str(buttons.get("binderhub_url") or "https://mybinder.org").rstrip("/")
    return [f"{colab}/github/{slug}/blob/{branch}/", f"{binder}/v2/gh/{slug}/{branch}"]


def _relink_launches(app: Sphinx, doctree: nodes.document) -> None:
    """Student edition: links in the pages (the chapters' Open-in-Colab badges) that open a
    notebook on the source branch open the student notebook instead."""
    branches = getattr(app, "oneshot_branches", None)
    if branches is None:
        return
    source, student = branches
    pairs = list(zip(_launch_prefixes(app, source), _launch_prefixes(app, student), strict=True))
    for ref in doctree.findall(nodes.reference):
        uri = ref.get("refuri", "")
        for old, new in pairs:
            rest = uri[len(old) :]
            if uri.startswith(old) and (old.endswith("/") or rest[:1] in ("", "/", "?")):
                ref["refuri"] = new + rest
                break


def _solutions(app: Sphinx, doctree: nodes.document) -> None:
    """Student edition: remove every solution. Complete edition: fold each one in a dropdown.

    sphinx-exercise's own ``hide_solutions`` leaves the end marker of gated solutions
    (solution-start / solution-end around code cells) in the tree and the HTML writer then
    fails, so the removal happens here, after sphinx-exercise has merged gated solutions into
    ordinary solution nodes (its transforms run before ``doctree-read``).
    """
    from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node

    found = list(doctree.findall(lambda n: isinstance(n, solution_node | solution_start_node)))
    if getattr(app, "oneshot_student", False):
        for node in found + list(doctree.findall(solution_end_node)):
            node.parent.remove(node)
        return
    for node in found:
        if "dropdown" not in node["classes"]:
            node["classes"].append("dropdown")


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    source = getattr(app, "oneshot_mathjax_dir", None)
    if exception is not None or source is None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / MATHJAX_STATIC
    shutil.copytree(source, target, dirs_exist_ok=True)
    LOGGER.info("[oneshot_book] local MathJax copied to %s", target)


def setup(app: Sphinx) -> dict[str, Any]:
    # Priority 900: after the defaults of myst-nb and sphinx-exercise are in place.
    app.connect("config-inited", _configure, priority=900)
    app.connect("builder-inited", _edit_on_source_branch, priority=900)
    app.connect("doctree-read", _solutions, priority=900)
    app.connect("doctree-read", _relink_launches, priority=900)
    app.connect("build-finished", _copy_mathjax)
    app.setup_extension("oneshot_mode_labels")  # numbers of a smoke or quick run say so in place
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
