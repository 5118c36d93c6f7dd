"""Grad-CAM on a toy network whose answer is known: class 0 looks only at the left half of the
image, class 1 only at the right half."""

import torch
from PIL import Image
from torch import nn

from rnnkit.families.vision.gradcam import grad_cam, save_overlay


class HalfSeer(nn.Module):
    """Two feature maps: the image masked to its left half and to its right half; class k's
    score is the sum of map k."""

    def __init__(self, side: int = 8):
        super().__init__()
        left = torch.zeros(1, 1, side, side)
        left[..., : side // 2] = 1
        self.register_buffer("masks", torch.cat([left, 1 - left], 1))  # (1, 2, H, W)
        self.features = nn.Identity()
        self.scale = nn.Parameter(torch.ones(1))  # so the model has a parameter to leave alone

    def forward(self, x):
        maps = self.features(x * self.masks * self.scale)  # (N, 1, H, W) -> (N, 2, H, W)
        return maps.sum((2, 3))


def test_the_heat_map_is_where_the_class_looks():
    model = HalfSeer()
    x = torch.rand(2, 1, 8, 8) + 0.1
    heat = grad_cam(model, model.features, x, torch.tensor([0, 1]))
    assert heat.shape == (2, 8, 8) and heat.min() >= 0 and torch.isclose(heat.amax((1, 2)), torch.ones(2)).all()
    assert heat[0, :, 5:].max() < 0.3 and heat[0, :, :3].min() > 0.05  # class 0: left half
    assert heat[1, :, :3].max() < 0.3 and heat[1, :, 5:].min() > 0.05  # class 1: right half
    # alpha = (1, 0) for class 0: the map is the left half of the image, scaled to a maximum of 1
    left = x[0, 0, :, :4]
    assert torch.allclose(heat[0, :, :4], left / left.max(), atol=1e-6)


def test_the_predicted_class_by_default_and_the_model_left_as_it_was():
    model = HalfSeer()
    model.train()
    x = torch.zeros(1, 1, 8, 8)
    x[..., 6:] = 1.0  # bright on the right: class 1 wins
    heat = grad_cam(model, model.features, x)
    assert heat[0, :, 6:].min() > 0.5 and heat[0, :, :4].max() < 0.3
    assert model.training and model.scale.grad is None


def test_the_overlay_png(tmp_path):
    path = tmp_path / "explain.png"
    save_overlay(torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8), torch.rand(16, 16), path, "cat 0.91")
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size[0] > png.size[1]


def test_a_frozen_layer_still_gets_a_heat_map():
    """Frozen weights (a linear probe's backbone) record no graph by themselves; Grad-CAM asks for one."""
    model = HalfSeer()
    model.requires_grad_(False)
    heat = grad_cam(model, model.features, torch.rand(1, 1, 8, 8) + 0.1, torch.tensor([1]))
    assert heat[0, :, 5:].min() > 0.05 and heat[0, :, :3].max() < 0.3
