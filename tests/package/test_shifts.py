"""The camera shifts of chapter 8 do what their names say, on real pixel statistics."""

import pytest
import torch

from oneshot_steel.shifts import SHIFTS, camera_shift, camera_shifts


def _texture(n: int = 4, size: int = 64, period: int = 8) -> torch.Tensor:
    """Vertical stripes of a known period plus a per-image brightness: uint8 [n, 1, size, size]."""
    x = torch.arange(size, dtype=torch.float32)
    stripes = 60 * torch.sin(2 * torch.pi * x / period)
    base = torch.linspace(70, 150, n)[:, None, None, None]
    return (base + stripes.expand(size, size)).round().clamp(0, 255).to(torch.uint8)


def _period(img: torch.Tensor) -> float:
    """The dominant horizontal period (pixels) of one image's mean row."""
    row = img.float().mean(dim=-2).flatten()
    spectrum = torch.fft.rfft(row - row.mean()).abs()
    k = int(spectrum[1:].argmax()) + 1
    return row.numel() / k


def _spread(images: torch.Tensor) -> torch.Tensor:
    """Each image's standard deviation over its own pixels (its texture's strength)."""
    return images.float().std(dim=(1, 2, 3))


def test_every_shift_keeps_shape_and_dtype_and_none_is_identity():
    images = _texture()
    shifted = camera_shifts(images)
    assert list(shifted) == list(SHIFTS)
    for name, out in shifted.items():
        assert out.shape == images.shape and out.dtype == torch.uint8, name
    assert torch.equal(shifted["none"], images)


def test_contrast_halves_the_spread_and_keeps_the_mean():
    images = _texture()
    out = camera_shift(images, "contrast x0.5")
    std_in, std_out = images.float().std(dim=(2, 3)), out.float().std(dim=(2, 3))
    torch.testing.assert_close(std_out / std_in, torch.full_like(std_in, 0.5), atol=0.02, rtol=0)
    torch.testing.assert_close(
        out.float().mean((2, 3)), images.float().mean((2, 3)), atol=0.6, rtol=0
    )


def test_gamma_brightens_dark_images_most_and_keeps_the_extremes():
    images = _texture()
    out = camera_shift(images, "brighter (gamma 0.6)")
    gain = out.float().mean((1, 2, 3)) - images.float().mean((1, 2, 3))
    assert (gain > 0).all() and gain[0] > gain[-1]  # the darkest image gains most
    ends = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 2).expand(1, 1, 8, 2)
    ends = ends.repeat(1, 1, 1, 4).contiguous()
    assert torch.equal(camera_shift(ends, "brighter (gamma 0.6)"), ends)


def test_zoom_makes_the_texture_coarser_and_half_resolution_removes_fine_texture():
    coarse = _texture(period=16)
    assert _period(coarse[0]) == pytest.approx(16)
    zoomed = camera_shift(coarse, "zoom 1.33x")
    assert _period(zoomed[0]) == pytest.approx(16 * 4 / 3, rel=0.1)
    fine = _texture(period=2.5)  # finer than the half-resolution grid can hold
    blurred = camera_shift(fine, "half resolution")
    assert (_spread(blurred) < 0.5 * _spread(fine)).all()
    assert (_spread(camera_shift(coarse, "half resolution")) > 0.8 * _spread(coarse)).all()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="Unknown shift 'sepia'"):
        camera_shift(_texture(), "sepia")
    with pytest.raises(ValueError, match="uint8 images"):
        camera_shift(_texture().float(), "zoom 1.33x")
    with pytest.raises(ValueError, match="too small"):
        camera_shift(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), "zoom 1.33x")
