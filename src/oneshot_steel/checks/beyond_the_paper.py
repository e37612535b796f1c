"""Named checks of the book's third part, *Beyond the paper*: chapters 8-9 (better one-shot
models, inspection in practice).

Imported by the package's ``__init__``, which registers them.
"""

from __future__ import annotations

from typing import Any

import torch

from .generic import (
    CheckResult,
    _call,
    _fail,
    _passed,
    check_function,
)
from .registry import register


# ------------------------------------------------------------ chapter 8: better models
@register("ch08.simpleshot")
def _ch08_simpleshot(candidate: Any) -> CheckResult:
    """``candidate(features [N, D], reference [M, D])`` -> centred on the reference mean, unit
    rows; compared with :func:`~oneshot_steel.evaluate.simpleshot` on random inputs,
    including a reference whose mean is far from zero (forgetting to centre then fails)."""
    from ..evaluate import simpleshot

    g = torch.Generator().manual_seed(8)
    cases = [
        (torch.randn(12, 5, generator=g), torch.randn(30, 5, generator=g)),
        (torch.rand(20, 16, generator=g) + 3.0, torch.rand(7, 16, generator=g) + 2.5),
    ]
    return check_function(
        candidate,
        simpleshot,
        cases,
        "SimpleShot normalisation",
        hint="subtract reference.mean(dim=0) from every feature row, then divide each row by "
        "its own Euclidean norm (torch.nn.functional.normalize(x, dim=1)).",
    )


# ------------------------------------------------------------ chapter 9: inspection in practice
@register("ch09.cheapest_threshold")
def _ch09_cheapest_threshold(candidate: Any) -> CheckResult:
    """``candidate(d_known, d_unknown, cost_fa, cost_fr)`` -> a rejection threshold t.

    A part is accepted iff its distance is <= t (the rule of ``OneShotClassifier.predict``).
    Any t whose cost ``cost_fa * (unknown accepted) + cost_fr * (known rejected)`` equals the
    minimum of :func:`~oneshot_steel.deploy.cheapest_threshold` passes. Cases: overlapping
    distances at equal, false-accept-heavy and false-reject-heavy costs; tied distances;
    separable distances (the cost can reach 0).
    """
    from ..deploy import cheapest_threshold

    what = "the cheapest rejection threshold"
    hint = (
        "try a threshold between each pair of neighbouring distances (and one below and one "
        "above all of them); at each, count the unknown parts with d <= t (false accepts) and "
        "the known parts with d > t (false rejects); keep the threshold of the lowest "
        "cost_fa * false_accepts + cost_fr * false_rejects."
    )
    g = torch.Generator().manual_seed(0)
    known = (1.0 + 0.4 * torch.randn(120, generator=g)).abs()
    unknown = (1.8 + 0.5 * torch.randn(60, generator=g)).abs()
    cases = [(known, unknown, 1.0, 1.0), (known, unknown, 10.0, 1.0), (known, unknown, 1.0, 10.0)]
    cases.append(((known * 5).round() / 5, (unknown * 5).round() / 5, 3.0, 1.0))  # ties
    cases.append((0.5 * known, unknown + 2.0, 1.0, 1.0))  # separable
    for n_case, (dk, du, cfa, cfr) in enumerate(cases, start=1):
        _, best = cheapest_threshold(dk, du, cfa, cfr)
        t = _call(candidate, what, hint, dk.clone(), du.clone(), cfa, cfr)
        try:
            t = float(t)
        except (TypeError, ValueError):
            _fail(what, f"expected a number, got {t!r:.100}", hint)
        fa, fr = int((du <= t).sum()), int((dk > t).sum())
        cost = cfa * fa + cfr * fr
        if cost > best + 1e-9:
            _fail(
                what,
                f"on case {n_case} (costs {cfa:g} per false accept, {cfr:g} per false reject) "
                f"your threshold {t:.4g} gives {fa} false accepts and {fr} false rejects, cost "
                f"{cost:g}; the cheapest threshold costs {best:g}",
                hint,
            )
    return _passed(what, f"{len(cases)} cases")
