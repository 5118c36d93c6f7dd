"""The affine sampler and the spatial transformer: the identity returns the input, a quarter turn
equals rot90, the transformer starts as the identity and its localisation net gets gradients;
distorted MNIST has the paper's canvases and moves the digit as asked."""

import pytest
import torch

from rnnkit.data.distort import VARIANTS, distort
from rnnkit.families.vision.stn import SpatialTransformer
from rnnkit.nn.affine import IDENTITY, affine_sample


def test_the_identity_returns_the_input():
    x = torch.randn(3, 2, 17, 17)
    theta = torch.tensor(IDENTITY).view(1, 2, 3).expand(3, 2, 3)
    assert torch.allclose(affine_sample(x, theta, 17), x, atol=1e-5)


def test_a_quarter_turn_is_rot90():
    x = torch.randn(1, 1, 8, 8)
    quarter = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]])  # output (x, y) reads input (-y, x)
    assert torch.allclose(affine_sample(x, quarter, 8), torch.rot90(x, 1, (2, 3)), atol=1e-5)


def test_the_transformer_starts_as_the_identity_and_learns_through_the_sampler():
    torch.manual_seed(0)
    stn = SpatialTransformer(1, 28)
    x = torch.rand(4, 1, 28, 28)
    out = stn(x)
    assert torch.allclose(out, x, atol=1e-5)
    out.mul(torch.linspace(0, 1, 28)).sum().backward()  # a loss that wants the image moved
    assert stn.regress[-1].bias.grad.abs().sum() > 0 and stn.features[0].weight.grad is not None


def test_a_smaller_output_canvas():
    assert SpatialTransformer(1, 42, out_side=28)(torch.zeros(2, 1, 42, 42)).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="at least 16 pixels"):
        SpatialTransformer(1, 15)
    assert SpatialTransformer(1, 16)(torch.zeros(1, 1, 16, 16)).shape == (1, 1, 16, 16)


def _digit():
    img = torch.zeros(1, 28, 28, dtype=torch.uint8)
    img[0, 10:18, 12:16] = 255  # an upright bar, taller than wide
    return img


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_has_its_canvas_and_keeps_the_ink(variant):
    gen = torch.Generator().manual_seed(1)
    images = _digit().repeat(5, 1, 1)
    out = distort(images, variant, gen)
    side = VARIANTS[variant]
    assert out.shape == (5, side, side) and out.dtype == torch.uint8
    ink = out.float().sum((1, 2)) / 255
    if variant != "cluttered":  # scaling changes the area by scale^2, clutter adds ink
        low, high = (0.4, 1.6) if variant == "rts" else (0.8, 1.2)
        assert ((ink > low * 32) & (ink < high * 32)).all()  # the bar's 32 pixels
    else:
        assert (ink > 32 * 0.8).all()
    assert torch.equal(out, distort(images, variant, torch.Generator().manual_seed(1)))  # seeded


def test_translation_moves_the_digit_and_rotation_turns_it():
    images = _digit().repeat(40, 1, 1)
    centres = []
    for img in distort(images, "translated", torch.Generator().manual_seed(0)).float():
        ys, xs = torch.meshgrid(torch.arange(60.0), torch.arange(60.0), indexing="ij")
        centres.append(((img * xs).sum() / img.sum(), (img * ys).sum() / img.sum()))
    xs = torch.tensor([c[0] for c in centres])
    assert xs.std() > 5 and xs.min() > 3 and xs.max() < 57  # spread over the canvas, inside it
    turned = distort(images, "rotated", torch.Generator().manual_seed(0)).float()
    wide = [(img.sum(0) > 0).sum() > (img.sum(1) > 0).sum() for img in turned]  # wider than tall
    assert 3 < sum(wide) < 37  # some turned past 45 degrees, not all


def test_an_unknown_variant_is_named():
    with pytest.raises(ValueError, match="variant: expected one of rotated, rts, translated, cluttered"):
        distort(_digit(), "sheared", torch.Generator())


def test_rts_angles_stay_within_45_degrees():
    """A bar turned by at most 45 degrees stays at least as tall as it is wide."""
    images = _digit().repeat(60, 1, 1)
    out = distort(images, "rts", torch.Generator().manual_seed(2)).float()
    tall = [(img.sum(1) > 40).sum() >= (img.sum(0) > 40).sum() for img in out]
    assert sum(tall) >= 55
