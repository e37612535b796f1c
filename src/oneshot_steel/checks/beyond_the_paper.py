"""Named checks of the book's third part, *Beyond the paper*: chapters 8-11 (better one-shot
models, inspection in practice, deployment, vibration).

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


# ------------------------------------------------------------ chapter 10: deployment
@register("ch10.int8_per_row")
def _ch10_int8_per_row(candidate: Any) -> CheckResult:
    """``candidate(W [R, C])`` -> ``(q [R, C], s [R])``: symmetric int8 weights with one scale
    per row, ``W ~ s[:, None] * q``.

    The expected scales are :func:`~oneshot_steel.deploy.quantize_dynamic_int8`'s, applied to
    each row alone (a Linear layer with one output unit). Every ``q`` must be an integer in
    [-128, 127] within half a step of its weight, ``|W - s q| <= s / 2`` (any correct rounding
    passes). Cases: rows of very different sizes, one row with an outlier (a single scale for
    the whole matrix fails), rows whose largest magnitude is negative.
    """
    from torch import nn

    from ..deploy import quantize_dynamic_int8

    what = "int8 weights with one scale per row"
    hint = (
        "for each row r, s[r] = W[r].abs().max() / 127.5 (W.abs().amax(dim=1) does all rows); "
        "q = round(W / s) with each scale dividing its own row (s[:, None]), clamped to "
        "[-128, 127]; return (q, s) with s of shape [rows]."
    )

    def expected_scales(weights: torch.Tensor) -> torch.Tensor:
        scales = []
        for row in weights:
            layer = nn.Linear(weights.shape[1], 1, bias=False)
            with torch.no_grad():
                layer.weight.copy_(row[None])
            scales.append(quantize_dynamic_int8(nn.Sequential(layer))[0].weight().q_scale())
        return torch.tensor(scales, dtype=torch.float64)

    g = torch.Generator().manual_seed(10)
    spread = torch.randn(6, 20, generator=g) * torch.logspace(-2, 0, 6)[:, None]
    outlier = 0.1 * torch.randn(5, 12, generator=g)
    outlier[2, 7] = 3.0
    negative = -torch.rand(4, 9, generator=g) - 0.1
    cases = [spread, outlier, negative]
    for n_case, weights in enumerate(cases, start=1):
        result = _call(candidate, what, hint, weights.clone())
        if not isinstance(result, tuple | list) or len(result) != 2:
            _fail(what, f"expected a pair (q, s), got {type(result).__name__}", hint)
        try:
            q, s = (torch.as_tensor(x).detach().to("cpu", torch.float64) for x in result)
        except (TypeError, ValueError, RuntimeError) as err:
            _fail(what, f"expected q and s as tensors or arrays ({err})", hint)
        rows = weights.shape[0]
        if tuple(q.shape) != tuple(weights.shape):
            _fail(
                what,
                f"q should have the shape of W, {tuple(weights.shape)}; got {tuple(q.shape)}",
                hint,
            )
        if s.numel() != rows:
            _fail(what, f"expected one scale per row ({rows}), got {s.numel()} value(s)", hint)
        s = s.reshape(rows)
        ref = expected_scales(weights)
        wrong = torch.nonzero((s - ref).abs() > 1e-4 * ref).flatten()
        if len(wrong):
            r = int(wrong[0])
            _fail(
                what,
                f"on matrix {n_case}, row {r}: expected the scale {float(ref[r]):.6g}, got "
                f"{float(s[r]):.6g} (one scale for the whole matrix would be "
                f"{float(weights.abs().max()) / 127.5:.6g})",
                hint,
            )
        if not torch.equal(q, q.round()):
            _fail(what, f"on matrix {n_case}, q holds values that are not integers", hint)
        if q.min() < -128 or q.max() > 127:
            _fail(
                what,
                f"on matrix {n_case}, q ranges from {float(q.min()):.0f} to {float(q.max()):.0f}, "
                "outside int8's [-128, 127] (did you clamp?)",
                hint,
            )
        error = (weights.double() - ref[:, None] * q).abs()
        bound = ref[:, None] / 2 * (1 + 1e-4) + 1e-12
        if (error > bound).any():
            r, c = (int(x) for x in torch.nonzero(error > bound)[0])
            _fail(
                what,
                f"on matrix {n_case}, W[{r}, {c}] = {float(weights[r, c]):.6g} became "
                f"q = {float(q[r, c]):.0f}, which is {float(error[r, c] / ref[r]):.2f} steps away; "
                "rounding to the nearest integer keeps every weight within half a step",
                hint,
            )
    return _passed(what, f"{len(cases)} matrices")


# ------------------------------------------------------------ chapter 11: vibration
@register("ch11.defect_frequencies")
def _ch11_defect_frequencies(candidate: Any) -> CheckResult:
    """``candidate(rpm, n_balls, d, D, contact_angle_deg)`` -> ``{"shaft", "BPFO", "BPFI"}``
    in Hz, compared with :meth:`~oneshot_steel.vibration.cwru.Bearing.frequencies` on the
    CWRU drive-end bearing and two others (one with a contact angle), at several speeds."""
    from ..vibration.cwru import Bearing

    bearings = [Bearing(), Bearing(8, 0.25, 1.2, 0.0), Bearing(12, 0.4, 2.0, 15.0)]
    cases = [(rpm, b) for b in bearings for rpm in (1797.0, 1725.0, 600.0)]
    what = "the shaft rate, BPFO and BPFI"
    hint = (
        "shaft = rpm / 60; r = d / D * cos(angle in radians); BPFO = n * shaft / 2 * (1 - r), "
        "BPFI = n * shaft / 2 * (1 + r)."
    )
    for rpm, b in cases:
        args = (rpm, b.n_balls, b.ball_diameter, b.pitch_diameter, b.contact_angle)
        got = _call(candidate, what, hint, *args)
        want = {k: v for k, v in b.frequencies(rpm).items() if k in ("shaft", "BPFO", "BPFI")}
        if not isinstance(got, dict) or any(k not in got for k in want):
            _fail(what, f"expected a dict with the keys {sorted(want)}, got {got!r:.80}", hint)
        for key, value in want.items():
            if not abs(float(got[key]) - value) <= 1e-6 * max(1.0, abs(value)):
                _fail(
                    f"{what} at {rpm:g} rpm, {b.n_balls} balls, contact angle {b.contact_angle:g}",
                    f"expected {key} = {value:.4f} Hz, got {float(got[key]):.4f} Hz",
                    hint,
                )
    return _passed(what, f"{len(cases)} bearings and speeds agree with the package")
