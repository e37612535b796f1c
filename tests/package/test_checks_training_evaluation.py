"""The self-checks of chapters 5 to 7: a right answer passes, a plausible wrong one fails."""

from __future__ import annotations

import math

import pytest
import torch

from oneshot_steel.checks import CheckFailed, check


def _active_pairs(distance, same, margin):
    return torch.where(same == 1, distance > 0, distance < margin)


def _active_pairs_counts_the_edge(distance, same, margin):  # D = m still pushes: it does not
    return torch.where(same == 1, distance > 0, distance <= margin)


def _proportion_ci(k, n):
    p = k / n
    return p, 1.96 * math.sqrt(p * (1 - p) / (n - 1))


def _proportion_ci_population_std(k, n):  # ddof = 0: not what mean_ci95 computes
    p = k / n
    return p, 1.96 * math.sqrt(p * (1 - p) / n)


def _episode_accuracy(emb, support, query):
    protos = emb[support].mean(dim=2)
    q = emb[query]
    e, n, nq, d = q.shape
    dist = torch.cdist(q.reshape(e, n * nq, d), protos)
    return (dist.argmin(dim=2) == torch.arange(n).repeat_interleave(nq)).float().mean(dim=1)


def _episode_accuracy_first_shot_only(emb, support, query):
    return _episode_accuracy(emb, support[..., :1], query)  # ignores K > 1


def _best_threshold(distances, same):
    d, _ = torch.sort(distances)
    cuts = torch.cat([d[:1] - 1, (d[1:] + d[:-1]) / 2, d[-1:] + 1])
    right = ((distances[None, :] < cuts[:, None]).float() == same[None, :]).sum(dim=1)
    return float(cuts[right.argmax()])


@pytest.mark.parametrize(
    ("name", "right", "wrong"),
    [
        ("ch05.active_pairs", _active_pairs, _active_pairs_counts_the_edge),
        ("ch06.episode_accuracy", _episode_accuracy, _episode_accuracy_first_shot_only),
        ("ch06.best_threshold", _best_threshold, lambda d, s: 2.0),
        ("ch07.proportion_ci", _proportion_ci, _proportion_ci_population_std),
    ],
)
def test_chapter_checks(name, right, wrong, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(name, right)
    assert "✅ pass" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="❌ fail"):
        check(name, wrong)
    assert not check(name, ...)
