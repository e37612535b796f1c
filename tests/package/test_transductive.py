"""Transductive episodes: soft k-means prototypes, same episodes as the inductive rule."""

from __future__ import annotations

import pytest
import torch

from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.evaluate import episodic_accuracy
from oneshot_steel.transductive import refine_prototypes, transductive_accuracy


def _blobs(n: int = 30, spread: float = 0.9) -> tuple[torch.Tensor, ImageSet]:
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(3) * 2
    feats = torch.cat([c + spread * torch.randn(n, 3, generator=g) for c in centres])
    labels = torch.arange(3).repeat_interleave(n)
    images = torch.zeros(len(labels), 1, 4, 4, dtype=torch.uint8)
    return feats, ImageSet(images, labels, ["a", "b", "c"], [str(i) for i in range(len(labels))])


def test_zero_steps_are_the_support_means() -> None:
    support, queries = torch.randn(2, 3, 4, 5), torch.randn(2, 6, 5)
    torch.testing.assert_close(refine_prototypes(support, queries, steps=0), support.mean(dim=2))


def test_queries_pull_a_noisy_one_shot_prototype_towards_its_class() -> None:
    feats, data = _blobs()
    inductive = episodic_accuracy(feats, data, 3, 1, 15, 300, seed=1)
    refined = transductive_accuracy(feats, data, 3, 1, 15, 300, seed=1, beta=1.0)
    assert refined.mean > inductive.mean + 0.03  # same episodes, a better rule
    assert refined.n_episodes == 300 and refined.chance == pytest.approx(1 / 3)
    cm = torch.tensor(refined.confusion)
    assert cm.sum() == 300 * 3 * 15 and cm.trace() / cm.sum() == pytest.approx(refined.mean)


def test_bad_shapes_and_settings_are_refused() -> None:
    feats, data = _blobs()
    with pytest.raises(ValueError, match="one row per image"):
        transductive_accuracy(feats[:-1], data, 3, 1, 5, 10)
    with pytest.raises(ValueError, match="beta > 0"):
        refine_prototypes(torch.zeros(1, 3, 1, 2), torch.zeros(1, 4, 2), beta=0)
