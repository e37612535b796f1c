"""Augmentation: dihedral views, brightness offset with clipping, scaling, determinism."""

from __future__ import annotations

import pytest
import torch

from oneshot_steel.augment import augment_batch, augment_views, dihedral_index_maps, to_model_input
from oneshot_steel.errors import ModelInputError


def random_images(n: int, size: int, seed: int, low: int = 0, high: int = 256) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, (n, 1, size, size), generator=gen, dtype=torch.uint8)


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Undo the [-1, 1] scaling, back to 0..255 floats."""
    return (x.double() + 1) * 127.5


def variant_and_offset(
    out: torch.Tensor, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample: which of the 8 views it is (or -1) and the constant offset added."""
    views = torch.stack([augment_views(img) for img in images]).double()  # [B, 8, 1, S, S]
    diff = to_pixels(out)[:, None] - views  # [B, 8, 1, S, S]
    flat = diff.flatten(2)
    spread = flat.amax(dim=2) - flat.amin(dim=2)  # 0 when the difference is one constant
    match = spread < 1e-3
    assert torch.all(match.sum(dim=1) <= 1)  # distinct pixels: at most one view matches
    which = torch.where(match.any(dim=1), match.float().argmax(dim=1), torch.tensor(-1))
    offset = flat.mean(dim=2).gather(1, which.clamp(min=0)[:, None])[:, 0]
    return which, offset


def test_views_are_the_dihedral_group() -> None:
    img = torch.arange(9, dtype=torch.uint8).reshape(1, 3, 3)
    views = augment_views(img)
    assert views.shape == (8, 1, 3, 3) and views.dtype == torch.uint8
    expected = [torch.rot90(img, k, dims=(1, 2)) for k in range(4)]
    expected += [torch.rot90(torch.flip(img, dims=(2,)), k, dims=(1, 2)) for k in range(4)]
    for got, want in zip(views, expected, strict=True):
        assert torch.equal(got, want)
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8
    assert augment_views(img[0]).shape == (8, 3, 3)  # [S, S] input works too
    with pytest.raises(ModelInputError, match="square"):
        augment_views(torch.zeros(1, 3, 4, dtype=torch.uint8))


def test_index_maps_are_permutations() -> None:
    maps = dihedral_index_maps(5)
    assert maps.shape == (16, 25)
    assert torch.equal(maps.sort(dim=1).values, torch.arange(25).expand(16, 25))
    assert len({tuple(m.tolist()) for m in maps}) == 8  # 16 recipes, 8 distinct transforms


def test_output_range_dtype_device_shape() -> None:
    images = random_images(32, 12, seed=0)
    out = augment_batch(images, torch.Generator().manual_seed(0))
    assert out.dtype == torch.float32 and out.shape == images.shape
    assert out.device == images.device
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_every_sample_is_a_view_plus_one_bounded_offset() -> None:
    # Pixels 20..235 so that a +-10 offset never clips; 16x16 random pixels are all distinct views.
    images = random_images(64, 16, seed=1, low=20, high=236)
    out = augment_batch(images, torch.Generator().manual_seed(1))
    which, offset = variant_and_offset(out, images)
    assert torch.all(which >= 0)
    assert torch.all(offset.abs() <= 10.0 + 1e-4)
    assert offset.std() > 2  # offsets really vary between samples
    assert len(set(which.tolist())) > 4  # and so do the views


def test_no_options_means_plain_scaling() -> None:
    images = random_images(8, 10, seed=2)
    out = augment_batch(
        images, torch.Generator().manual_seed(0), rotate=False, flip=False, brightness=0
    )
    assert torch.equal(out, to_model_input(images))


def test_brightness_only_keeps_geometry() -> None:
    images = random_images(16, 10, seed=3, low=20, high=236)
    out = augment_batch(images, torch.Generator().manual_seed(0), rotate=False, flip=False)
    diff = to_pixels(out) - images.double()
    per_sample = diff.flatten(1)
    assert torch.all(per_sample.amax(1) - per_sample.amin(1) < 1e-3)
    assert torch.all(per_sample.abs() <= 10 + 1e-4)


def test_clipping_at_0_and_255() -> None:
    black = torch.zeros(200, 1, 4, 4, dtype=torch.uint8)
    white = torch.full((200, 1, 4, 4), 255, dtype=torch.uint8)
    out_b = augment_batch(black, torch.Generator().manual_seed(5))
    out_w = augment_batch(white, torch.Generator().manual_seed(5))
    # same seed -> same betas: where beta < 0 black clips to -1, where beta > 0 white clips to 1
    assert out_b.min() == -1.0 and out_w.max() == 1.0
    clipped_b = out_b.flatten(1)[:, 0] == -1.0
    clipped_w = out_w.flatten(1)[:, 0] == 1.0
    assert torch.all(clipped_b ^ clipped_w)  # each sample is clipped in exactly one of the two
    assert 60 < clipped_b.sum() < 140
    assert out_b.max() <= -1.0 + 10 / 127.5 + 1e-6 and out_w.min() >= 1.0 - 10 / 127.5 - 1e-6


def test_determinism_by_seed() -> None:
    images = random_images(16, 8, seed=4)
    a = augment_batch(images, torch.Generator().manual_seed(7))
    b = augment_batch(images, torch.Generator().manual_seed(7))
    c = augment_batch(images, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_frequencies_of_views_flips_and_rotations() -> None:
    n = 4000
    img = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4)
    views = augment_views(img[0]).flatten(1)  # [8, 16]
    images = img.expand(n, 1, 4, 4).contiguous()

    def view_ids(**kw: object) -> torch.Tensor:
        out = augment_batch(images, torch.Generator().manual_seed(11), brightness=0, **kw)
        pixels = to_pixels(out).round().to(torch.uint8).flatten(1)  # [n, 16]
        eq = (pixels[:, None, :] == views[None]).all(dim=2)  # [n, 8]
        assert torch.all(eq.sum(dim=1) == 1)
        return eq.float().argmax(dim=1)

    # All options: uniform over the 8 dihedral views (sd of a 1/8 share over 4000 is 0.0052).
    freq = torch.bincount(view_ids(), minlength=8).double() / n
    assert torch.all((freq - 0.125).abs() < 0.03)
    # Rotation only: views 0..3 (k quarter turns), each 1/4.
    freq = torch.bincount(view_ids(flip=False), minlength=8).double() / n
    assert torch.all(freq[4:] == 0) and torch.all((freq[:4] - 0.25).abs() < 0.03)
    # Flips only: identity, h-flip (view 4), v-flip (view 6 = h-flip then 180), both (= 180, view 2).
    freq = torch.bincount(view_ids(rotate=False), minlength=8).double() / n
    assert set(torch.nonzero(freq).flatten().tolist()) == {0, 2, 4, 6}
    assert torch.all((freq[[0, 2, 4, 6]] - 0.25).abs() < 0.03)


def test_brightness_distribution_is_uniform() -> None:
    images = torch.full((4000, 1, 2, 2), 128, dtype=torch.uint8)
    out = augment_batch(images, torch.Generator().manual_seed(12), rotate=False, flip=False)
    beta = to_pixels(out)[:, 0, 0, 0] - 128
    assert beta.min() >= -10 and beta.max() <= 10
    assert abs(beta.mean()) < 0.5  # sd of the mean of U(-10, 10) over 4000: 0.09
    assert abs(beta.var() - 100 / 3) < 3


def test_non_square_needs_rotate_false() -> None:
    images = torch.zeros(2, 1, 4, 6, dtype=torch.uint8)
    with pytest.raises(ModelInputError, match="square"):
        augment_batch(images, torch.Generator().manual_seed(0))
    out = augment_batch(images, torch.Generator().manual_seed(0), rotate=False)
    assert out.shape == (2, 1, 4, 6)


def test_rejects_float_and_bad_shapes() -> None:
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ModelInputError, match="uint8"):
        augment_batch(torch.zeros(2, 1, 4, 4), gen)
    with pytest.raises(ModelInputError, match="uint8"):
        to_model_input(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ModelInputError, match=r"\[B, C, S, S\]"):
        augment_batch(torch.zeros(1, 4, 4, dtype=torch.uint8), gen)
    with pytest.raises(ValueError, match="brightness"):
        augment_batch(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), gen, brightness=-1)


def test_to_model_input_is_exact_scaling() -> None:
    images = torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8).reshape(1, 1, 1, 5)
    out = to_model_input(images)
    assert out.dtype == torch.float32
    assert torch.allclose(out.flatten(), torch.tensor([0, 1, 127, 128, 255]) / 127.5 - 1)
    assert out.min() == -1.0 and out.max() == 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_with_a_cuda_generator() -> None:
    images = random_images(8, 16, seed=0).to("cuda")
    out = augment_batch(images, torch.Generator(device="cuda").manual_seed(0))
    assert out.device == images.device
    which, _ = variant_and_offset(out.cpu(), images.cpu())
    assert torch.all(which >= 0)
    with pytest.raises(ValueError, match="generator"):
        augment_batch(images, torch.Generator().manual_seed(0))
