"""Pair and episode samplers: statistics, distinctness, determinism, disjointness, errors."""

from __future__ import annotations

import pytest
import torch

from oneshot_steel.sampling import Episode, EpisodeSampler, PairSampler


def balanced_labels(n_classes: int = 3, per_class: int = 20) -> torch.Tensor:
    # Interleaved, not sorted, so that index tables are really needed.
    return torch.arange(n_classes).repeat(per_class)


def test_pairs_types_shapes_and_labels() -> None:
    labels = balanced_labels()
    idx1, idx2, same = PairSampler(labels, pairs_per_epoch=900, seed=0).sample_epoch(0)
    assert idx1.shape == idx2.shape == same.shape == (900,)
    assert idx1.dtype == idx2.dtype == torch.int64 and same.dtype == torch.float32
    assert idx1.device == labels.device
    assert torch.all(idx1 != idx2)  # never the same image twice
    assert torch.equal(same, (labels[idx1] == labels[idx2]).float())
    assert idx1.min() >= 0 and max(idx1.max(), idx2.max()) < len(labels)


def test_pairs_p_same_statistics() -> None:
    labels = balanced_labels(6, 10)
    for p in (0.5, 0.2):
        same = PairSampler(labels, pairs_per_epoch=20_000, p_same=p, seed=1).sample_epoch(0).same
        assert abs(same.mean().item() - p) < 0.015  # sd of the share: <= 0.0036
    assert PairSampler(labels, 500, p_same=1.0).sample_epoch(0).same.min() == 1.0
    assert PairSampler(labels, 500, p_same=0.0).sample_epoch(0).same.max() == 0.0


def test_pairs_class_and_member_balance_with_unequal_classes() -> None:
    labels = torch.tensor([0] * 2 + [1] * 50 + [2] * 8)[
        torch.randperm(60, generator=torch.Generator().manual_seed(0))
    ]
    idx1, idx2, same = PairSampler(labels, pairs_per_epoch=30_000, seed=2).sample_epoch(3)
    # classes are drawn uniformly, whatever their size
    share = torch.bincount(labels[idx1], minlength=3).double() / 30_000
    assert torch.all((share - 1 / 3).abs() < 0.02)
    # every image of the tiny class 0 appears, and both in same-class pairs (its only pair)
    tiny = torch.nonzero(labels == 0).flatten()
    s = same.bool()
    assert set(idx1[s & (labels[idx1] == 0)].tolist()) == set(tiny.tolist())
    # members are uniform within a class: the 50 images of class 1 appear about equally often
    hits = torch.bincount(idx1[labels[idx1] == 1], minlength=60)[labels == 1].double()
    assert hits.min() > 0.6 * hits.mean() and hits.max() < 1.4 * hits.mean()


def test_pairs_deterministic_in_seed_and_epoch() -> None:
    labels = balanced_labels()
    a = PairSampler(labels, 100, seed=5).sample_epoch(2)
    b = PairSampler(labels, 100, seed=5).sample_epoch(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    c = PairSampler(labels, 100, seed=5).sample_epoch(3)
    d = PairSampler(labels, 100, seed=6).sample_epoch(2)
    e = PairSampler(labels, 100, seed=6).sample_epoch(1)  # (6, 1) differs from (5, 2)
    for other in (c, d, e):
        assert not torch.equal(a.idx1, other.idx1)


def test_pairs_errors() -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        PairSampler(torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2 images per class"):
        PairSampler(torch.tensor([0, 0, 1, 2, 2]))
    with pytest.raises(ValueError, match="integer"):
        PairSampler(torch.tensor([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="p_same"):
        PairSampler(balanced_labels(), p_same=1.5)


def test_episode_shapes_classes_and_disjointness() -> None:
    labels = balanced_labels(6, 12)
    sampler = EpisodeSampler(labels, n_way=4, k_shot=2, n_query=5, seed=0)
    ep = sampler.sample(300)
    assert ep.classes.shape == (300, 4)
    assert ep.support.shape == (300, 4, 2) and ep.query.shape == (300, 4, 5)
    assert ep.n_episodes == 300
    # classes distinct within an episode
    assert torch.all(ep.classes.sort(dim=1).values.diff(dim=1) > 0)
    # every index has the class of its row
    assert torch.all(labels[ep.support] == ep.classes[..., None])
    assert torch.all(labels[ep.query] == ep.classes[..., None])
    # the K + Q images of a row are distinct, so support and query never share an image
    both = torch.cat([ep.support, ep.query], dim=2).sort(dim=2).values
    assert torch.all(both.diff(dim=2) > 0)


def test_episode_balance() -> None:
    labels = balanced_labels(5, 10)
    ep = EpisodeSampler(labels, n_way=2, k_shot=1, n_query=1, seed=3).sample(5000)
    class_share = torch.bincount(ep.classes.flatten(), minlength=5).double() / ep.classes.numel()
    assert torch.all((class_share - 0.2).abs() < 0.02)
    image_hits = torch.bincount(ep.support.flatten(), minlength=50).double()
    assert image_hits.min() > 0.6 * image_hits.mean() and image_hits.max() < 1.4 * image_hits.mean()
    # class order inside an episode is random: class 0 is not always first
    first = ep.classes[:, 0]
    assert 0.1 < (first == 0).double().mean() < 0.3


def test_episode_determinism_and_prefix() -> None:
    labels = balanced_labels(5, 10)
    a = EpisodeSampler(labels, 3, 1, 2, seed=1).sample(150)
    b = EpisodeSampler(labels, 3, 1, 2, seed=1).sample(150)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    prefix = EpisodeSampler(labels, 3, 1, 2, seed=1).sample(10)
    assert torch.equal(prefix.support, a.support[:10]) and torch.equal(prefix.query, a.query[:10])
    other = EpisodeSampler(labels, 3, 1, 2, seed=2).sample(150)
    assert not torch.equal(a.support, other.support)
    assert not torch.equal(
        a.support, EpisodeSampler(labels, 3, 1, 2, seed=1).sample(150, epoch=1).support
    )
    assert EpisodeSampler(labels, 3, 1, 2).sample(0).support.shape == (0, 3, 1)


def test_episode_iteration() -> None:
    labels = balanced_labels(4, 6)
    sampler = EpisodeSampler(labels, 2, 1, 3, seed=0, n_episodes=5)
    first = list(sampler)
    assert len(first) == 5 == len(sampler)
    assert isinstance(first[0], Episode)
    assert first[0].classes.shape == (2,) and first[0].support.shape == (2, 1)
    assert first[0].query.shape == (2, 3)
    batch = sampler.sample(5)
    assert torch.equal(first[4].query, batch.query[4])
    second = list(sampler)  # a new epoch: new episodes
    assert not all(torch.equal(x.support, y.support) for x, y in zip(first, second, strict=True))
    sampler.set_epoch(0)
    assert torch.equal(next(iter(sampler)).support, first[0].support)
    assert len(list(EpisodeSampler(labels, 2, 1, 3).episodes(7))) == 7
    with pytest.raises(ValueError, match="n_episodes"):
        iter(EpisodeSampler(labels, 2, 1, 3))


def test_episode_errors() -> None:
    labels = torch.tensor([0] * 5 + [1] * 3 + [2] * 6)
    with pytest.raises(ValueError, match=r"1 \(3\)"):
        EpisodeSampler(labels, n_way=3, k_shot=1, n_query=3)
    with pytest.raises(ValueError, match="needs 4 classes"):
        EpisodeSampler(labels, n_way=4, k_shot=1, n_query=1)
    with pytest.raises(ValueError, match=">= 1"):
        EpisodeSampler(labels, n_way=2, k_shot=0, n_query=1)


def test_errors_name_the_class_when_the_names_are_known() -> None:
    labels = torch.tensor([0] * 5 + [1] * 3 + [2] * 6)
    names = ["Cr", "PS", "Sc"]
    with pytest.raises(ValueError, match=r"fewer: 'PS' \(3\)\."):
        EpisodeSampler(labels, n_way=3, k_shot=1, n_query=3, class_names=names)
    with pytest.raises(ValueError, match=r"'Cr': 1, 'PS': 3"):
        PairSampler(torch.tensor([0, 1, 1, 1]), 10, class_names=names)


def test_episodes_with_queries_from_another_pool() -> None:
    support = torch.tensor([0, 0, 1, 1, 2, 2])
    query = torch.tensor([2, 1, 0, 2, 1, 0, 0, 1, 2])
    s = EpisodeSampler(support, 3, 1, 2, seed=1, query_labels=query)
    eps = s.sample(70)
    assert (support[eps.support] == eps.classes[..., None]).all()
    assert (query[eps.query] == eps.classes[..., None]).all()  # queries index the query pool
    with pytest.raises(ValueError, match="same classes"):
        EpisodeSampler(support, 2, 1, 1, query_labels=torch.tensor([0, 1, 3]))
    with pytest.raises(ValueError, match="query 2"):
        EpisodeSampler(support, 3, 1, 4, query_labels=query)
