"""oneshot_steel.metric: SimpleShot's finish and the within-class whitening."""

from __future__ import annotations

import pytest
import torch

from oneshot_steel.metric import finish_feature, within_class_whitening


def test_within_class_whitening_shrinks_what_varies_inside_the_training_classes() -> None:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(300) % 3
    # three classes apart along axis 0; inside each, a wide nuisance along axis 1
    feats = torch.stack(
        [labels.float() * 2, 5 * torch.randn(300, generator=g), torch.randn(300, generator=g)], 1
    )
    mean, matrix = within_class_whitening(feats, labels, strength=0.1)
    torch.testing.assert_close(mean, feats.mean(0))
    torch.testing.assert_close(matrix, matrix.T)  # a symmetric square root
    within = torch.stack([torch.cov(feats[labels == c].T) for c in range(3)]).mean(0)
    reg = within + 0.1 * torch.linalg.eigvalsh(within).mean() * torch.eye(3)
    torch.testing.assert_close(matrix @ reg @ matrix, torch.eye(3), atol=1e-4, rtol=1e-4)
    # the nuisance axis, wide within classes, is scaled down most
    assert matrix[1, 1] < matrix[0, 0] / 3 and matrix[1, 1] < matrix[2, 2] / 3
    weak = within_class_whitening(feats, labels, strength=1e6)[1]  # near inf: a multiple of I
    torch.testing.assert_close(weak / weak[0, 0], torch.eye(3), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="at least 2 classes"):
        within_class_whitening(feats, torch.zeros(300, dtype=torch.long), 1.0)
    with pytest.raises(ValueError, match="strength"):
        within_class_whitening(feats, labels, 0.0)
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        within_class_whitening(feats, labels[:10], 1.0)


def test_finish_feature_is_simpleshot_then_the_metric() -> None:
    g = torch.Generator().manual_seed(0)
    f, base = torch.randn(6, 4, generator=g), torch.randn(4, generator=g)
    z = torch.nn.functional.normalize(f - base, dim=1)
    torch.testing.assert_close(finish_feature(f, base), z)  # no metric: SimpleShot
    shift, matrix = torch.randn(4, generator=g), torch.randn(4, 4, generator=g)
    out = finish_feature(f, base, shift, matrix)
    torch.testing.assert_close(out, torch.nn.functional.normalize((z - shift) @ matrix, dim=1))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(6))


def test_add_coarse_view_keeps_the_net_and_finishes_the_half_size_view_on_its_own() -> None:
    from oneshot_steel.augment import to_model_input
    from oneshot_steel.metric import add_coarse_view, shrink_by_half
    from oneshot_steel.models import CompactEmbeddingNet

    torch.manual_seed(0)
    net = CompactEmbeddingNet(8, 4, centre=True, within_class=True).eval()
    images = torch.randint(0, 256, (40, 1, 64, 64), dtype=torch.uint8)
    labels = torch.arange(40) % 4
    x = to_model_input(images)
    with torch.no_grad():
        net.base_mean.normal_()
        twin = add_coarse_view(net, images, labels, 1.0)
        joined, alone = twin(x), net(x)
        raw_coarse = net.raw(shrink_by_half(x))
    assert joined.shape == (40, 16) and not net.coarse_view  # the original is untouched
    torch.testing.assert_close(joined.norm(dim=1), torch.ones(40))
    # the image's own half: exactly what the net returned, at 1/sqrt(2) of the joined length
    torch.testing.assert_close(joined[:, :8] * 2**0.5, alone)
    # the coarse half: centred on the training images' own mean at half size, then whitened
    torch.testing.assert_close(twin.coarse_mean, raw_coarse.mean(0))
    centred = nn_normalize(raw_coarse - raw_coarse.mean(0))
    mean, matrix = within_class_whitening(centred, labels, 1.0)
    torch.testing.assert_close(twin.coarse_metric, matrix)
    expected = nn_normalize((centred - mean) @ matrix)
    torch.testing.assert_close(joined[:, 8:] * 2**0.5, expected, rtol=1e-4, atol=1e-5)
    assert torch.equal(twin.base_mean, net.base_mean)  # not refitted on these images


def test_add_coarse_view_refuses_what_it_cannot_extend() -> None:
    from oneshot_steel.metric import add_coarse_view
    from oneshot_steel.models import CompactEmbeddingNet

    images = torch.zeros(4, 1, 64, 64, dtype=torch.uint8)
    with pytest.raises(ValueError, match="centred CompactEmbeddingNet"):
        add_coarse_view(CompactEmbeddingNet(8, 4), images)
    with pytest.raises(ValueError, match="pass train_labels and whitening"):
        add_coarse_view(CompactEmbeddingNet(8, 4, centre=True, within_class=True), images)
    twin = add_coarse_view(CompactEmbeddingNet(8, 4, centre=True), images)
    with pytest.raises(ValueError, match="without a coarse view"):
        add_coarse_view(twin, images)
    with pytest.raises(ValueError, match=r"uint8 batch \[N, C, H, W\].*got torch.float32"):
        add_coarse_view(CompactEmbeddingNet(8, 4, centre=True), images.float())
    with pytest.raises(ValueError, match="at least 64 px"):
        add_coarse_view(CompactEmbeddingNet(8, 4, centre=True), images[..., :40, :40])


def test_add_coarse_view_takes_an_imageset_with_its_labels() -> None:
    from oneshot_steel.data.imageset import ImageSet
    from oneshot_steel.metric import add_coarse_view
    from oneshot_steel.models import CompactEmbeddingNet

    torch.manual_seed(0)
    net = CompactEmbeddingNet(8, 4, centre=True, within_class=True).eval()
    images = torch.randint(0, 256, (12, 1, 64, 64), dtype=torch.uint8)
    labels = torch.arange(12) % 3
    train = ImageSet(images, labels, ["a", "b", "c"], [f"i{k}" for k in range(12)])
    from_set = add_coarse_view(net, train, whitening=1.0)
    from_tensors = add_coarse_view(net, images, labels, 1.0)
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(from_set(x), from_tensors(x))


def nn_normalize(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=1)
