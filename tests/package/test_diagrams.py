"""The concept diagrams draw what their captions promise, and refuse what they cannot draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from oneshot_steel.diagrams import episode, protocols, siamese_pipeline  # noqa: E402


def _texts(fig: plt.Figure) -> str:
    return " | ".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title])


def test_siamese_pipeline_shows_two_branches_one_weight_set_and_the_loss() -> None:
    fig = siamese_pipeline()
    text = _texts(fig)
    assert text.count(r"branch $f_\theta$") == 2 and "same weights" in text and "loss" in text
    plt.close(fig)


def test_protocols_name_each_chance_level() -> None:
    fig = protocols()
    text = _texts(fig)
    assert len(fig.axes) == 3
    for chance in ("chance 50 %", "chance 1/N", "chance 1/6 = 16.7 %"):
        assert chance in text
    plt.close(fig)


@pytest.mark.parametrize(("n_way", "k_shot", "n_query"), [(3, 1, 2), (5, 5, 1)])
def test_episode_draws_every_support_query_and_prototype(n_way, k_shot, n_query) -> None:
    fig = episode(n_way, k_shot, n_query)
    left, right = fig.axes
    assert len(left.patches) == n_way * (k_shot + n_query)  # one tile per image
    assert len(right.collections) == 3 * n_way  # support, queries, prototype of each class
    assert len(right.lines) == n_way * n_query  # each query joined to its nearest prototype
    assert f"{n_way}-way {k_shot}-shot" in _texts(fig)
    plt.close(fig)


def test_episode_refuses_what_it_cannot_draw() -> None:
    with pytest.raises(ValueError, match="n_way=9"):
        episode(n_way=9)
