"""Chapter 9's inspection line (oneshot_steel.inspection): which network it trains and where,
and the rehearsal that scores any network, threshold chosen on validation data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from oneshot_steel.config import TrainConfig
from oneshot_steel.data.imageset import ImageSet
from oneshot_steel.inspection import (
    INSPECTION_LOSSES,
    inspection_net,
    nearest_prototype,
    rehearse_inspection,
)
from oneshot_steel.runs import inspection_run_dir

TRAIN = ["RS", "Pa", "In"]


# ----------------------------------------------------------------------------- the network
@pytest.mark.parametrize(("mode", "preset", "size"), [("smoke", "smoke", 64), ("quick", "quick", 200),
                                                      ("full", "paper", 200)])  # fmt: skip
def test_the_default_is_the_recipe_best_at_the_modes_preset(
    mode: str, preset: str, size: int
) -> None:
    net = inspection_net(mode, "root", TRAIN, seed=3)
    assert INSPECTION_LOSSES[0] == "best" and net.loss == "best"
    assert net.kind == "selfsup" and net.image_size == size
    assert net.config == TrainConfig.recipe("best", preset, seed=3)
    assert net.run_dir.parent == Path("root/ch09") and net.run_dir.name.startswith("best-")
    assert "recipe best" in net.description and f"{size} px" in net.description


def test_the_other_losses_train_the_compact_net_on_100_px_images() -> None:
    proto = inspection_net("quick", "r", TRAIN, loss="prototypical", n_way=2, k_shot=5)
    assert (proto.kind, proto.image_size) == ("episodic", 100)
    assert (proto.config.model, proto.config.n_way, proto.config.k_shot) == ("compact", 2, 5)
    pairs = inspection_net("quick", "r", TRAIN, loss="contrastive", margin=1.0)
    assert (pairs.kind, pairs.config.margin, pairs.config.pairs_per_epoch) == ("siamese", 1.0, 1280)
    # n_way, k_shot and margin shape only their own loss: the recipe's run stays the same
    best = inspection_net("quick", "r", TRAIN)
    assert inspection_net("quick", "r", TRAIN, n_way=2, k_shot=5, margin=1.0) == best


def test_every_scenario_gets_a_run_folder_of_its_own() -> None:
    dirs = {
        inspection_net("quick", "r", TRAIN).run_dir,
        inspection_net("smoke", "r", TRAIN).run_dir,  # another preset and image size
        inspection_net("quick", "r", ["Cr", "PS", "Sc"]).run_dir,  # other training classes
        inspection_net("quick", "r", TRAIN, seed=1).run_dir,
        inspection_net("quick", "r", TRAIN, loss="prototypical").run_dir,
        inspection_net("quick", "r", TRAIN, loss="contrastive").run_dir,
    }
    assert len(dirs) == 6
    net = inspection_net("quick", "r", TRAIN)
    assert net.run_dir == inspection_run_dir("r", "best", net.run_dir.name.split("-", 1)[1])
    assert inspection_net("quick", "r", TRAIN).run_dir == net.run_dir  # deterministic


def test_two_training_classes_get_two_way_validation_episodes() -> None:
    assert inspection_net("quick", "r", ["RS", "Pa"]).config.n_way == 2


def test_an_unknown_loss_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="'best', 'prototypical', 'contrastive'"):
        inspection_net("quick", "r", TRAIN, loss="triplet")


def test_the_recipe_trains_then_loads_from_its_run_folder(
    tiny_set: ImageSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    three = tiny_set.subset(TRAIN)  # 12 images per class at 64 px: the smoke recipe's size
    val = three.select([i for i in range(len(three)) if i % 3 == 0])
    train = three.select([i for i in range(len(three)) if i % 3])
    net = inspection_net("smoke", tmp_path, TRAIN)
    net = replace(net, config=replace(net.config, epochs=1, episodes_per_epoch=1, val_episodes=2))
    model = net.train_or_load(train, val, device="cpu", progress=False)
    assert (net.run_dir / "model.pt").is_file() and model.centre
    again = net.train_or_load(train, val, device="cpu", progress=False)
    assert "Loaded the trained model" in capsys.readouterr().out
    x = torch.zeros(2, 1, 64, 64)
    assert torch.equal(model.eval()(x), again.eval()(x))
    # images of another size are refused before anything trains
    with pytest.raises(ValueError, match="trains on 100 px images; got 64 px"):
        inspection_net("smoke", tmp_path, TRAIN, loss="prototypical").train_or_load(train, val)


# ----------------------------------------------------------------------------- the rehearsal
def _embeddings(separation: float, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Validation (3 classes x 20) and test (3 classes x 30) embeddings, classes ``separation``
    apart along their own axis; test class 2 is the one never enrolled."""
    g = torch.Generator().manual_seed(seed)
    val_labels = torch.arange(3).repeat_interleave(20)
    test_labels = torch.arange(3).repeat_interleave(30)
    emb_val = torch.randn(60, 3, generator=g) + separation * torch.eye(3)[val_labels]
    emb_test = torch.randn(90, 3, generator=g) + separation * torch.eye(3)[test_labels]
    return emb_val, val_labels, emb_test, test_labels


def test_nearest_prototype_is_the_mean_of_each_class_support() -> None:
    emb = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [1.0, 0.0], [9.0, 0.0]])
    support = torch.tensor([[[0, 1], [2, 2]]])  # prototypes (1, 0) and (10, 0)
    d, rows = nearest_prototype(emb, support, torch.tensor([[3, 4]]))
    assert torch.allclose(d, torch.tensor([[0.0, 1.0]])) and rows.tolist() == [[0, 1]]


def test_separated_classes_are_sorted_without_an_error() -> None:
    s = rehearse_inspection(*_embeddings(50.0), 2, k_shot=1, n_episodes=40)
    assert s.n_episodes == 40 and s.n_enrolled == 2 and s.chance_closed == 0.5
    assert s.far_val == 0 and s.frr_val == 0
    for rate in (s.closed_set, s.right, s.balanced):
        assert torch.equal(rate, torch.ones(40))
    assert s.false_accept.sum() == 0 and s.false_reject.sum() == 0
    summary = s.summary()
    assert summary["balanced accept/reject accuracy"][0] == 1.0
    assert set(summary) == {"closed-set accuracy", "known parts, right class", "false rejects",
                            "false accepts", "balanced accept/reject accuracy"}  # fmt: skip


def test_the_threshold_minimises_the_validation_errors_and_is_applied_to_test() -> None:
    s = rehearse_inspection(*_embeddings(2.0), 2, k_shot=1, n_episodes=60, n_query_val=5)
    known, unknown = s.distances["known_val"], s.distances["unknown_val"]
    best = min(
        (unknown <= t).float().mean() + (known > t).float().mean()
        for t in torch.cat([known.flatten(), unknown.flatten()])
    )
    assert s.far_val + s.frr_val <= float(best) + 1e-6
    assert torch.allclose(s.false_accept, (s.distances["unknown_test"] <= s.tau).float().mean(1))
    assert torch.allclose(s.false_reject, (s.distances["known_test"] > s.tau).float().mean(1))
    assert bool((s.right <= s.closed_set).all()) and bool((s.right <= 1 - s.false_reject).all())
    assert torch.allclose(s.balanced, 1 - (s.false_accept + s.false_reject) / 2)


def test_two_networks_with_one_seed_see_the_same_enrolments() -> None:
    """Scaling the embeddings scales every distance: same enrolments, same decisions."""
    emb_val, val_labels, emb_test, test_labels = _embeddings(2.0)
    a = rehearse_inspection(emb_val, val_labels, emb_test, test_labels, 2, k_shot=2, n_episodes=50)
    b = rehearse_inspection(4 * emb_val, val_labels, 4 * emb_test, test_labels, 2, k_shot=2,
                            n_episodes=50)  # fmt: skip
    assert b.tau == pytest.approx(4 * a.tau, rel=1e-5)
    for name in ("closed_set", "right", "false_reject", "false_accept"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    c = rehearse_inspection(emb_val, val_labels, emb_test, test_labels, 2, k_shot=2, n_episodes=50,
                            seed=1)  # fmt: skip
    assert not torch.equal(c.distances["known_test"], a.distances["known_test"])


def test_impossible_rehearsals_are_refused() -> None:
    emb_val, val_labels, emb_test, test_labels = _embeddings(2.0)
    with pytest.raises(ValueError, match="unknown=7"):
        rehearse_inspection(emb_val, val_labels, emb_test, test_labels, 7, k_shot=1, n_episodes=5)
    two = val_labels < 2
    with pytest.raises(ValueError, match="needs 3 classes"):
        rehearse_inspection(emb_val[two], val_labels[two], emb_test, test_labels, 2, k_shot=1,
                            n_episodes=5)  # fmt: skip
