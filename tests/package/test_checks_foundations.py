"""The self-checks of chapters 1 to 4: a right answer passes, a plausible wrong one fails."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from oneshot_steel.augment import augment_views
from oneshot_steel.checks import CheckFailed, check


def _texture(images):  # chapter 1's fingerprint: blind to brightness and position only
    z = images.float()[:, 0]
    z = (z - z.mean(dim=(1, 2), keepdim=True)) / (z.std(dim=(1, 2), keepdim=True) + 1e-6)
    spectrum = torch.fft.fftshift(torch.fft.fft2(z).abs().log1p(), dim=(-2, -1))
    return F.avg_pool2d(spectrum[:, None], 4).flatten(1)


def _dihedral_texture(images):
    views = [torch.rot90(images, k, dims=(-2, -1)) for k in range(4)]
    views += [torch.flip(v, dims=(-1,)) for v in views]
    return torch.stack([_texture(v) for v in views]).mean(dim=0)


def _d4_element(k, h, v):  # r^k v^v s^h = r^(k + 2v) s^(h + v), since v = r^2 s
    return (k + 2 * v) % 4 + 4 * ((h + v) % 2)


def _group_average(f, images):
    views = torch.cat([augment_views(x) for x in images])
    return f(views).reshape(len(images), 8, -1).mean(dim=1)


def _pooled_cost(size, side=lambda s, n: s // 2**n):
    s1, s2, s3 = side(size, 1), side(size, 2), side(size, 3)
    params = 10 * 4 + 37 * 8 + 73 * 8 + (8 * s3 * s3 + 1) * 500 + 501 * 500 + 501 * 5
    macs = size**2 * 4 * 9 + s1**2 * 8 * 36 + s2**2 * 8 * 72 + 8 * s3**2 * 500 + 500 * 505
    return params, macs


def _pooled_cost_rounding_up(size):
    return _pooled_cost(size, side=lambda s, n: math.ceil(s / 2**n))


@pytest.mark.parametrize(
    ("name", "right", "wrongs"),
    [
        (
            "ch01.dihedral_fingerprint",
            _dihedral_texture,
            [_texture, lambda x: x.float().flatten(1).sort(dim=1).values],
        ),
        ("ch02.d4_element", _d4_element, [lambda k, h, v: k + 4 * h]),
        ("ch02.group_average", _group_average, [lambda f, x: f(x)]),
        (
            "ch03.rescaled_loss",
            lambda a, m: (1 / a**2, a * m),
            [lambda a, m: (1 / a, a * m), lambda a, m: (1 / a**2, m / a)],
        ),
        ("ch04.pooled_cost", _pooled_cost, [_pooled_cost_rounding_up]),
    ],
)
def test_chapter_checks(name, right, wrongs, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(name, right)
    assert "✅ pass" in capsys.readouterr().out
    for wrong in wrongs:
        with pytest.raises(CheckFailed, match="❌ fail"):
            check(name, wrong)
    assert not check(name, ...)
