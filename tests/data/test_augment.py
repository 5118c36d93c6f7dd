"""Training-time augmentation: crops shift, flips mirror, erasing blanks a rectangle, all seeded."""

import pytest
import torch

from rnnkit.data.augment import Augment, augment, random_crop, random_erase, random_flip


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_a_crop_is_the_image_shifted_with_zeros_coming_in():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6) + 1
    out = random_crop(x, 2, _gen(3))
    assert out.shape == x.shape
    for img, src in zip(out, x):
        # some shift (dy, dx) in [-2, 2]^2 maps every kept pixel back onto the source
        found = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(img[0], torch.nn.functional.pad(src[0], (2, 2, 2, 2))[2 + dy : 8 + dy, 2 + dx : 8 + dx])
        ]
        assert len(found) == 1


def test_a_zero_padding_crop_and_no_options_leave_images_alone():
    x = torch.randn(4, 3, 5, 5)
    assert torch.equal(random_crop(x, 0, _gen()), x)
    assert torch.equal(augment(x, Augment(), _gen()), x) and not Augment().active


def test_flips_mirror_about_half_the_images():
    x = torch.randn(400, 1, 3, 4)
    out = random_flip(x, _gen())
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x)]
    kept = [torch.equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and 150 < sum(flipped) < 250


def test_erasing_blanks_one_rectangle_of_the_stated_size_in_the_chosen_images():
    x = torch.ones(300, 2, 32, 32)
    out = random_erase(x, 0.5, _gen())
    zero = out[:, 0] == 0  # (N, H, W)
    assert torch.equal(out[:, 0] == 0, out[:, 1] == 0)  # every channel
    erased = zero.flatten(1).any(1)
    assert 110 < int(erased.sum()) < 190
    for mask in zero[erased]:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        h, w = len(rows), len(cols)
        assert int(mask.sum()) == h * w and rows[-1] - rows[0] + 1 == h  # one solid rectangle
        assert 0.01 * 1024 <= h * w <= 0.36 * 1024


def test_the_same_seed_gives_the_same_batch():
    x = torch.randn(8, 3, 12, 12)
    how = Augment(crop_padding=2, flip=True, erase=0.5)
    assert torch.equal(augment(x, how, _gen(7)), augment(x, how, _gen(7)))
    assert not torch.equal(augment(x, how, _gen(7)), augment(x, how, _gen(8)))


@pytest.mark.parametrize("kwargs,match", [({"crop_padding": -1}, "crop_padding"), ({"erase": 1.5}, "erase")])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Augment(**kwargs)
