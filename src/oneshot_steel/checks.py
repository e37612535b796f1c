"""Self-checks for the book's coding exercises: a clear pass, a clear fail, or "not yet".

A coding exercise leaves a placeholder for the learner (``answer = ...``) and ends with a check::

    from oneshot_steel.checks import check
    check("ch03.contrastive_loss", my_contrastive_loss)

- a correct answer prints ``✅ pass: ...`` and returns True;
- a placeholder still in place (``...`` or ``None``) prints ``✏️ not answered yet: ...`` and
  returns False, so the executed book (which runs the starter code) shows the prompt, not an error;
- a wrong answer raises :class:`CheckFailed` whose message starts with ``❌ fail:``, names what
  was checked, what was expected and what was received, and gives a hint. In Jupyter it is shown
  without a traceback. Because it raises, a solution cell that calls the same check makes the
  book build fail if the solution is wrong.

The generic checks (:func:`check_close`, :func:`check_equal`, :func:`check_shape`,
:func:`check_true`, :func:`check_function`) take the expected value as an argument.

Adding a chapter's check: append a function at the bottom of this module, decorated with
``@register("chNN.what")``. It receives the learner's value (and any keyword arguments the
notebook passes), computes the expected answer **with the package's own code** (never a number
typed in by hand, which would silently go stale), and returns the result of a generic check::

    @register("ch03.contrastive_loss")
    def _ch03_contrastive_loss(candidate) -> bool:
        from .losses import contrastive_loss
        g = torch.Generator().manual_seed(0)
        distance, same = torch.rand(16, generator=g) * 3, (torch.rand(16, generator=g) < 0.5).float()
        return check_function(candidate, contrastive_loss, [(distance, same)], "contrastive loss",
                              hint="y = 1 means the same class; average over the batch.")

Import heavy modules inside the function, so that importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "CHECKS",
    "CheckFailed",
    "check",
    "check_close",
    "check_equal",
    "check_function",
    "check_shape",
    "check_true",
    "register",
]

PASS, FAIL, TODO = "✅ pass", "❌ fail", "✏️ not answered yet"

#: Named checks: "chNN.what" -> function(value, **kwargs) -> bool. Filled by :func:`register`.
CHECKS: dict[str, Callable[..., bool]] = {}


class CheckFailed(AssertionError):
    """A learner's answer is wrong; the message says what was expected and gives a hint."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message is all a learner needs.
        return [str(self)]


def _unanswered(value: Any) -> bool:
    return value is None or value is Ellipsis


def _todo(what: str) -> bool:
    print(f"{TODO}: {what}. Replace the `...` placeholder with your answer and run the cell again.")
    return False


def _passed(what: str, detail: str = "") -> bool:
    print(f"{PASS}: {what}" + (f" ({detail})" if detail else ""))
    return True


def _fail(what: str, problem: str, hint: str = "") -> None:
    raise CheckFailed(f"{FAIL}: {what}: {problem}" + (f"\nHint: {hint}" if hint else ""))


def _as_array(value: Any) -> np.ndarray:
    """A float64 NumPy copy of a tensor (any device, with or without grad), array or number."""
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu", torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def _short(a: np.ndarray) -> str:
    return np.array2string(a, precision=4, threshold=8, edgeitems=2, suppress_small=True)


def _close_problem(actual: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """What is wrong with ``actual`` as an approximation of ``expected``, or None."""
    try:
        got = _as_array(actual)
    except (TypeError, ValueError):
        return f"expected numbers, got a {type(actual).__name__}"
    want = _as_array(expected)
    if got.shape != want.shape:
        return f"expected shape {tuple(want.shape)}, got shape {tuple(got.shape)}"
    if not np.all(np.isfinite(got) | ~np.isfinite(want)):
        return f"got non-finite values {_short(got)}"
    if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        err = float(np.max(np.abs(got - want))) if got.size else 0.0
        return f"expected {_short(want)}, got {_short(got)} (largest error {err:.3g})"
    return None


def check_close(
    actual: Any, expected: Any, what: str, *, rtol: float = 1e-5, atol: float = 1e-6, hint: str = ""
) -> bool:
    """Pass when ``actual`` has ``expected``'s shape and every entry is close to it."""
    if _unanswered(actual):
        return _todo(what)
    problem = _close_problem(actual, expected, rtol, atol)
    if problem:
        _fail(what, problem, hint)
    return _passed(what)


def check_equal(actual: Any, expected: Any, what: str, *, hint: str = "") -> bool:
    """Pass when ``actual == expected`` (element-wise for tensors and arrays)."""
    if _unanswered(actual):
        return _todo(what)
    if isinstance(actual, torch.Tensor | np.ndarray) or isinstance(
        expected, torch.Tensor | np.ndarray
    ):
        got, want = _as_array(actual), _as_array(expected)
        ok = got.shape == want.shape and bool(np.array_equal(got, want))
    else:
        got, want = actual, expected
        ok = actual == expected
    if not ok:
        _fail(what, f"expected {want!r}, got {got!r}", hint)
    return _passed(what)


def check_shape(actual: Any, expected_shape: Sequence[int], what: str, *, hint: str = "") -> bool:
    """Pass when ``actual`` (a tensor or an array) has the shape ``expected_shape``."""
    if _unanswered(actual):
        return _todo(what)
    shape = getattr(actual, "shape", None)
    if shape is None:
        _fail(what, f"expected a tensor or array, got a {type(actual).__name__}", hint)
    if tuple(shape) != tuple(expected_shape):
        _fail(what, f"expected shape {tuple(expected_shape)}, got {tuple(shape)}", hint)
    return _passed(what, f"shape {tuple(shape)}")


def check_true(
    condition: Any, what: str, *, problem: str = "the condition is false", hint: str = ""
) -> bool:
    """Pass when ``condition`` is true; ``problem`` says what is wrong otherwise."""
    if _unanswered(condition):
        return _todo(what)
    if not bool(condition):
        _fail(what, problem, hint)
    return _passed(what)


def check_function(
    candidate: Any,
    reference: Callable[..., Any],
    inputs: Iterable[Any],
    what: str,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str = "",
) -> bool:
    """Pass when ``candidate(*args)`` is close to ``reference(*args)`` for every ``args``.

    Each item of ``inputs`` is a tuple of positional arguments (a non-tuple is one argument).
    Tensors are cloned for each call, so a function that writes into its input cannot fool it.
    """
    if _unanswered(candidate):
        return _todo(what)
    if not callable(candidate):
        _fail(what, f"expected a function, got a {type(candidate).__name__}", hint)
    count = 0
    for n, args in enumerate(inputs, start=1):
        args = args if isinstance(args, tuple) else (args,)

        def fresh(args: tuple = args) -> tuple:
            return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)

        want = reference(*fresh())
        try:
            got = candidate(*fresh())
        except Exception as err:  # the learner's code raised: report it as a failed check
            _fail(what, f"on test input {n} your function raised {type(err).__name__}: {err}", hint)
        if _unanswered(got):
            _fail(what, f"on test input {n} your function returned {got!r}", hint)
        problem = _close_problem(got, want, rtol, atol)
        if problem:
            _fail(what, f"on test input {n}, {problem}", hint)
        count = n
    return _passed(what, f"{count} test input{'s' * (count != 1)}")


def register(name: str) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    """Decorator adding a named check to :data:`CHECKS` (names must be unique)."""

    def add(fn: Callable[..., bool]) -> Callable[..., bool]:
        if name in CHECKS:
            raise ValueError(f"A check named {name!r} is already registered ({CHECKS[name]}).")
        CHECKS[name] = fn
        return fn

    return add


def check(name: str, value: Any, **kwargs: Any) -> bool:
    """Run the named check on ``value``: see the module docstring for the three outcomes."""
    if name not in CHECKS:
        known = ", ".join(sorted(CHECKS)) or "none yet"
        raise KeyError(f"No check named {name!r}. Known checks: {known}.")
    if _unanswered(value):
        return _todo(name)
    return CHECKS[name](value, **kwargs)


# --------------------------------------------------------------------------------------------
# Chapter checks: append below, one @register function per exercise (see the module docstring).
