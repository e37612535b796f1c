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
