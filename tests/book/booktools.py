"""What the book tests share: the config, the toc, the notebook rules, and a model notebook.

The notebook conventions (README.md, "Contributing") are written once here as rules (:func:`notebook_problems`)
and :func:`model_notebook` builds a small notebook that follows all of them, so the machinery can
be tested before (and independently of) the chapters. Running and building: see bookruns.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import yaml

from oneshot_steel.glue import glue_cell_problems, sync_glue_cells
from oneshot_steel.notebook import CHECKPOINTS_PARAMETER, PARAMETERS_CELL, setup_cell

REPO = Path(__file__).resolve().parents[2]
#: The calls that find where a chapter's trained runs are kept (oneshot_steel.runs).
RUN_FOLDER_CALLS = ("runs_dir", "oneshot_run")


# ------------------------------------------------------------------------- config and toc
def load_config(root: Path = REPO) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def repository(root: Path = REPO) -> tuple[str, str]:
    """(url, branch) from _config.yml: the only place that names the repository."""
    repo = load_config(root)["repository"]
    return str(repo["url"]).rstrip("/"), str(repo.get("branch", "main"))


def colab_url(rel_path: str, root: Path = REPO) -> str:
    """The Colab address of the notebook at ``rel_path`` (relative to the repository root)."""
    config = load_config(root)
    url, branch = repository(root)
    org_repo = url.split("github.com/", 1)[1]
    base = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{base}/github/{org_repo}/blob/{branch}/{rel_path}"


_LAUNCH_HREF = re.compile(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)/[^"]+)"')


def launch_links(page: str, root: Path = REPO) -> list[tuple[str, str, str]]:
    """Every Colab and Binder link of the HTML ``page``: (link, branch, notebook path).

    Raises AssertionError for a launch link that opens no notebook of ``root``'s repository.
    """
    slug = re.escape(repository(root)[0].split("github.com/", 1)[1])
    patterns = (
        rf"https://colab\.research\.google\.com/github/{slug}/blob/([^/]+)/(.+)",
        rf"https://mybinder\.org/v2/gh/{slug}/([^?]+)\?urlpath=(?:lab/)?tree/(.+)",
    )
    found = []
    for link in sorted(set(_LAUNCH_HREF.findall(page))):
        link = link.replace("&amp;", "&").replace("%2F", "/")
        match = next((m for p in patterns if (m := re.fullmatch(p, link))), None)
        assert match, f"launch link {link} names no notebook of the repository"
        found.append((link, match.group(1), match.group(2)))
    return found


def toc_entries(root: Path = REPO) -> list[str]:
    """Every ``root``/``file`` entry of _toc.yml, in order, without extension."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    found.append(str(node[key]))
            for value in node.values():
                if isinstance(value, list | dict):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")))
    return found


def page_source(entry: str, root: Path = REPO) -> Path | None:
    for suffix in (".ipynb", ".md"):
        path = root / f"{entry}{suffix}"
        if path.is_file():
            return path
    return None


def toc_notebooks(root: Path = REPO) -> list[Path]:
    """The notebooks listed in _toc.yml (the chapters), in reading order."""
    pages = [page_source(e, root) for e in toc_entries(root)]
    return [p for p in pages if p is not None and p.suffix == ".ipynb"]


# ------------------------------------------------------------------------- a model notebook
def _md(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def _code(text: str, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def model_notebook(rel_path: str, root: Path = REPO) -> nbformat.NotebookNode:
    """A small notebook that follows every notebook convention (hygiene passes on it).

    It carries math, a citation, a figure, deterministic checked output, a self-check, and three
    exercises whose solutions hold the markers SOLUTION-PLAIN, SOLUTION-GATED, SOLUTION-CODE.
    """
    url, branch = repository(root)
    cells = [
        _md(
            f"""
# Chapter 99: Pipeline check

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(rel_path, root)})

## Learning objectives

- See every part of the book's machinery run once.

**Prerequisites:** none. **Time to read:** 1 minute. **Time to run:** seconds (CPU quick mode and
Colab T4 full mode alike).
"""
        ),
        _code(PARAMETERS_CELL, tags=("parameters",)),
        _code(setup_cell(url, branch)),
        _md(
            r"""
## Some mathematics

The contrastive loss {cite}`hadsell2006dimensionality` of the paper {cite}`deshpande2020oneshot`:

$$
L = y \, \frac{1}{2} D^2 + (1 - y) \, \frac{1}{2} \max\{0, m - D\}^2
$$ (eq-pipeline)

Equation {eq}`eq-pipeline` has a margin $m > 0$.
"""
        ),
        _code("# NBVAL_CHECK_OUTPUT\nprint(ctx.mode, ctx.seed, type(ctx.synthetic).__name__)"),
        _code(
            """
from oneshot_steel.notebook import glue

glue("pipeline_share", 100 / 3)  # GLUED-NUMBER: 33.3 in the text
glue("pipeline_mode", ctx.mode)
"""
        ),
        _md(
            "A third is {glue:text}`pipeline_share:.1f` % and this run's mode is "
            "{glue:text}`pipeline_mode`."
        ),
        _code(
            """
import matplotlib.pyplot as plt
import torch

x = torch.linspace(0, 3, 50)
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.plot(x, 0.5 * torch.clamp(2.0 - x, min=0) ** 2, label="different class")
ax.plot(x, 0.5 * x**2, label="same class")
ax.set_xlabel("distance $D$")
ax.legend()
plt.show()
"""
        ),
        _md("## Summary\n\n- The setup cell reports mode, device and data."),
        _md(
            """
## Exercises

```{exercise}
:label: ex-pipeline-plain
Why does the loss of a pair of different classes vanish beyond the margin?
```

```{solution} ex-pipeline-plain
SOLUTION-PLAIN: such a pair is already far enough apart.
```

```{exercise}
:label: ex-pipeline-code
Compute twice the seed.
```
"""
        ),
        _code(
            """
from oneshot_steel.checks import check_equal

answer = ...  # your code here
check_equal(answer, 2 * SEED, "twice the seed")
"""
        ),
        _md("```{solution-start} ex-pipeline-code\n```\nSOLUTION-GATED: multiply by two."),
        _code(
            'answer = 2 * SEED  # SOLUTION-CODE\ncheck_equal(answer, 2 * SEED, "twice the seed")'
        ),
        _md("```{solution-end}\n```"),
        _md(
            """
```{exercise}
:label: ex-pipeline-third
Name the device this notebook ran on.
```

```{solution} ex-pipeline-third
It is printed by the setup cell.
```
"""
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    sync_glue_cells(nb)  # the cell that shows the glued numbers on Colab, as in the chapters
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


# ------------------------------------------------------------------------- notebook hygiene
_ENV_GET = {"MODE": "ONESHOT_STEEL_MODE", "DATA": "ONESHOT_STEEL_DATA"}


def _reads_env(value: ast.expr | None, var: str) -> bool:
    """``value`` is ``os.environ.get("var", ...)``: papermill and the environment both set it."""
    return bool(
        isinstance(value, ast.Call)
        and ast.unparse(value.func) == "os.environ.get"
        and value.args
        and isinstance(value.args[0], ast.Constant)
        and value.args[0].value == var
    )


def parameters_problems(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return [f"the parameters cell is not valid Python ({err})"]
    assigned: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                assigned[target.id] = node.value
    problems = []
    for name, var in _ENV_GET.items():
        if not _reads_env(assigned.get(name), var):
            problems.append(f'the parameters cell must set {name} = os.environ.get("{var}", "")')
    if "CHECKPOINTS" in assigned and not _reads_env(
        assigned["CHECKPOINTS"], "ONESHOT_STEEL_CHECKPOINTS"
    ):
        problems.append(
            "the parameters cell must set "
            'CHECKPOINTS = os.environ.get("ONESHOT_STEEL_CHECKPOINTS", "")'
        )
    seed = assigned.get("SEED")
    if not (isinstance(seed, ast.Constant) and isinstance(seed.value, int)):
        problems.append("the parameters cell must set SEED to an int")
    return problems


def checkpoints_problems(cells: list, params: list[int]) -> list[str]:
    """A chapter that trains (calls runs_dir or oneshot_run) has the CHECKPOINTS parameter and
    honours it."""
    calls = []
    for i, cell in enumerate(cells):
        if cell.cell_type != "code" or not any(f"{f}(" in cell.source for f in RUN_FOLDER_CALLS):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            return [f"cell {i} calls {'/'.join(RUN_FOLDER_CALLS)} but is not plain Python"]
        calls += [
            (i, node)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func) in RUN_FOLDER_CALLS
        ]
    if not calls:
        return []
    problems = []
    if len(params) == 1 and CHECKPOINTS_PARAMETER not in cells[params[0]].source:
        problems.append(
            f"the notebook calls {ast.unparse(calls[0][1].func)}, so its parameters cell must "
            f"have the line {CHECKPOINTS_PARAMETER!r} (oneshot_steel.notebook.CHECKPOINTS_PARAMETER)"
        )
    for i, call in calls:
        passed = {k.arg: ast.unparse(k.value) for k in call.keywords}
        if passed.get("checkpoints") != "CHECKPOINTS":
            name = ast.unparse(call.func)
            problems.append(f"cell {i}: {name}(...) must pass checkpoints=CHECKPOINTS")
    return problems


def notebook_problems(path: Path, root: Path = REPO) -> list[str]:
    """Every way the notebook at ``path`` breaks the notebook conventions (empty: none)."""
    nb = nbformat.read(path, as_version=4)
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    url, branch = repository(root)
    problems: list[str] = []
    cells = nb.cells
    code = [(i, c) for i, c in enumerate(cells) if c.cell_type == "code"]
    markdown = "\n\n".join(c.source for c in cells if c.cell_type == "markdown")

    for i, cell in code:
        if cell.get("outputs"):
            problems.append(f"cell {i} is stored with outputs (clear them before committing)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i} is stored with an execution count")
        if re.search(r"\.cuda\s*\(", cell.source):
            problems.append(f"cell {i} calls .cuda(); use .to(device) with ctx.device")
        if "NBVAL_CHECK_OUTPUT" in cell.source and not cell.source.startswith(
            "# NBVAL_CHECK_OUTPUT"
        ):
            problems.append(f"cell {i}: '# NBVAL_CHECK_OUTPUT' must be the first line")

    params = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1:
        problems.append(f"exactly one cell must be tagged 'parameters', found {len(params)}")
    elif cells[params[0]].cell_type != "code":
        problems.append("the 'parameters' cell must be a code cell")
    else:
        problems += parameters_problems(cells[params[0]].source)

    problems += checkpoints_problems(cells, params)
    problems += glue_cell_problems(nb)

    expected_setup = setup_cell(url, branch).strip()
    setups = [i for i, c in code if c.source.strip() == expected_setup]
    if len(setups) != 1:
        problems.append(
            "the notebook must contain the canonical setup cell exactly once "
            "(oneshot_steel.notebook.SETUP_CELL, installing from _config.yml's repository)"
        )
    elif len(params) == 1:
        after = [i for i, _ in code if i > params[0]]
        if not after or after[0] != setups[0]:
            problems.append("the setup cell must be the first code cell after the parameters cell")

    first = cells[0].source if cells and cells[0].cell_type == "markdown" else ""
    if not re.match(r"# Chapter \d+: \S", first):
        problems.append("the first cell must be Markdown starting with '# Chapter N: Title'")
    if colab_url(rel, root) not in first:
        problems.append(
            f"the first cell must hold the Open-in-Colab badge linking to {colab_url(rel, root)}"
        )
    for needed in ("Prerequisites", "Time to read", "Time to run"):
        if needed not in first:
            problems.append(f"the first cell must say '{needed}'")
    headings = re.findall(r"^##\s+(.+?)\s*$", markdown, flags=re.M)
    for heading in ("Learning objectives", "Summary", "Exercises"):
        if heading not in headings:
            problems.append(f"missing the heading '## {heading}'")
    if (
        "Summary" in headings
        and "Exercises" in headings
        and headings.index("Summary") > headings.index("Exercises")
    ):
        problems.append("'## Summary' must come before '## Exercises'")
    exercises = re.findall(r"```\{exercise(?:-start)?\}[^\n]*\n\s*:label:\s*(\S+)", markdown)
    if not 3 <= len(exercises) <= 5:
        problems.append(f"3 to 5 exercises with a :label: expected, found {len(exercises)}")
    solved = set(re.findall(r"```\{solution(?:-start)?\}\s*(\S+)", markdown))
    for label in exercises:
        if label not in solved:
            problems.append(f"exercise {label!r} has no solution")
    if not any(
        re.search(r"oneshot_steel\.checks|from oneshot_steel import checks", c.source)
        for _, c in code
    ):
        problems.append("no coding exercise is checked with a helper from oneshot_steel.checks")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("the kernelspec must be 'python3' (Colab, papermill and the cache use it)")
    return problems
