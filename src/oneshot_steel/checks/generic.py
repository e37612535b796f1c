"""What every check is built from: the three outcomes, :class:`CheckResult`,
:class:`CheckFailed`, and the generic checks, which take the expected value as an argument.

The chapters' named checks (:mod:`.foundations`, :mod:`.reproducing_the_paper`,
:mod:`.beyond_the_paper`) build on these and register themselves in :mod:`.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "CheckFailed",
    "CheckResult",
    "check_close",
    "check_equal",
    "check_function",
    "check_shape",
    "check_true",
]

PASS, FAIL, TODO = "✅ pass", "❌ fail", "✏️ not answered yet"


class CheckResult:
    """The outcome of a check: true when it passed. Jupyter shows only the printed message."""

    def __init__(self, passed: bool, message: str) -> None:
        self.passed, self.message = passed, message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed}, message={self.message!r})"

    def _ipython_display_(self) -> None:
        pass  # the message is printed already; an extra "True"/"False" line would only confuse


class CheckFailed(AssertionError):
    """A learner's answer is wrong; the message says what was expected and gives a hint."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message is all a learner needs.
        return [str(self)]


def _unanswered(value: Any) -> bool:
    return value is None or value is Ellipsis


def _todo(what: str) -> CheckResult:
    message = (
        f"{TODO}: {what}. Replace the `...` placeholder with your answer and run the cell again."
    )
    print(message)
    return CheckResult(False, message)


def _passed(what: str, detail: str = "") -> CheckResult:
    message = f"{PASS}: {what}" + (f" ({detail})" if detail else "")
    print(message)
    return CheckResult(True, message)


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
) -> CheckResult:
    """Pass when ``actual`` has ``expected``'s shape and every entry is close to it."""
    if _unanswered(actual):
        return _todo(what)
    problem = _close_problem(actual, expected, rtol, atol)
    if problem:
        _fail(what, problem, hint)
    return _passed(what)


def check_equal(actual: Any, expected: Any, what: str, *, hint: str = "") -> CheckResult:
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


def check_shape(
    actual: Any, expected_shape: Sequence[int], what: str, *, hint: str = ""
) -> CheckResult:
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
) -> CheckResult:
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
) -> CheckResult:
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


def _call(candidate: Any, what: str, hint: str, *args: Any) -> Any:
    """``candidate(*args)``, turning a learner's exception or placeholder into a failed check."""
    if not callable(candidate):
        _fail(what, f"expected a function, got a {type(candidate).__name__}", hint)
    try:
        result = candidate(*args)
    except Exception as err:  # the learner's code raised: report it as a failed check
        _fail(what, f"your function raised {type(err).__name__}: {err}", hint)
    if _unanswered(result):
        _fail(what, f"your function returned {result!r}", hint)
    return result
