"""Self-checks for the book's coding exercises: a clear pass, a clear fail, or "not yet".

A coding exercise leaves a placeholder for the learner (``answer = ...``) and ends with a check::

    from oneshot_steel.checks import check
    check("ch03.rescaled_loss", my_rescaled_loss)

- a correct answer prints ``✅ pass: ...`` and returns a true :class:`CheckResult`;
- a placeholder still in place (``...`` or ``None``) prints ``✏️ not answered yet: ...`` and
  returns a false one, so the executed book (which runs the starter code) shows the prompt, not
  an error;
- a wrong answer raises :class:`CheckFailed` whose message starts with ``❌ fail:``, names what
  was checked, what was expected and what was received, and gives a hint. In Jupyter it is shown
  without a traceback. Because it raises, a solution cell that calls the same check makes the
  book build fail if the solution is wrong.

The generic checks (:func:`check_close`, :func:`check_equal`, :func:`check_shape`,
:func:`check_true`, :func:`check_function`) take the expected value as an argument.

Adding a chapter's check: append a function to the module of the chapter's part of the book
(``foundations.py`` for chapters 1-4, ``reproducing_the_paper.py`` for 5-7,
``beyond_the_paper.py`` for 8 onwards, as in ``_toc.yml``; a new module must be imported in
this package's ``__init__.py`` so that its checks are registered), decorated with
``@register("chNN.what")``. It receives the learner's value (and any keyword arguments the
notebook passes), computes the expected answer **with the package's own code** (never a number
typed in by hand, which would silently go stale), and returns the result of a generic check::

    @register("chNN.contrastive_loss")
    def _chNN_contrastive_loss(candidate) -> CheckResult:
        from ..losses import contrastive_loss
        g = torch.Generator().manual_seed(0)
        distance, same = torch.rand(16, generator=g) * 3, (torch.rand(16, generator=g) < 0.5).float()
        return check_function(candidate, contrastive_loss, [(distance, same)], "contrastive loss",
                              hint="y = 1 means the same class; average over the batch.")

Import heavy modules inside the function, so that importing this package stays cheap.
"""

from __future__ import annotations

from . import beyond_the_paper, foundations, reproducing_the_paper  # noqa: F401  (registers them)
from .generic import (
    CheckFailed,
    CheckResult,
    check_close,
    check_equal,
    check_function,
    check_shape,
    check_true,
)
from .registry import CHECKS, check, register

__all__ = [
    "CHECKS",
    "CheckFailed",
    "CheckResult",
    "check",
    "check_close",
    "check_equal",
    "check_function",
    "check_shape",
    "check_true",
    "register",
]
