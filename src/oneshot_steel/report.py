"""The Markdown report of :func:`oneshot_steel.reproduce.reproduce` (``results.md``).

Kept apart from the runs so the report can be re-rendered from a stored ``results.json``
without importing the training code: ``results_markdown(json.loads(path.read_text()))``.
"""

from __future__ import annotations

import math
from typing import Any

from .data.splits import PAPER_TEST_CLASSES, PAPER_TRAIN_CLASSES

__all__ = ["results_markdown"]


def _pct(x: float | None) -> str:
    return "--" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _settings_line(results: dict[str, Any]) -> str:
    """The class split and the training settings used, in one sentence."""
    cfg = results.get("config", {})
    # results.json files written before the split could be chosen hold the paper's split
    train = results.get("train_classes", list(PAPER_TRAIN_CLASSES))
    test = results.get("test_classes", list(PAPER_TEST_CLASSES))
    parts = [f"One-shot split: train {'/'.join(train)}, test {'/'.join(test)}."]
    for key, name in (
        ("siamese", "One-shot Siamese"),
        ("table3_siamese", "Table 3 Siamese"),
        ("cnn", "CNN"),
    ):
        c = cfg.get(key)
        if c:
            parts.append(
                f"{name}: {c.get('model', '?')} model, {c.get('epochs')} epochs, "
                f"batch {c.get('batch_size')}, lr {c.get('lr')}."
            )
    return "Settings: " + " ".join(parts)


def results_markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown report: one table row per protocol, notes below."""
    d = results["data"]
    lines = [f"# Tables 2 and 3, re-run (preset `{results['preset']}`)", ""]
    if d["synthetic"]:
        lines += [
            "> **SYNTHETIC DATA**: these numbers come from the procedural stand-in, not "
            "real steel; they say nothing about the paper's claims.",
            "",
        ]
    if results["preset"] != "paper":
        lines += [
            f"> Preset `{results['preset']}` trains less than the paper; the numbers are "
            "not a reproduction.",
            "",
        ]
    lines += [
        f"Data: {d['n_images']} images ({d['source']}), nets at {d['image_size']} px, KNN from "
        f"{d['knn_image_size']} px. Seeds: {results['seeds']}. Episodes per setting: "
        f"{results['episodes']:,}. Device: {results['environment']['device']}. "
        f"Time: {results['timings']['total_s']:.0f} s.",
        "",
        _settings_line(results),
        "",
        "Accuracy in %. *Ours*: mean ± std over training seeds [min-max]; *95 % CI*: the mean "
        "half-width of each seed's confidence interval over episodes, pairs or test images.",
        "",
        "| Table | Method | Protocol | Classes | Chance | Ours | 95 % CI | Paper |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for r in results["rows"]:
        ours = f"{_pct(r['mean'])} ± {_pct(r['std'])} [{_pct(r['min'])}-{_pct(r['max'])}]"
        if r["n_seeds"] == 1:
            ours = (
                _pct(r["mean"]) + " (deterministic)" if r["per_seed"][0]["seed"] is None else ours
            )
        paper = _pct(r["paper"])
        if r["paper"] is not None:
            notes.append(f"- {r['method']}, {r['protocol']}: {r['paper_match']}.")
        lines.append(
            f"| {r['table']} | {r['method']} | {r['protocol']} | {'/'.join(r['classes'])} | "
            f"{_pct(r['chance'])} | {ours} | ± {_pct(r['ci95'])} ({r['ci_over']}) | {paper} |"
        )
    lines += ["", "Comparing with the paper:", *notes, ""]
    return "\n".join(lines)
