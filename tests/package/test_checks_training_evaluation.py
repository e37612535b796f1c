"""The self-checks of chapters 5 and 6: a right answer passes, a plausible wrong one fails."""

from __future__ import annotations

import pytest
import torch

from oneshot_steel.checks import CheckFailed, check


def _pair_loss(net, images, idx1, idx2, same, margin):
    x = torch.cat([images[idx1], images[idx2]]).float() / 127.5 - 1.0
    e1, e2 = net(x).chunk(2)
    d = (e1 - e2).pow(2).sum(dim=1).sqrt()
    return (same * 0.5 * d**2 + (1 - same) * 0.5 * torch.clamp(margin - d, min=0) ** 2).mean()


def _pair_loss_wrong_scale(net, images, idx1, idx2, same, margin):
    x = torch.cat([images[idx1], images[idx2]]).float() / 255.0  # [0, 1] instead of [-1, 1]
    e1, e2 = net(x).chunk(2)
    d = (e1 - e2).norm(dim=1)
    return (same * 0.5 * d**2 + (1 - same) * 0.5 * torch.clamp(margin - d, min=0) ** 2).mean()


def _episode_accuracy(emb, support, query):
    protos = emb[support].mean(dim=2)
    q = emb[query]
    e, n, nq, d = q.shape
    dist = torch.cdist(q.reshape(e, n * nq, d), protos)
    return (dist.argmin(dim=2) == torch.arange(n).repeat_interleave(nq)).float().mean(dim=1)


def _episode_accuracy_first_shot_only(emb, support, query):
    return _episode_accuracy(emb, support[..., :1], query)  # ignores K > 1


def _best_threshold(distances, same):
    d, _ = torch.sort(distances)
    cuts = torch.cat([d[:1] - 1, (d[1:] + d[:-1]) / 2, d[-1:] + 1])
    right = ((distances[None, :] < cuts[:, None]).float() == same[None, :]).sum(dim=1)
    return float(cuts[right.argmax()])


@pytest.mark.parametrize(
    ("name", "right", "wrong"),
    [
        ("ch05.pair_loss", _pair_loss, _pair_loss_wrong_scale),
        ("ch06.episode_accuracy", _episode_accuracy, _episode_accuracy_first_shot_only),
        ("ch06.best_threshold", _best_threshold, lambda d, s: 2.0),
    ],
)
def test_chapter_checks(name, right, wrong, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(name, right)
    assert "✅ pass" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="❌ fail"):
        check(name, wrong)
    assert not check(name, ...)
