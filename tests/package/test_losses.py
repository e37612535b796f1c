"""Contrastive loss (eq. 1), its analytic gradient, and the prototypical loss."""

from __future__ import annotations

import math

import pytest
import torch

from oneshot_steel.losses import (
    contrastive_loss,
    contrastive_loss_grad,
    euclidean_distance,
    prototypical_loss,
)


def test_contrastive_hand_values() -> None:
    d = torch.tensor([1.0, 0.5, 3.0, 0.0])
    same = torch.tensor([1.0, 0.0, 0.0, 0.0])
    # pair 0, same, D=1:            1^2 / 2             = 0.5
    # pair 1, different, D=0.5:     (2 - 0.5)^2 / 2     = 1.125
    # pair 2, different, D=3 > m:   max(0, 2 - 3)^2 / 2 = 0
    # pair 3, different, D=0:       2^2 / 2             = 2
    per_pair = contrastive_loss(d, same, margin=2.0, reduction="none")
    assert torch.allclose(per_pair, torch.tensor([0.5, 1.125, 0.0, 2.0]))
    # mean = (0.5 + 1.125 + 0 + 2) / 4 = 0.90625; sum = 3.625
    assert contrastive_loss(d, same).item() == pytest.approx(0.90625)
    assert contrastive_loss(d, same, reduction="sum").item() == pytest.approx(3.625)
    # bool labels work the same way
    assert contrastive_loss(d, same.bool()).item() == pytest.approx(0.90625)


def test_contrastive_margin_behaviour() -> None:
    d = torch.tensor([1.5, 1.5])
    diff = torch.zeros(2)
    # m = 1: 1.5 is beyond the margin, nothing to push; m = 4: (4 - 1.5)^2 / 2 = 3.125
    assert contrastive_loss(d, diff, margin=1.0).item() == 0.0
    assert contrastive_loss(d, diff, margin=4.0).item() == pytest.approx(3.125)
    # the same-class term does not depend on the margin: 1.5^2 / 2 = 1.125
    same = torch.ones(2)
    assert contrastive_loss(d, same, margin=1.0).item() == pytest.approx(1.125)
    assert contrastive_loss(d, same, margin=4.0).item() == pytest.approx(1.125)
    with pytest.raises(ValueError, match="margin"):
        contrastive_loss(d, same, margin=0.0)
    with pytest.raises(ValueError, match="same shape"):
        contrastive_loss(d, torch.ones(3))


def test_authors_variant_equals_margin_four_scaled() -> None:
    # Their loss: y' = 1 for DIFFERENT, applied to D/2 with m = 2 -> ours with m = 4, scaled 1/4.
    gen = torch.Generator().manual_seed(0)
    d = torch.rand(50, generator=gen, dtype=torch.float64) * 6
    same = (torch.rand(50, generator=gen) < 0.5).double()
    theirs = contrastive_loss(d / 2, same, margin=2.0)
    assert torch.allclose(theirs, contrastive_loss(d, same, margin=4.0) / 4)


def test_analytic_grad_wrt_distance_matches_autograd() -> None:
    gen = torch.Generator().manual_seed(1)
    d = (torch.rand(40, generator=gen, dtype=torch.float64) * 4).requires_grad_()
    same = (torch.rand(40, generator=gen) < 0.5).double()
    contrastive_loss(d, same, margin=2.0).backward()
    # the mean's gradient is the per-pair gradient / B
    assert torch.allclose(d.grad * 40, contrastive_loss_grad(d.detach(), same, margin=2.0))
    # hand values: same D=1 -> 1; different D=0.5 -> -(2-0.5) = -1.5; different D=3 -> 0
    g = contrastive_loss_grad(torch.tensor([1.0, 0.5, 3.0]), torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(g, torch.tensor([1.0, -1.5, 0.0]))


def test_chain_rule_to_embeddings_matches_autograd() -> None:
    gen = torch.Generator().manual_seed(2)
    e1 = torch.randn(16, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    e2 = torch.randn(16, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    same = (torch.rand(16, generator=gen) < 0.5).double()
    d = euclidean_distance(e1, e2)
    contrastive_loss(d, same, margin=2.0, reduction="sum").backward()
    dl_dd = contrastive_loss_grad(d.detach(), same, margin=2.0)
    expected = dl_dd[:, None] * (e1 - e2).detach() / d.detach()[:, None]
    assert torch.allclose(e1.grad, expected)
    assert torch.allclose(e2.grad, -expected)


def test_gradcheck_float64() -> None:
    gen = torch.Generator().manual_seed(3)
    e1 = torch.randn(8, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    e2 = torch.randn(8, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    same = torch.tensor([1.0, 0.0] * 4, dtype=torch.float64)

    def loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return contrastive_loss(euclidean_distance(a, b), same, margin=2.0)

    assert torch.autograd.gradcheck(loss, (e1, e2))


def test_distance_gradient_finite_at_zero() -> None:
    e = torch.randn(4, 5, requires_grad=True)
    d = euclidean_distance(e, e.detach().clone())
    assert torch.all(d <= 1e-5)
    contrastive_loss(d, torch.zeros(4)).backward()  # the different-class term pushes hardest here
    assert torch.isfinite(e.grad).all()


def test_distance_half_precision_is_float32() -> None:
    a = torch.randn(3, 5).half()
    d = euclidean_distance(a, a)
    assert d.dtype == torch.float32 and torch.all(d > 0)


def test_prototypical_hand_example() -> None:
    # 2-way 2-shot in 1-d: prototypes mean([0, 2]) = 1 and mean([10, 12]) = 11.
    support = torch.tensor([[[0.0], [2.0]], [[10.0], [12.0]]])
    # query 0 at 2 (class 0): distances^2 to (1, 11) = (1, 81) -> logits (-1, -81): correct
    # query 1 at 5 (class 1): distances^2 = (16, 36) -> logits (-16, -36): nearest is 0, wrong
    query = torch.tensor([[[2.0]], [[5.0]]])
    loss, acc = prototypical_loss(support, query)
    assert acc.item() == pytest.approx(0.5)
    # CE: query 0: log(1 + e^-80) ~ 0; query 1: -(-36) + log(e^-16 + e^-36) = 20 + log(1 + e^-20)
    expected = (math.log1p(math.exp(-80)) + 20 + math.log1p(math.exp(-20))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # the flat [N*Q, D] layout gives the same result
    loss_flat, acc_flat = prototypical_loss(support, query.reshape(2, 1))
    assert loss_flat.item() == pytest.approx(loss.item()) and acc_flat.item() == acc.item()


def test_prototypical_perfect_and_gradients() -> None:
    gen = torch.Generator().manual_seed(4)
    centers = torch.randn(5, 1, 8, generator=gen) * 10
    support = (centers + 0.1 * torch.randn(5, 3, 8, generator=gen)).requires_grad_()
    query = centers + 0.1 * torch.randn(5, 4, 8, generator=gen)
    loss, acc = prototypical_loss(support, query)
    assert acc.item() == 1.0 and loss.item() < 1e-3
    loss.backward()
    assert support.grad is not None and torch.isfinite(support.grad).all()
    with pytest.raises(ValueError, match="support"):
        prototypical_loss(support[0], query)
    with pytest.raises(ValueError, match="query"):
        prototypical_loss(support, query[:, :, :4])
