"""A TEST-ONLY knob: ``ONESHOT_STEEL_TEST_STEPS=N`` truncates every long loop of the package.

Full mode (the paper's schedules) is too slow to execute in CI, yet it has code paths of its
own: the 40 M-parameter paper net, batch sizes, image sizes, seeds and class splits that only
full mode uses. With ``ONESHOT_STEEL_TEST_STEPS=N`` set, every training run keeps ALL of its
sizes and does only

- at most ``N`` epochs (the config's ``epochs`` is shrunk at the start, so the checkpoint,
  ``train_or_load``'s "finished?" test and the history agree), and
- at most ``N`` optimisation steps per epoch (the first ``N`` batches of the epoch);

timing loops (``repeats``) run at most ``N`` times. Nothing else changes: validation pairs,
evaluation episodes, image and batch sizes stay those of the mode.

A truncated run is never mistaken for a real one: its checkpoints record ``test_steps`` (and
``history.json`` too), and :func:`oneshot_steel.checkpoint.read_checkpoint`, which every
load, resume and "finished?" test goes through, refuses a run made with another (or no) knob
value. The notebooks' run folders carry the knob in their name
(:func:`oneshot_steel.runs.runs_dir`), and the guard ``tests/book/test_full_mode.py`` writes
them under a temporary ``ONESHOT_STEEL_CHECKPOINTS``. Every truncated run warns.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import TypeVar

__all__ = [
    "ENV",
    "TestStepsWarning",
    "cap",
    "cap_epochs",
    "knob_mismatch",
    "test_steps",
    "warn_truncated",
]

#: The environment variable of the knob.
ENV = "ONESHOT_STEEL_TEST_STEPS"

_C = TypeVar("_C")


class TestStepsWarning(UserWarning):
    """A run was truncated by ``ONESHOT_STEEL_TEST_STEPS``: its numbers mean nothing."""

    __test__ = False  # not a pytest test class, despite the name


def test_steps() -> int | None:
    """The knob's value ``N`` (a positive int), or None when ``ONESHOT_STEEL_TEST_STEPS`` is unset."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV}={raw!r}: set a positive number of steps (e.g. 2), or unset it")
    return n


test_steps.__test__ = False  # type: ignore[attr-defined]  # not a pytest test either


def cap(n: int) -> int:
    """``n`` (steps, epochs or repeats), capped at the knob's ``N`` when it is set."""
    limit = test_steps()
    return n if limit is None else min(n, limit)


def cap_epochs(config: _C) -> _C:
    """``config`` (a frozen dataclass with ``epochs``) with ``epochs`` capped by the knob."""
    epochs = config.epochs  # type: ignore[attr-defined]
    if cap(epochs) == epochs:
        return config
    return dataclasses.replace(config, epochs=cap(epochs))  # type: ignore[type-var]


def knob_mismatch(recorded: int | None) -> str:
    """Why a run written with knob value ``recorded`` cannot be used now ("" when it can)."""
    now = test_steps()
    if recorded == now:
        return ""
    if now is None:
        return (
            f"it was written by a truncated TEST run ({ENV}={recorded}) whose weights are not "
            "trained; delete it"
        )
    was = f"{ENV}={recorded}" if recorded else f"a real run (no {ENV})"
    return (
        f"it was written by {was}, this run has {ENV}={now} (a truncated test run and a real "
        "one never mix; point ONESHOT_STEEL_CHECKPOINTS at a temporary folder for test runs)"
    )


def warn_truncated(what: str, epochs: int) -> None:
    """Say loudly that ``what`` is a truncated test run (no-op when the knob is off)."""
    n = test_steps()
    if n is None:
        return
    warnings.warn(
        f"{ENV}={n}: TEST ONLY, {what} is truncated to {cap(epochs)} epoch(s) of at most {n} "
        f"step(s) (asked for {epochs} epochs); its weights are NOT trained and its numbers "
        f"mean nothing. Unset {ENV} for a real run.",
        TestStepsWarning,
        stacklevel=3,
    )
