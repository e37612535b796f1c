"""The Siamese branches for sequences, and their training through the book's own loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from oneshot_steel.errors import ModelInputError
from oneshot_steel.evaluate import embed
from oneshot_steel.models import build_model
from oneshot_steel.sequence_nets import GRUEmbeddingNet, WDCNNEmbeddingNet
from oneshot_steel.train import TrainConfig, load_checkpoint, train_siamese
from oneshot_steel.vibration.signals import window_set
from oneshot_steel.vibration.synthetic import synthetic_recordings


@pytest.mark.parametrize("name", ["wdcnn", "gru"])
def test_branches_embed_any_window_and_ignore_loudness(name: str) -> None:
    net = build_model(name, embedding_dim=8, width=4).eval()
    x = torch.randn(3, 1, 2048)
    for length in (512, 2048):
        assert net(x[..., :length]).shape == (3, 8)
    assert torch.allclose(net(x), net(5 * x + 2), atol=1e-4)  # standardised inside
    with pytest.raises(ModelInputError, match=r"\[B, 1, L >= "):
        net(torch.randn(3, 2048))
    with pytest.raises(ModelInputError, match="expects"):
        net(torch.randn(3, 2, 2048))
    with pytest.raises(ValueError, match="positive"):
        type(net)(embedding_dim=0)


def test_classes_are_the_registered_ones() -> None:
    assert isinstance(build_model("wdcnn"), WDCNNEmbeddingNet)
    assert isinstance(build_model("gru"), GRUEmbeddingNet)


def test_contrastive_training_on_windows_checkpoints_and_reloads(tmp_path: Path) -> None:
    recs = synthetic_recordings(length=8192)
    data = window_set(recs[:13], 1024, 1024, classes=["Normal", "IR007", "IR014", "IR021"])
    cfg = TrainConfig(model="wdcnn", width=4, embedding_dim=8, epochs=1, pairs_per_epoch=32,
                      batch_size=16, val_pairs=16, augment=False, amp=False)  # fmt: skip
    history = train_siamese(cfg, data, None, tmp_path / "run", progress=False)
    assert history["epoch"] == [1]
    net = load_checkpoint(tmp_path / "run" / "model.pt", "cpu", weights="last")[0]
    assert isinstance(net, WDCNNEmbeddingNet) and embed(net, data).shape == (len(data), 8)
    with pytest.raises(ValueError, match="augment=False"):
        train_siamese(TrainConfig(model="wdcnn", epochs=1), data, None, tmp_path / "x")
