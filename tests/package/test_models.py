"""Models: Fig. 1 architecture, parameter/MAC counts, weight sharing, input validation."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from oneshot_steel.errors import ModelInputError
from oneshot_steel.models import (
    CompactEmbeddingNet,
    PaperCNNClassifier,
    PaperEmbeddingNet,
    PaperNet,
    SiameseNetwork,
    build_model,
)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_paper_net_layers_are_exactly_fig1(paper_net: PaperEmbeddingNet) -> None:
    convs = [m for m in paper_net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 4), (4, 8), (8, 8)]
    assert all(
        c.kernel_size == (3, 3) and c.stride == (1, 1) and c.padding == (1, 1) for c in convs
    )
    linears = [m for m in paper_net.modules() if isinstance(m, nn.Linear)]
    assert [(f.in_features, f.out_features) for f in linears] == [
        (80_000, 500),
        (500, 500),
        (500, 5),
    ]
    assert not isinstance(list(paper_net.net.children())[-1], nn.ReLU)  # no ReLU after fc3


def test_paper_net_output_can_be_negative(paper_net: PaperEmbeddingNet) -> None:
    x = torch.rand(4, 1, 100, 100, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        out = paper_net(x)
    assert out.shape == (4, 5) and out.dtype == torch.float32
    assert (out < 0).any()  # no activation after the last layer


def test_paper_net_other_sizes() -> None:
    net = PaperEmbeddingNet(image_size=32, embedding_dim=3)
    assert net(torch.zeros(2, 1, 32, 32)).shape == (2, 3)
    assert n_params(net) == 920 + 8 * 32 * 32 * 500 + 500 + 250_500 + 500 * 3 + 3


@pytest.mark.parametrize(
    ("shape", "dtype", "fragment"),
    [
        ((1, 100, 100), torch.float32, "unsqueeze"),
        ((2, 3, 100, 100), torch.float32, "channel"),
        ((2, 1, 64, 64), torch.float32, "100x100"),
        ((2, 1, 100, 100), torch.uint8, "to_model_input"),
    ],
)
def test_paper_net_rejects_bad_input(
    paper_net: PaperEmbeddingNet, shape: tuple[int, ...], dtype: torch.dtype, fragment: str
) -> None:
    with pytest.raises(ModelInputError) as info:
        paper_net(torch.zeros(shape, dtype=dtype))
    message = str(info.value)
    assert fragment in message
    assert str(shape) in message  # the received shape is named
    assert "[B, 1, 100, 100]" in message  # and the expected one


def test_siamese_shares_weights_and_distance(paper_net: PaperEmbeddingNet) -> None:
    siamese = SiameseNetwork(paper_net)
    assert n_params(siamese) == n_params(paper_net)  # one set of weights, not two
    gen = torch.Generator().manual_seed(2)
    x1 = torch.rand(3, 1, 100, 100, generator=gen) * 2 - 1
    x2 = torch.rand(3, 1, 100, 100, generator=gen) * 2 - 1
    with torch.no_grad():
        d, e1, e2 = siamese(x1, x2, return_embeddings=True)
        d_only = siamese(x1, x2)
        assert torch.allclose(e1, paper_net(x1), atol=1e-5)
        assert torch.allclose(e2, siamese.embed(x2), atol=1e-5)
        assert torch.allclose(d, (e1 - e2).norm(dim=1), atol=1e-5)
        assert torch.allclose(d, d_only)
        assert torch.allclose(siamese(x1, x1), torch.zeros(3), atol=1e-5)
    assert d.shape == (3,)
    assert siamese.embedding_dim == 5


def test_siamese_gradient_finite_at_zero_distance() -> None:
    torch.manual_seed(0)
    siamese = SiameseNetwork(CompactEmbeddingNet(embedding_dim=8, width=4))
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    d = siamese(x, x.clone())
    assert torch.all(d < 1e-5)
    d.sum().backward()
    grads = [p.grad for p in siamese.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_siamese_rejects_mismatched_pairs() -> None:
    siamese = SiameseNetwork(CompactEmbeddingNet(width=4))
    with pytest.raises(ModelInputError, match=r"\(2, 1, 32, 32\) and \(3, 1, 32, 32\)"):
        siamese(torch.zeros(2, 1, 32, 32), torch.zeros(3, 1, 32, 32))


def test_cnn_classifier() -> None:
    torch.manual_seed(0)
    model = PaperCNNClassifier(num_classes=6, image_size=100)
    assert n_params(model) == 40_254_425 - 2_505 + 500 * 6 + 6
    assert model(torch.zeros(2, 1, 100, 100)).shape == (2, 6)
    rgb = PaperCNNClassifier(num_classes=6, image_size=32, in_channels=3)
    assert rgb(torch.zeros(1, 3, 32, 32)).shape == (1, 6)
    with pytest.raises(ModelInputError, match="3 channel"):
        rgb(torch.zeros(1, 1, 32, 32))


def test_compact_net_any_size_and_small() -> None:
    torch.manual_seed(0)
    net = CompactEmbeddingNet(embedding_dim=64, width=32)
    assert n_params(net) < 1_000_000
    net.eval()
    with torch.no_grad():
        for size in (32, 100, 200):
            assert net(torch.zeros(2, 1, size, size)).shape == (2, 64)
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    with pytest.raises(ModelInputError, match="at least 32x32"):
        net(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ModelInputError, match="1 channel"):
        net(torch.zeros(2, 3, 64, 64))


def test_compact_net_trains_in_siamese() -> None:
    torch.manual_seed(0)
    siamese = SiameseNetwork(build_model("compact", embedding_dim=4, width=4))
    opt = torch.optim.SGD(siamese.parameters(), lr=0.1)
    x1, x2 = torch.rand(4, 1, 32, 32), torch.rand(4, 1, 32, 32)
    d0 = siamese(x1, x2).sum()
    d0.backward()
    opt.step()
    assert all(torch.isfinite(p).all() for p in siamese.parameters())


def test_build_model() -> None:
    assert isinstance(build_model("compact", width=4), CompactEmbeddingNet)
    net = build_model("Paper", image_size=32, embedding_dim=2)
    assert isinstance(net, PaperEmbeddingNet) and net.embedding_dim == 2
    with pytest.raises(ValueError, match="compact"):
        build_model("resnet")


# ------------------------------------------------------- checkpoints of the old class layout
#: The state_dict keys of both paper nets since the first checkpoint: ``PaperNet`` must keep them.
PAPER_KEYS = [f"net.{layer}.{p}" for layer in ("conv1", "conv2", "conv3", "fc1", "fc2", "fc3")
              for p in ("weight", "bias")]  # fmt: skip


class _OldPaperLayout(nn.Module):
    """PaperEmbeddingNet / PaperCNNClassifier as they were written before they shared PaperNet
    (a frozen copy of Fig. 1, so that the test does not use the code it checks)."""

    def __init__(self, image_size: int, out_dim: int) -> None:
        super().__init__()
        conv = {"kernel_size": 3, "stride": 1, "padding": 1}
        self.net = nn.Sequential(
            OrderedDict(
                [("conv1", nn.Conv2d(1, 4, **conv)), ("relu1", nn.ReLU()),
                 ("conv2", nn.Conv2d(4, 8, **conv)), ("relu2", nn.ReLU()),
                 ("conv3", nn.Conv2d(8, 8, **conv)), ("relu3", nn.ReLU()),
                 ("flatten", nn.Flatten()),
                 ("fc1", nn.Linear(8 * image_size**2, 500)), ("relu4", nn.ReLU()),
                 ("fc2", nn.Linear(500, 500)), ("relu5", nn.ReLU()),
                 ("fc3", nn.Linear(500, out_dim))]
            )
        )  # fmt: skip


@pytest.mark.parametrize("cls, out_dim", [(PaperEmbeddingNet, 5), (PaperCNNClassifier, 6)])
def test_paper_nets_load_state_dicts_of_the_old_layout(
    cls: type[PaperNet], out_dim: int, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    old = _OldPaperLayout(image_size=8, out_dim=out_dim).eval()
    torch.save(old.state_dict(), tmp_path / "old.pt")  # what an old checkpoint holds
    new = cls(out_dim, image_size=8) if cls is PaperCNNClassifier else cls(8, out_dim)
    assert list(new.state_dict()) == list(old.state_dict()) == PAPER_KEYS
    new.load_state_dict(torch.load(tmp_path / "old.pt", weights_only=True))  # strict
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        assert torch.equal(new.eval()(x), old.net(x))
    assert isinstance(new, PaperNet) and new.out_dim == out_dim


def test_paper_net_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="embedding_dim"):
        PaperEmbeddingNet(embedding_dim=0)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        PaperCNNClassifier(num_classes=1)
    with pytest.raises(ValueError, match="image_size=0"):
        PaperNet(3, image_size=0)


def test_centred_compact_net_returns_simpleshot_features_in_eval_mode() -> None:
    torch.manual_seed(0)
    net = CompactEmbeddingNet(embedding_dim=8, width=4, centre=True)
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    mean = torch.randn(8)
    net.base_mean.copy_(mean)
    assert torch.equal(net(x), net.raw(x))  # training reads the raw feature
    net.eval()
    expected = torch.nn.functional.normalize(net.raw(x) - mean, dim=1)
    torch.testing.assert_close(net(x), expected)
    assert "base_mean" in net.state_dict()  # the mean travels with the checkpoint
    assert "base_mean" not in CompactEmbeddingNet(embedding_dim=8, width=4).state_dict()


def test_a_within_class_metric_changes_nothing_until_set_then_whitens() -> None:
    torch.manual_seed(0)
    net = CompactEmbeddingNet(8, 4, centre=True, within_class=True).eval()
    plain = CompactEmbeddingNet(8, 4, centre=True).eval()
    plain.load_state_dict(net.state_dict(), strict=False)
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(net(x), plain(x))  # identity metric: SimpleShot unchanged
    metric, shift = torch.randn(8, 8), torch.randn(8)
    net.metric.copy_(metric)
    net.metric_mean.copy_(shift)
    expected = torch.nn.functional.normalize((plain(x) - shift) @ metric, dim=1)
    torch.testing.assert_close(net(x), expected)
    assert {"metric", "metric_mean"} <= set(net.state_dict())  # they travel with the checkpoint
    with pytest.raises(ValueError, match="needs centre=True"):
        CompactEmbeddingNet(8, 4, within_class=True)


def test_a_coarse_view_needs_a_centred_net_and_images_twice_the_smallest_size() -> None:
    with pytest.raises(ValueError, match="coarse_view=True needs centre=True"):
        CompactEmbeddingNet(embedding_dim=8, width=4, coarse_view=True)
    net = CompactEmbeddingNet(embedding_dim=8, width=4, centre=True, coarse_view=True)
    assert {"coarse_mean", "base_mean"} <= set(net.state_dict())
    assert net.train()(torch.zeros(2, 1, 40, 40)).shape == (2, 8)  # training windows: >= 32
    with pytest.raises(ModelInputError, match="at least 64x64"):
        net.eval()(torch.zeros(2, 1, 40, 40))
    assert net.eval()(torch.zeros(2, 1, 64, 64)).shape == (2, 16)
