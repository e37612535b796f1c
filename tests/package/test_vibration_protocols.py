"""The protocols keep test windows away from training, and score nets and baselines alike."""

from __future__ import annotations

import pytest
import torch

from oneshot_steel.vibration.protocols import (
    cross_load_protocol,
    evaluate_protocol,
    leaky_split,
    nearest_neighbour_accuracy,
    segment_protocol,
    unseen_size_protocol,
)
from oneshot_steel.vibration.signals import log_spectrum
from oneshot_steel.vibration.synthetic import synthetic_recordings


@pytest.fixture(scope="module")
def records():
    return synthetic_recordings(length=20_000)


def _starts(s) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for p in s.paths:
        name, start = p.split("@")
        out.setdefault(name, set()).add(int(start))
    return out


def test_segments_never_share_a_sample(records) -> None:
    p = segment_protocol(records, length=1024, hop=512)
    train, test = _starts(p.train), _starts(p.support)
    for name in train:
        assert max(train[name]) + 1024 <= 0.4 * 20_000 <= min(_starts(p.val)[name])
        assert min(test[name]) >= 0.5 * 20_000
    assert p.n_way == 10 and p.query is None and p.train.classes[0] == "Normal"


def test_unseen_size_and_cross_load_keep_their_promises(records) -> None:
    b = unseen_size_protocol(records, ("007", "021"), "014", length=1024, hop=1024)
    assert b.test_classes == ["IR014", "B014", "OR014"] and b.n_way == 3
    assert not set(b.train.classes) & set(b.test_classes)
    with pytest.raises(ValueError, match="also a training size"):
        unseen_size_protocol(records, ("007", "014"), "014")
    c = cross_load_protocol(records, 0, 3, (1, 2), length=1024, hop=1024)
    loads = lambda s: {int(p.split("@")[0].split("_")[-2]) for p in s.paths}  # noqa: E731
    assert loads(c.train) == {1, 2} and loads(c.support) == {0} and loads(c.query) == {3}
    assert c.n_way == 9 and "Normal" not in c.test_classes
    with pytest.raises(ValueError, match="include the test load"):
        cross_load_protocol(records, 0, 3, (0, 1))


def test_baselines_and_nets_score_the_same_episodes(records) -> None:
    c = cross_load_protocol(records, length=1024, hop=1024, max_per_record=8)
    r = evaluate_protocol(log_spectrum, c, n_episodes=50, n_query=5)
    assert r.n_way == 9 and r.chance == pytest.approx(1 / 9) and r.mean > 0.3
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1024, 4))
    r_net = evaluate_protocol(net, c, n_episodes=50, n_query=5)
    assert 0 <= r_net.mean <= 1 and r_net.n_episodes == 50


def test_the_leaky_split_looks_perfect(records) -> None:
    train, test = leaky_split(records, 1024, 256)
    assert not set(train.paths) & set(test.paths)
    acc = nearest_neighbour_accuracy(
        log_spectrum(train), train.labels, log_spectrum(test), test.labels
    )
    assert acc > 0.95
