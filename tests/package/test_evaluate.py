"""Evaluation: embedding, N-way K-shot episodes, pair verification, the one-shot classifier."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from toys import MeanPixel

from oneshot_steel.augment import to_model_input
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.evaluate import (
    _episode_predictions,
    best_threshold,
    embed,
    episode_confusion,
    episodic_accuracy,
    mean_ci95,
    pair_verification,
    paired_difference,
)
from oneshot_steel.models import CompactEmbeddingNet, SiameseNetwork
from oneshot_steel.sampling import EpisodeSampler, PairSampler


def _imageset(labels: list[int] | torch.Tensor, size: int = 8, seed: int = 0) -> ImageSet:
    labels = torch.as_tensor(labels, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (len(labels), 1, size, size), generator=g, dtype=torch.uint8)
    classes = [f"c{i}" for i in range(int(labels.max()) + 1)]
    return ImageSet(images, labels, classes, [f"img{i}" for i in range(len(labels))])


# ----------------------------------------------------------------------------- embed
def test_embed_batched_equals_unbatched_and_accepts_every_input() -> None:
    torch.manual_seed(0)
    net = CompactEmbeddingNet(embedding_dim=6, width=4)
    data = _imageset([0, 1, 2] * 7, size=32)
    net.train()
    whole = embed(net, data, batch_size=1000)
    assert net.training  # mode restored
    assert whole.shape == (21, 6) and whole.dtype == torch.float32 and whole.device.type == "cpu"
    assert torch.allclose(embed(net, data.images, batch_size=4), whole, atol=1e-6)
    as_float = data.images.float() / 127.5 - 1
    assert torch.allclose(embed(net, as_float, batch_size=5), whole, atol=1e-6)
    assert torch.allclose(embed(SiameseNetwork(net), data, batch_size=7), whole, atol=1e-6)
    assert embed(net, data, keep_on_device=True).device == torch.device("cpu")


# ----------------------------------------------------------------------------- episodes
def test_mean_ci95_formula() -> None:
    mean, ci = mean_ci95([1.0, 0.0, 1.0, 0.0])
    assert mean == 0.5
    assert ci == pytest.approx(1.96 * np.std([1, 0, 1, 0], ddof=1) / 2)
    assert math.isnan(mean_ci95([0.7])[1])
    with pytest.raises(ValueError):
        mean_ci95([])


def test_episodes_perfect_on_separable_embeddings() -> None:
    labels = torch.arange(5).repeat_interleave(10)
    emb = 10 * nn.functional.one_hot(labels, 5).float() + 0.1 * torch.randn(50, 5)
    result = episodic_accuracy(emb, _imageset(labels), n_way=5, k_shot=1, n_query=3, n_episodes=300)
    assert result.mean == 1.0 and result.ci95 == 0.0 and result.chance == 0.2
    assert result.per_episode.shape == (300,)
    assert str(result) == "5-way 1-shot: 100.0 % ± 0.0 (95 % CI, 300 episodes; chance 20.0 %)"


def test_episodes_at_chance_on_random_embeddings() -> None:
    labels = torch.arange(6).repeat_interleave(30)
    emb = torch.randn(180, 16, generator=torch.Generator().manual_seed(1))
    result = episodic_accuracy(emb, _imageset(labels), 3, 1, 5, 4000, seed=3)
    assert abs(result.mean - 1 / 3) < 3 * result.ci95 + 0.01
    assert result.ci95 == pytest.approx(
        1.96 * result.per_episode.double().std().item() / math.sqrt(4000)
    )
    assert (result.n_way, result.k_shot, result.n_query, result.seed) == (3, 1, 5, 3)
    assert result.classes == [f"c{i}" for i in range(6)]


def test_confusion_counts_every_query_decision_and_names_the_mixed_classes() -> None:
    # classes 1 and 2 share one point: the rule can only guess between them; 0 and 3 are apart
    labels = torch.arange(4).repeat_interleave(12)
    centre = torch.tensor([[0.0, 0.0], [5.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    emb = centre[labels] + 0.01 * torch.randn(48, 2, generator=torch.Generator().manual_seed(0))
    result = episodic_accuracy(emb, _imageset(labels), 3, 1, 4, 500, seed=2)
    cm = torch.tensor(result.confusion)
    assert cm.shape == (4, 4) and cm.sum() == 500 * 3 * 4
    assert cm.trace() / cm.sum() == pytest.approx(result.mean)  # equal queries per episode
    off = cm - torch.diag(cm.diagonal())
    assert off[0].sum() == off[3].sum() == off[:, 0].sum() == off[:, 3].sum() == 0
    assert off[1, 2] > 0.2 * cm[1].sum() and off[2, 1] > 0.2 * cm[2].sum()


def test_episode_confusion_maps_positions_to_labels() -> None:
    classes = torch.tensor([[2, 0], [1, 2]])  # two 2-way episodes, 2 queries per class
    predicted = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 0]])
    cm = episode_confusion(classes, predicted, 3)
    # episode 1: true 2,2,0,0 -> 2,0,0,0; episode 2: true 1,1,2,2 -> 1,1,2,1
    assert cm.tolist() == [[2, 0, 0], [0, 2, 0], [1, 1, 2]]


def test_each_image_is_embedded_once() -> None:
    labels = torch.arange(4).repeat_interleave(9)
    net = MeanPixel()
    episodic_accuracy(net, _imageset(labels), 3, 2, 4, n_episodes=2000, batch_size=10)
    assert net.images_seen == 36


def _reference(emb: torch.Tensor, labels: torch.Tensor, k: int, q: int, n: int, reduce: str):
    """A slow per-episode loop: class means (reduce="mean") or nearest single support."""
    eps = EpisodeSampler(labels, 2, k, q, seed=0).sample(n)
    accs = []
    for e in range(n):
        s, qu = emb[eps.support[e]], emb[eps.query[e]]  # [N, K, D], [N, Q, D]
        correct = 0
        for true_class in range(2):
            for x in qu[true_class]:
                if reduce == "mean":
                    score = (s.mean(dim=1) - x).norm(dim=-1)  # [N]
                else:
                    score = (s - x).norm(dim=-1).min(dim=1).values
                correct += int(score.argmin()) == true_class
        accs.append(correct / (2 * q))
    return torch.tensor(accs)


def test_k_shot_uses_class_means() -> None:
    # Class 0 is spread wide around 0, class 1 sits tight near 1.5: a class-0 query near 0
    # is closer to class 0's MEAN, but often closer to a class-1 support than to the nearest
    # class-0 support. The two rules disagree, and episodic_accuracy must follow the means.
    labels = torch.tensor([0] * 6 + [1] * 6)
    emb = torch.tensor([-8.0, -6.0, 0.0, 0.1, 6.0, 8.0, 1.4, 1.5, 1.6, 1.45, 1.55, 1.5])[:, None]
    result = episodic_accuracy(emb, _imageset(labels), 2, 3, 3, n_episodes=200, seed=0)
    means = _reference(emb, labels, 3, 3, 200, "mean")
    nearest = _reference(emb, labels, 3, 3, 200, "nearest")
    assert torch.allclose(result.per_episode, means)
    assert not torch.allclose(means, nearest)


def test_gram_and_direct_scoring_agree() -> None:
    labels = torch.arange(5).repeat_interleave(12)
    eps = EpisodeSampler(labels, 4, 3, 4, seed=2).sample(300)
    for emb in (torch.randn(60, 7), torch.randint(0, 256, (60, 300)).float()):
        gram = _episode_predictions(emb, eps.support, eps.query, use_gram=True)
        direct = _episode_predictions(emb, eps.support, eps.query, use_gram=False)
        assert gram.shape == (300, 4 * 4) and torch.equal(gram, direct)


def test_raw_pixels_baseline_and_bad_embeddings() -> None:
    data = _imageset(torch.arange(3).repeat_interleave(8), size=8)
    result = episodic_accuracy(data.images.flatten(1).float(), data, 3, 1, 2, 50)
    assert 0.0 <= result.mean <= 1.0
    with pytest.raises(ValueError, match=r"\[N=24, D\]"):
        episodic_accuracy(torch.zeros(10, 3), data, 3, 1, 2, 50)


# ----------------------------------------------------------------------------- pairs
def test_a_class_too_small_for_an_episode_is_named() -> None:
    data = _imageset([0] * 6 + [1] * 2 + [2] * 6)  # classes c0, c1, c2
    emb = torch.randn(len(data), 4)
    with pytest.raises(ValueError, match=r"'c1' \(2\)"):
        episodic_accuracy(emb, data, n_way=3, k_shot=1, n_query=3, n_episodes=5)


def test_best_threshold() -> None:
    t, acc = best_threshold(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1, 1, 0, 0]))
    assert (t, acc) == (2.5, 1.0)
    t, acc = best_threshold(torch.tensor([1.0, 1.0, 3.0]), torch.tensor([1, 0, 0]))
    assert t < 1.0 and acc == pytest.approx(2 / 3)  # equal distances cannot be split


def test_pair_verification_known_accuracy() -> None:
    labels = torch.arange(3).repeat_interleave(20)
    data = _imageset(labels)
    # Classes 0 and 1 share one point, class 2 is far away: only 0-vs-1 pairs are wrong.
    centre = torch.tensor([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0]])
    emb = centre[labels] + 0.01 * torch.randn(60, 2)
    result = pair_verification(emb, data, n_pairs=900, seed=4)
    i1, i2, same = PairSampler(labels, 900, 0.5, seed=4).sample_epoch(0)
    confused = (same == 0) & (labels[i1] != 2) & (labels[i2] != 2)
    assert result.accuracy == pytest.approx(1 - confused.float().mean().item())
    assert result.threshold == 2.0 and result.chance == 0.5 and result.n_pairs == 900
    assert result.n_same == int(same.sum())
    separable = pair_verification(10 * nn.functional.one_hot(labels).float(), data)
    assert (separable.accuracy, separable.auc, separable.eer) == (1.0, 1.0, 0.0)


def test_threshold_is_chosen_on_validation_not_test() -> None:
    val = _imageset(torch.arange(3).repeat_interleave(10), seed=1)
    test = _imageset(torch.arange(3).repeat_interleave(20), seed=2)
    val_emb = 1.0 * nn.functional.one_hot(val.labels).float()  # different pairs at sqrt(2)
    scores = []
    for scale in (5.0, 50.0):  # two test sets; the chosen threshold must not depend on them
        test_emb = scale * nn.functional.one_hot(test.labels).float()
        r = pair_verification(test_emb, test, threshold=0.5, val_set=val, val_embeddings=val_emb)
        assert 0 < r.val_threshold < math.sqrt(2) and r.val_accuracy == 1.0
        scores.append((r.val_threshold, r.accuracy_at_val_threshold))
    assert scores[0][0] == scores[1][0]
    assert scores[0][1] == pytest.approx(scores[1][1])  # same pairs, same decisions
    with pytest.raises(ValueError, match="val_set"):
        pair_verification(val_emb, val, val_embeddings=val_emb)


def test_episodes_across_conditions_take_queries_from_the_query_set() -> None:
    labels = torch.arange(3).repeat_interleave(4)
    support = _imageset(labels)
    query = _imageset(labels)
    emb_s = torch.nn.functional.one_hot(labels, 3).float()
    good = episodic_accuracy(emb_s, support, 3, 1, 2, 20, query_set=query, query_embeddings=emb_s)
    bad = episodic_accuracy(emb_s, support, 3, 1, 2, 20, query_set=query,
                            query_embeddings=emb_s.roll(1, dims=1))  # fmt: skip
    assert good.mean == 1.0 and bad.mean == 0.0
    with pytest.raises(ValueError, match="query_embeddings"):
        episodic_accuracy(emb_s, support, 3, 1, 2, 5, query_set=query)


def test_paired_difference_sees_what_overlapping_cis_hide():
    """Two methods on the same episodes: a shared episode difficulty makes both means' CIs
    wide and overlapping, but the paired difference resolves a small, consistent gap."""
    gen = torch.Generator().manual_seed(0)
    difficulty = torch.rand(2000, generator=gen)
    a = (difficulty + 0.02 + 0.01 * torch.randn(2000, generator=gen)).clamp(0, 1)
    b = difficulty
    (ma, ca), (mb, cb) = mean_ci95(a), mean_ci95(b)
    assert ma - ca < mb + cb  # unpaired: the intervals overlap
    diff = paired_difference(a, b)
    assert diff.mean == pytest.approx(ma - mb)
    assert diff.verdict == "ahead of" and paired_difference(b, a).verdict == "behind"
    assert paired_difference(b, b.clone()).verdict == "level with"


def test_paired_difference_refuses_different_episodes():
    with pytest.raises(ValueError, match="same episodes"):
        paired_difference(torch.zeros(10), torch.zeros(11))


def test_embed_on_cpu_runs_channels_last_and_gives_back_the_weights_layout() -> None:
    torch.manual_seed(0)
    net = CompactEmbeddingNet(embedding_dim=8, width=4).eval()
    images = torch.randint(0, 256, (6, 1, 40, 40), dtype=torch.uint8)
    with torch.no_grad():
        expected = net(to_model_input(images))
    conv = net.features.block1[0].weight
    assert torch.allclose(embed(net, images), expected, atol=1e-5)
    assert conv.is_contiguous() and conv.requires_grad  # the caller's layout, still trainable
    net.to(memory_format=torch.channels_last)  # a net that trains channels_last keeps it
    assert torch.allclose(embed(net, images), expected, atol=1e-5)
    assert net.features.block1[0].weight.is_contiguous(memory_format=torch.channels_last)
