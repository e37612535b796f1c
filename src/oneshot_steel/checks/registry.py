"""The named checks: the registry :data:`CHECKS`, :func:`register` and :func:`check`.

A chapter's check is registered under ``"chNN.what"`` by the module of the book's part that
holds it; notebooks run it with ``check("chNN.what", value)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .generic import CheckResult, _todo, _unanswered

__all__ = ["CHECKS", "check", "register"]

#: Named checks: "chNN.what" -> function(value, **kwargs) -> CheckResult. See :func:`register`.
CHECKS: dict[str, Callable[..., CheckResult]] = {}


def register(name: str) -> Callable[[Callable[..., CheckResult]], Callable[..., CheckResult]]:
    """Decorator adding a named check to :data:`CHECKS` (names must be unique)."""

    def add(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        if name in CHECKS:
            raise ValueError(f"A check named {name!r} is already registered ({CHECKS[name]}).")
        CHECKS[name] = fn
        return fn

    return add


def check(name: str, value: Any, **kwargs: Any) -> CheckResult:
    """Run the named check on ``value``: see the module docstring for the three outcomes."""
    if name not in CHECKS:
        known = ", ".join(sorted(CHECKS)) or "none yet"
        raise KeyError(f"No check named {name!r}. Known checks: {known}.")
    if _unanswered(value):
        return _todo(name)
    return CHECKS[name](value, **kwargs)
