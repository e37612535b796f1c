"""Named checks of the book's first part, *Foundations*: chapters 1-4 (data, augmentation,
contrastive loss, Siamese network).

Each asks for the step after the chapter's own code (a new invariance, a formula for a case
the chapter did not compute, a prediction to verify), and tests what the answer does.
Imported by the package's ``__init__``, which registers them.
"""

from __future__ import annotations

from typing import Any

import torch

from .generic import (
    CheckResult,
    _as_array,
    _call,
    _fail,
    _passed,
    check_function,
)
from .registry import register


# ------------------------------------------------------------ chapter 1: the data set
def _ch01_textures() -> torch.Tensor:
    """Six 24x24 uint8 test images in [40, 200]: blurred noise (isotropic and stretched
    along one axis, which a quarter turn changes) and stripes, so that no transform below
    leaves an image unchanged by accident and no offset below clips."""
    g = torch.Generator().manual_seed(1)
    noise = torch.rand(6, 1, 24, 24, generator=g)
    blurred = [
        torch.nn.functional.avg_pool2d(noise[i : i + 1], kernel, stride=1, padding=pad)
        for i, (kernel, pad) in enumerate([((3, 3), (1, 1)), ((1, 7), (0, 3)), ((5, 1), (2, 0))])
    ]
    rows = torch.arange(24.0)
    stripes = [
        torch.sin(rows[:, None] * 2.1 + 0.3 * rows[None, :]) + 0.3 * noise[3, 0],
        torch.sin(rows[None, :] * 0.8) * torch.cos(rows[:, None] * 0.2) + 0.2 * noise[4, 0],
        noise[5, 0],
    ]
    images = torch.cat([*blurred, *(s[None, None] for s in stripes)])
    lo = images.amin(dim=(1, 2, 3), keepdim=True)
    hi = images.amax(dim=(1, 2, 3), keepdim=True)
    return (40 + 160 * (images - lo) / (hi - lo)).round().to(torch.uint8)


@register("ch01.dihedral_fingerprint")
def _ch01_dihedral_fingerprint(candidate: Any) -> CheckResult:
    """``candidate(images_uint8 [N, 1, S, S])`` -> features ``[N, D]`` that do not change when
    an image is turned by a quarter turn, mirrored, shifted circularly or brightened, but
    that still tell textures apart (an image and its own pixels shuffled, which share every
    statistic of the histogram, must get different features)."""
    what = "a texture fingerprint blind to rotations and flips"
    hint = (
        "the chapter's fingerprint already ignores brightness and position; average it over "
        "the 8 views of each image: torch.rot90(images, k, dims=(-2, -1)) for k = 0..3, and "
        "the same four of torch.flip(images, dims=(-1,))."
    )
    images = _ch01_textures()
    got = _call(candidate, what, hint, images.clone())
    try:
        base = torch.as_tensor(_as_array(got))
    except (TypeError, ValueError):
        _fail(what, f"expected a tensor of features, got a {type(got).__name__}", hint)
    if base.ndim != 2 or base.shape[0] != len(images):
        _fail(what, f"expected features of shape [{len(images)}, D], got {tuple(base.shape)}", hint)
    if not torch.isfinite(base).all():
        _fail(what, "some features are not finite (NaN or inf)", hint)
    scale = float(base.abs().max()) + 1e-12
    g = torch.Generator().manual_seed(2)
    changes = {
        "a quarter turn": torch.rot90(images, 1, dims=(-2, -1)),
        "a half turn": torch.rot90(images, 2, dims=(-2, -1)),
        "a horizontal flip": torch.flip(images, dims=(-1,)),
        "a vertical flip": torch.flip(images, dims=(-2,)),
        "a transpose (flip about the diagonal)": images.transpose(-2, -1),
        "a circular shift by (5, 9) pixels": torch.roll(images, (5, 9), dims=(-2, -1)),
        "a brightness offset of +25": images + 25,
    }
    for name, changed in changes.items():
        moved = torch.as_tensor(_as_array(_call(candidate, what, hint, changed.clone())))
        if moved.shape != base.shape:
            _fail(what, f"after {name} the features have shape {tuple(moved.shape)}", hint)
        err = float((moved - base).abs().max())
        if err > 1e-4 * scale:
            _fail(
                what,
                f"{name} changes the features by up to {err:.3g} (their largest value is "
                f"{scale:.3g}); they should not change at all",
                hint,
            )
    order = torch.randperm(24 * 24, generator=g)
    shuffled = images.flatten(1)[:, order].reshape(images.shape)
    other = torch.as_tensor(_as_array(_call(candidate, what, hint, shuffled)))
    gap = (other - base).norm(dim=1) / (base.norm(dim=1) + 1e-12)
    if float(gap[:3].min()) < 1e-2:
        _fail(
            what,
            "an image and the same pixels in random order get (nearly) the same features: "
            "a fingerprint of the histogram alone (mean, spread, sorted pixels) cannot see "
            "texture",
            hint,
        )
    return _passed(what, f"{len(changes)} transforms of {len(images)} images, and shuffled pixels")


# ------------------------------------------------------------ chapter 2: augmentation
@register("ch02.d4_element")
def _ch02_d4_element(candidate: Any) -> CheckResult:
    """``candidate(k, h, v)`` -> which of ``augment_views``' 8 views (0-7) the recipe gives.

    The recipe is row ``4k + 2h + v`` of :func:`~oneshot_steel.augment.dihedral_index_maps`;
    applied to an image whose pixels all differ it is matched against
    :func:`~oneshot_steel.augment.augment_views`. All 16 recipes are checked.
    """
    from ..augment import augment_views, dihedral_index_maps

    what = "the element of D4 that each recipe (k, h, v) produces"
    hint = (
        "the package applies h, then v, then r^k; write v = r^2 s (eq. vflip), use "
        "s r = r^-1 s, and read off r^j s^f: the view index is j + 4 f."
    )
    marker = torch.arange(36).reshape(1, 6, 6)
    views = augment_views(marker).flatten(1)
    maps = dihedral_index_maps(6)
    for k in range(4):
        for h in (0, 1):
            for v in (0, 1):
                moved = marker.flatten()[maps[4 * k + 2 * h + v]]
                want = int((views == moved).all(dim=1).nonzero()[0])
                got = _call(candidate, what, hint, k, h, v)
                if got != want:
                    _fail(
                        what,
                        f"for k = {k}, h = {h}, v = {v} expected view {want}, got {got!r}",
                        hint,
                    )
    return _passed(what, "all 16 recipes")


@register("ch02.group_average")
def _ch02_group_average(candidate: Any) -> CheckResult:
    """``candidate(f, images [B, C, S, S])`` -> ``[B, D]``: the mean of ``f`` over the 8 views
    of each image. The reference is ``f(augment_views(x)).mean(0)`` per image, for two
    functions ``f`` that are far from invariant (a linear map of the pixels, a small
    convolutional network); the result must then be invariant, which it is by the proof."""
    from torch import nn

    from ..augment import augment_views

    what = "the group-averaged embedding"
    hint = (
        "stack the 8 views of every image (augment_views(x) for one image x), embed all "
        "B * 8 of them with f in one call, reshape to [B, 8, D] and average over the views."
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        linear = nn.Sequential(nn.Flatten(), nn.Linear(2 * 7 * 7, 4)).eval()
        conv = nn.Sequential(
            nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 5)
        ).eval()
    g = torch.Generator().manual_seed(0)
    cases = [
        (linear, torch.rand(5, 2, 7, 7, generator=g) * 2 - 1),
        (conv, torch.rand(3, 1, 8, 8, generator=g) * 2 - 1),
    ]

    def reference(f: Any, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([f(augment_views(x)).mean(dim=0) for x in images])

    with torch.no_grad():
        return check_function(candidate, reference, cases, what, rtol=1e-4, atol=1e-6, hint=hint)


# ------------------------------------------------------------ chapter 3: the contrastive loss
@register("ch03.rescaled_loss")
def _ch03_rescaled_loss(candidate: Any) -> CheckResult:
    """``candidate(a, m)`` -> ``(c, m_eff)`` with ``L(D / a; y, m) = c * L(D; y, m_eff)`` for
    every distance and both labels (eq. (1), :func:`~oneshot_steel.losses.contrastive_loss`
    per pair). The authors' code is the case ``a = 2, m = 2``."""
    from ..losses import contrastive_loss

    what = "factor and margin of a loss applied to D / a"
    hint = (
        "(D / a)^2 = D^2 / a^2, and max(0, m - D / a) = max(0, a m - D) / a: both terms get "
        "the same factor."
    )
    distance = torch.linspace(0.0, 12.0, 241, dtype=torch.float64).repeat(2)
    same = torch.cat([torch.ones(241), torch.zeros(241)]).to(torch.float64)
    for a, m in ((2.0, 2.0), (0.5, 1.0), (3.0, 0.5), (1.0, 2.0), (4.0, 1.5)):
        result = _call(candidate, what, hint, a, m)
        try:
            c, m_eff = (float(x) for x in result)
        except (TypeError, ValueError):
            _fail(what, f"expected a pair of numbers (c, m_eff), got {result!r:.100}", hint)
        if not m_eff > 0:
            _fail(what, f"for a = {a:g}, m = {m:g} the margin {m_eff:g} is not positive", hint)
        theirs = contrastive_loss(distance / a, same, m, reduction="none")
        ours = c * contrastive_loss(distance, same, m_eff, reduction="none")
        err = float((theirs - ours).abs().max())
        if err > 1e-9 * (1 + float(theirs.abs().max())):
            worst = int((theirs - ours).abs().argmax())
            _fail(
                what,
                f"for a = {a:g}, m = {m:g} your (c, m_eff) = ({c:g}, {m_eff:g}) is off by "
                f"{err:.3g} at D = {float(distance[worst]):g} for a "
                f"{'similar' if same[worst] else 'dissimilar'} pair",
                hint,
            )
    return _passed(what, "5 pairs (a, m), both labels, D from 0 to 12")


# ------------------------------------------------------------ chapter 4: the Siamese network
def _pooled_branch(image_size: int) -> torch.nn.Module:
    from torch import nn

    side = image_size // 2 // 2 // 2
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * side * side, 500), nn.ReLU(),
        nn.Linear(500, 500), nn.ReLU(), nn.Linear(500, 5),
    )  # fmt: skip


@register("ch04.pooled_cost")
def _ch04_pooled_cost(candidate: Any) -> CheckResult:
    """``candidate(image_size)`` -> ``(params, macs)`` of the paper's branch with a 2x2 max
    pooling (stride 2) after each convolution, per image. The reference runs
    :func:`~oneshot_steel.summary.model_summary` on that network; odd sizes check that the
    pooling rounds down."""
    from ..summary import model_summary

    what = "parameters and multiply-adds of the pooled branch"
    hint = (
        "each pooling halves the side, rounding down (100 -> 50 -> 25 -> 12); conv i runs at "
        "the side BEFORE its pooling; fc1 sees 8 * side^2 numbers; MACs as in eq. "
        "(ch04-eq-macs), pooling and ReLU count none."
    )
    for size in (100, 64, 37, 28, 200):
        with torch.random.fork_rng(devices=[]):
            summary = model_summary(_pooled_branch(size), (1, size, size))
        want = (summary.total_params, summary.total_macs)
        result = _call(candidate, what, hint, size)
        try:
            got = tuple(int(x) for x in result)
        except (TypeError, ValueError):
            _fail(what, f"expected a pair (params, macs), got {result!r:.100}", hint)
        if got != want:
            _fail(
                what,
                f"for {size}x{size} images expected {want[0]:,} parameters and {want[1]:,} "
                f"multiply-adds, got {got[0]:,} and {got[1]:,}",
                hint,
            )
    return _passed(what, "5 image sizes")
