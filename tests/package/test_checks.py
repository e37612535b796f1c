"""The exercise self-checks: a clear pass, a clear fail with a hint, or "not answered yet"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oneshot_steel import checks
from oneshot_steel.checks import (
    CheckFailed,
    check,
    check_close,
    check_equal,
    check_function,
    check_shape,
    check_true,
    register,
)


def test_close_passes_and_prints(capsys: pytest.CaptureFixture[str]) -> None:
    result = check_close(torch.tensor([1.0, 2.0], requires_grad=True) * 1, [1.0, 2.0], "a vector")
    assert result and result.passed
    assert capsys.readouterr().out.strip() == "✅ pass: a vector"


@pytest.mark.parametrize("placeholder", [..., None])
def test_placeholder_is_not_an_error(placeholder, capsys: pytest.CaptureFixture[str]) -> None:
    for result in (
        check_close(placeholder, 1.0, "x"),
        check_equal(placeholder, 1, "x"),
        check_shape(placeholder, (1,), "x"),
        check_true(placeholder, "x"),
        check_function(placeholder, abs, [1.0], "x"),
    ):
        assert not result
    assert capsys.readouterr().out.count("✏️ not answered yet: x") == 5


def test_close_fails_with_values_and_hint() -> None:
    with pytest.raises(CheckFailed) as info:
        check_close(np.array([1.0, 2.5]), np.array([1.0, 2.0]), "the loss", hint="average it")
    message = str(info.value)
    assert message.startswith("❌ fail: the loss: expected")
    assert "2.5" in message and "largest error 0.5" in message
    assert message.endswith("Hint: average it")
    assert info.value._render_traceback_() == [message]  # IPython shows no traceback


def test_close_reports_shape_and_type() -> None:
    with pytest.raises(CheckFailed, match=r"expected shape \(3,\), got shape \(2,\)"):
        check_close(torch.zeros(2), torch.zeros(3), "v")
    with pytest.raises(CheckFailed, match="expected numbers, got a dict"):
        check_close({"a": 1}, 1.0, "v")
    with pytest.raises(CheckFailed, match="non-finite"):
        check_close(torch.tensor([float("nan")]), torch.tensor([1.0]), "v")


def test_equal_shape_true() -> None:
    assert check_equal(torch.tensor([1, 2]), np.array([1, 2]), "labels")
    assert check_equal("Cr", "Cr", "class")
    with pytest.raises(CheckFailed, match="expected 'Cr', got 'Sc'"):
        check_equal("Sc", "Cr", "class")
    assert check_shape(torch.zeros(2, 5), (2, 5), "embeddings")
    with pytest.raises(CheckFailed, match=r"expected shape \(2, 5\), got \(5, 2\)"):
        check_shape(torch.zeros(5, 2), (2, 5), "embeddings")
    with pytest.raises(CheckFailed, match="expected a tensor or array, got a list"):
        check_shape([1, 2], (2,), "embeddings")
    assert check_true(3 > 2, "order")
    with pytest.raises(CheckFailed, match="order: too small"):
        check_true(1 > 2, "order", problem="too small")


def test_function_compares_on_every_input(capsys: pytest.CaptureFixture[str]) -> None:
    inputs = [torch.linspace(-3, 3, 7), (torch.zeros(2),)]
    assert check_function(lambda x: 1 / (1 + torch.exp(-x)), torch.sigmoid, inputs, "sigmoid")
    assert "✅ pass: sigmoid (2 test inputs)" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="on test input 1"):
        check_function(torch.tanh, torch.sigmoid, inputs, "sigmoid")
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        check_function(lambda x: 1 / 0, torch.sigmoid, inputs, "sigmoid")
    with pytest.raises(CheckFailed, match="returned None"):
        check_function(lambda x: None, torch.sigmoid, inputs, "sigmoid")
    with pytest.raises(CheckFailed, match="expected a function"):
        check_function(3, torch.sigmoid, inputs, "sigmoid")


def test_function_gets_fresh_inputs() -> None:
    # A candidate that writes into its input must not change what the reference sees.
    def sneaky(x: torch.Tensor) -> torch.Tensor:
        return x.mul_(2)

    with pytest.raises(CheckFailed):
        check_function(sneaky, torch.clone, [torch.ones(3)], "copy")
    x = torch.ones(3)
    check_function(lambda t: t * 2, lambda t: t.mul_(2), [x], "double")
    assert torch.equal(x, torch.ones(3))


def test_named_checks() -> None:
    name = "test.double"
    try:

        @register(name)
        def _double(value: object) -> checks.CheckResult:
            return check_equal(value, 2 * 21, "double of 21")

        assert check(name, 42)
        assert not check(name, ...)
        with pytest.raises(CheckFailed):
            check(name, 41)
        with pytest.raises(ValueError, match="already registered"):
            register(name)(_double)
    finally:
        checks.CHECKS.pop(name, None)
    with pytest.raises(KeyError, match="No check named 'test.double'"):
        check(name, 42)


def test_result_is_silent_in_jupyter() -> None:
    result = check_true(True, "x")
    assert result._ipython_display_() is None and "passed=True" in repr(result)
