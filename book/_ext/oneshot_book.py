"""Sphinx extension for the One-Shot Steel book: the build settings that change between builds.

_config.yml describes the published book. What differs between builds is read here from the
environment, so that no build needs an edited copy of _config.yml:

``ONESHOT_STEEL_EDITION``
    ``student``: every exercise solution is left out (a course hand-out), gated solutions with
    their code cells included. Anything else, or unset: the complete edition, where each solution
    is folded in a dropdown so that a learner working alone sees it only on request.
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
    app.connect("doctree-read", _solutions, priority=900)
    app.connect("build-finished", _copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
