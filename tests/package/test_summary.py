"""model_summary: per-layer shapes, parameters and multiply-adds, counted by hand here."""

from __future__ import annotations

import pytest
import torch

from oneshot_steel.models import CompactEmbeddingNet, PaperEmbeddingNet, SiameseNetwork
from oneshot_steel.summary import model_summary


def test_paper_net_parameter_count_and_fc1_share(paper_net: PaperEmbeddingNet) -> None:
    # conv: 4*9+4 + 8*36+8 + 8*72+8 = 920; fc: 80000*500+500 + 500*500+500 + 500*5+5
    assert sum(p.numel() for p in paper_net.parameters()) == 40_254_425
    summary = model_summary(paper_net, (1, 100, 100))
    assert summary.total_params == 40_254_425
    fc1 = summary.layer("fc1")
    assert fc1.params == 80_000 * 500 + 500
    assert round(100 * fc1.params / summary.total_params, 1) == 99.4


def test_paper_net_shapes_and_macs(paper_net: PaperEmbeddingNet) -> None:
    summary = model_summary(paper_net, (1, 100, 100))
    shapes = {row.name.split(".")[-1]: row.output_shape for row in summary.layers}
    assert shapes["conv1"] == (4, 100, 100)
    assert shapes["conv2"] == (8, 100, 100)
    assert shapes["conv3"] == (8, 100, 100)
    assert shapes["flatten"] == (80_000,)
    assert shapes["fc1"] == (500,) and shapes["fc2"] == (500,) and shapes["fc3"] == (5,)
    # MACs per image: convs 10^4 * (4*9 + 8*36 + 8*72) = 9.0 M; FCs 40 M + 0.25 M + 2.5 k.
    assert summary.total_macs == 9_000_000 + 40_000_000 + 250_000 + 2_500
    assert 49e6 < summary.total_macs < 50e6
    # The batch size of input_size does not change the per-image counts.
    assert model_summary(paper_net, (3, 1, 100, 100)).total_macs == summary.total_macs
    assert "40,254,425" in str(summary)
    assert summary.as_dicts()[0]["layer"].endswith("conv1")


def test_compact_net_summary_restores_training_mode() -> None:
    torch.manual_seed(0)
    net = CompactEmbeddingNet(embedding_dim=64, width=32)
    net.train()
    summary = model_summary(net, (1, 100, 100))
    assert summary.total_params == sum(p.numel() for p in net.parameters())
    assert summary.layer("head").output_shape == (64,)
    assert net.training  # model_summary restores the training flag


def test_siamese_network_is_summarised_by_its_branch(paper_net: PaperEmbeddingNet) -> None:
    siamese = SiameseNetwork(paper_net)
    assert model_summary(siamese).total_macs == model_summary(paper_net).total_macs


def test_bad_input_size_is_named() -> None:
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        model_summary(CompactEmbeddingNet(), (100, 100))
