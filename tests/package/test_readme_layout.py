"""The README's layout table names every module of the package, so that "where is X" is
answered by reading it (a new module without a row fails here)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    package = ROOT / "src" / "oneshot_steel"
    modules = [
        p.relative_to(package).as_posix()
        for p in sorted(package.rglob("*.py"))
        if p.name != "__init__.py"
    ]
    missing = [m for m in modules if f"`{m}`" not in readme and f"`{Path(m).name}`" not in readme]
    assert not missing, f"README.md's layout table lacks a row for {missing}"
