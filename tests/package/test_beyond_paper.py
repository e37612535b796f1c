"""Chapter 8's engine: random windows, NT-Xent, self-supervised training, SimpleShot,
the method table and ablations, and the ResNet-18 embedding (offline: weights=None)."""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from oneshot_steel.augment import augment_batch, random_crop
from oneshot_steel.checkpoint import check_resumable
from oneshot_steel.comparison import few_shot_scores, method_result, run_ablation
from oneshot_steel.data.download import Limits
from oneshot_steel.data.imageset import NEU_CLASSES, ImageSet
from oneshot_steel.data.synthetic import synthetic_images
from oneshot_steel.errors import ModelInputError
from oneshot_steel.evaluate import episodic_accuracy, simpleshot
from oneshot_steel.losses import nt_xent_loss
from oneshot_steel.models import ResNet18Embedding, build_model
from oneshot_steel.train import TrainConfig, load_checkpoint, train_episodic, train_self_supervised
from oneshot_steel.transfer import fetch_hub_file, load_imagenet_weights

SMALL = TrainConfig.preset("smoke", lr=3e-3, val_episodes=30)


@pytest.fixture(scope="module")
def split() -> tuple[ImageSet, ImageSet, ImageSet]:
    """(train, val, test) of the stand-in at 48x48: 30 + 10 images per training class."""
    images, labels = synthetic_images(seed=0, n_per_class=40, size=48)
    data = ImageSet(torch.from_numpy(images)[:, None], torch.from_numpy(labels), list(NEU_CLASSES),
                    [f"img{i}" for i in range(len(labels))], synthetic=True)  # fmt: skip
    seen, test = data.subset(["RS", "Pa", "In"]), data.subset(["Cr", "PS", "Sc"])
    held_out = torch.arange(len(seen)) % 40 < 10
    return (
        seen.select(torch.nonzero(~held_out).flatten()),
        seen.select(torch.nonzero(held_out).flatten()),
        test,
    )


# ----------------------------------------------------------------------------- random_crop
def test_random_crop_cuts_true_windows_reproducibly() -> None:
    images = torch.arange(4 * 2 * 10 * 12).reshape(4, 2, 10, 12)  # every pixel value unique
    crops = random_crop(images, 5, torch.Generator().manual_seed(0))
    assert crops.shape == (4, 2, 5, 5)
    for b in range(4):  # each crop is a contiguous window of its own image, same for all channels
        top, left = divmod(int(crops[b, 0, 0, 0]) - int(images[b, 0, 0, 0]), 12)
        assert torch.equal(crops[b], images[b, :, top : top + 5, left : left + 5])
    again = random_crop(images, 5, torch.Generator().manual_seed(0))
    assert torch.equal(crops, again)
    offsets = {
        int(random_crop(images, 5, torch.Generator().manual_seed(s))[0, 0, 0, 0]) for s in range(20)
    }
    assert len(offsets) > 5  # the window moves
    square = images[:, :, :10, :10]
    assert random_crop(square, 10, torch.Generator()) is square  # the whole image: nothing to cut


def test_random_crop_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="between 1 and 10"):
        random_crop(torch.zeros(2, 1, 10, 10), 11, torch.Generator())
    with pytest.raises(ModelInputError, match=r"\[B, C, H, W\]"):
        random_crop(torch.zeros(10, 10), 4, torch.Generator())


# ----------------------------------------------------------------------------- NT-Xent
def test_nt_xent_matches_its_definition() -> None:
    g = torch.Generator().manual_seed(1)
    a, b, tau = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g), 0.3
    z = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
    losses = []
    for i in range(12):  # eq. (ch08-eq-ntxent), one window at a time
        partner = (i + 6) % 12
        others = [j for j in range(12) if j != i]
        denom = sum(torch.exp(z[i] @ z[j] / tau) for j in others)
        losses.append(-torch.log(torch.exp(z[i] @ z[partner] / tau) / denom))
    assert torch.allclose(nt_xent_loss(a, b, tau), torch.stack(losses).mean(), atol=1e-6)
    # identical views of well-separated images: the partner always wins by far
    assert nt_xent_loss(torch.eye(6), torch.eye(6), 0.05) < 1e-3
    with pytest.raises(ValueError, match="same shape"):
        nt_xent_loss(a, b[:5])
    with pytest.raises(ValueError, match="temperature"):
        nt_xent_loss(a, b, 0.0)


# ----------------------------------------------------------------------------- training
def test_self_supervised_training_learns_without_labels(split, tmp_path: Path) -> None:
    train, val, test = split
    config = TrainConfig(**{**SMALL.to_dict(), "betas": SMALL.betas, "epochs": 4, "episodes_per_epoch": 10,
                            "ssl_batch": 24, "crop_size": 32})  # fmt: skip
    history = train_self_supervised(config, train, val, tmp_path, device="cpu", progress=False)
    assert history["kind"] == "selfsup"
    assert history["train_loss"][-1] < 0.9 * history["train_loss"][0]
    net, cfg, _ = load_checkpoint(tmp_path)
    assert cfg == config
    with torch.random.fork_rng():
        torch.manual_seed(0)
        untrained = build_model("compact", embedding_dim=16, width=8)
    # The pretext task is learned on images it never trained on: two fresh views of each
    # validation image find each other better than with the random net it started from.
    g = torch.Generator().manual_seed(5)
    views = augment_batch(random_crop(torch.cat([val.images, val.images]), 32, g), g)
    with torch.no_grad():
        after, before = (
            nt_xent_loss(*m.eval()(views).chunk(2), temperature=0.2) for m in (net, untrained)
        )
    assert after < 0.9 * before
    unseen = episodic_accuracy(net, test, 3, 1, 5, 500, seed=2)
    assert unseen.mean > unseen.chance + 5 * unseen.ci95  # unseen classes, no labels used


def test_cropping_needs_a_size_agnostic_net(split, tmp_path: Path) -> None:
    train, val, _ = split
    config = TrainConfig(model="paper", crop_size=32, epochs=1, episodes_per_epoch=1)
    with pytest.raises(ValueError, match="crop_size=32 needs a net"):
        train_episodic(config, train, val, tmp_path, device="cpu", progress=False)


def test_runs_written_before_the_new_fields_still_resume() -> None:
    config = SMALL.to_dict()
    old = {
        k: v
        for k, v in config.items()
        if k not in {"crop_size", "ssl_batch", "temperature", "pretrained"}
    }
    ckpt = {"config": old, "kind": "episodic", "data": {}, "epoch": 1}
    check_resumable(ckpt, config, "episodic", {}, Path("model.pt"))  # no error
    with pytest.raises(Exception, match="crop_size"):
        check_resumable(ckpt, {**config, "crop_size": 16}, "episodic", {}, Path("model.pt"))


# ----------------------------------------------------------------------------- SimpleShot, tables
def test_simpleshot_centres_on_the_reference_and_normalises() -> None:
    g = torch.Generator().manual_seed(0)
    feats, ref = torch.randn(10, 3, generator=g) + 5, torch.randn(20, 3, generator=g) + 5
    out = simpleshot(feats, ref)
    assert torch.allclose(out.norm(dim=1), torch.ones(10))
    expected = feats - ref.mean(0)
    assert torch.allclose(out, expected / expected.norm(dim=1, keepdim=True))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        simpleshot(feats, ref[:, :2])


def test_few_shot_scores_use_the_same_episodes_as_episodic_accuracy(split) -> None:
    _, _, test = split
    feats = test.images.flatten(1).float()
    scores = few_shot_scores(feats, test, n_episodes=200, seed=3)
    assert set(scores) == {1, 5}
    ref = episodic_accuracy(feats, test, 3, 5, 15, 200, seed=3)
    assert torch.equal(scores[5].per_episode, ref.per_episode)


def test_method_result_and_ablation_rows(split, tmp_path: Path, capsys) -> None:
    train, val, test = split
    base = TrainConfig.preset("smoke", epochs=1, episodes_per_epoch=3, val_episodes=10)
    variations = [("base", {}), ("contrastive", {"kind": "siamese", "pairs_per_epoch": 32})]
    rows = run_ablation(base, "episodic", variations, [0, 1], lambda s: (train, val, test), tmp_path,
                        n_episodes=50)  # fmt: skip
    assert [(r["setting"], r["seed"]) for r in rows] == [
        ("base", 0),
        ("base", 1),
        ("contrastive", 0),
        ("contrastive", 1),
    ]
    assert all(0 <= r["1-shot"] <= 1 and r["best epoch"] == 1 for r in rows)
    assert (tmp_path / "contrastive" / "seed1" / "model.pt").is_file()
    capsys.readouterr()
    again = run_ablation(base, "episodic", variations, [0, 1], lambda s: (train, val, test), tmp_path,
                         n_episodes=50)  # fmt: skip
    assert capsys.readouterr().out.count("Loaded the trained model") == 4
    assert [r["1-shot"] for r in again] == [r["1-shot"] for r in rows]
    net, _, _ = load_checkpoint(tmp_path / "base" / "seed0")
    result = method_result(
        "base", "RS/Pa/In", net, train, test, n_episodes=50, latency_repeats=2, training_seed=0
    )
    row = result.row()
    assert (result.method, row["method"]) == ("base", "base (seed 0)")  # grouped by method
    assert row["parameters"] == sum(p.numel() for p in net.parameters())
    assert row["3-way 1-shot %"] == pytest.approx(100 * rows[0]["1-shot"], abs=0.051)
    assert row["CPU ms/query"] > 0


# ----------------------------------------------------------------------------- ResNet-18
def test_resnet18_embedding_trains_and_reloads(split, tmp_path: Path) -> None:
    train, val, _ = split
    net = ResNet18Embedding()
    assert net(torch.zeros(2, 1, 48, 48)).shape == (2, 512)
    assert ResNet18Embedding(embedding_dim=8).eval()(torch.zeros(1, 1, 32, 32)).shape == (1, 8)
    with pytest.raises(ModelInputError):
        net(torch.zeros(2, 3, 48, 48))
    config = TrainConfig(model="resnet18", embedding_dim=16, epochs=1, episodes_per_epoch=2, val_episodes=5,
                         n_query=2, lr=1e-4)  # fmt: skip
    train_episodic(config, train, val, tmp_path, device="cpu", progress=False)
    loaded, cfg, _ = load_checkpoint(tmp_path)
    assert isinstance(loaded, ResNet18Embedding) and cfg.model == "resnet18"


def test_imagenet_weights_missing_offline_keeps_random_init(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache
    net = ResNet18Embedding()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert load_imagenet_weights(net, allow_download=False) is False
    assert "weights=None" in capsys.readouterr().out
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_cached_imagenet_weights_load_without_a_network(tmp_path: Path, monkeypatch) -> None:
    from torchvision.models import ResNet18_Weights, resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    source = resnet18(weights=None)  # stands in for the real file: same names and shapes
    cached = tmp_path / "hub" / "checkpoints" / ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/")[-1]
    cached.parent.mkdir(parents=True)
    torch.save(source.state_dict(), cached)
    net = ResNet18Embedding()
    assert load_imagenet_weights(net, allow_download=False) is True
    assert torch.equal(net.backbone.conv1.weight, source.conv1.weight)


@pytest.fixture
def weights_server(tmp_path: Path):
    """A real HTTP server on 127.0.0.1 for files in ``tmp_path / 'www'``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


def test_hub_download_checks_the_digest_its_name_carries(weights_server, tmp_path: Path) -> None:
    root, base = weights_server
    body = b"weights" * 1000
    good = f"net-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    (root / good).write_bytes(body)
    (root / "net-00000000.pth").write_bytes(body)
    hub = tmp_path / "hub"
    assert fetch_hub_file(f"{base}/{good}", hub, True, Limits()).read_bytes() == body
    with pytest.raises(ValueError, match="does not start with 00000000"):
        fetch_hub_file(f"{base}/net-00000000.pth", hub, True, Limits())
    assert sorted(os.listdir(hub)) == [good]  # nothing half-written, no corrupt file kept


def test_hub_download_from_a_silent_server_is_given_up(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/net-abcdef12.pth"
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="deadline"):
            fetch_hub_file(url, tmp_path, True, Limits(deadline=1.0, min_rate=0))
    assert time.monotonic() - started < 10 and os.listdir(tmp_path) == []
