"""The transfer classifier: what learns in each mode, BatchNorm statistics of frozen parts,
discriminative learning rates and gradual unfreezing."""

import pytest
import torch

from rnnkit.families.vision import efficientnet
from rnnkit.families.vision.transfer import TransferClassifier


@pytest.fixture
def fake_weights(monkeypatch):
    """ImageNet weights stand-in (the package is an extra): a fixed random state, so 'pretrained'
    and 'scratch' can be told apart without the download."""
    torch.manual_seed(123)
    state = efficientnet.EfficientNetLite0().state_dict()
    monkeypatch.setattr("rnnkit.families.vision.transfer.pretrained_state", lambda cache_dir=None: state)
    return state


def _grads(model, images):
    model.zero_grad(set_to_none=True)
    model(images).logsumexp(1).sum().backward()
    return {name: p.grad is not None for name, p in model.named_parameters()}


def test_probe_trains_only_the_new_layer_and_keeps_imagenet_statistics(fake_weights):
    model = TransferClassifier(4, "probe", side=32)
    assert torch.equal(model.backbone.stem.conv.weight, fake_weights["stem.conv.weight"])
    model.train()
    before = model.backbone.stem.bn.running_mean.clone()
    got = _grads(model, torch.randn(3, 1, 28, 28))  # greyscale, resized to 32
    assert got["output.weight"] and not any(v for k, v in got.items() if k.startswith("backbone"))
    assert torch.equal(model.backbone.stem.bn.running_mean, before) and not model.backbone.stem.bn.training
    assert len(model.param_groups(0.1, 0.1)) == 1


def test_finetune_trains_everything_with_a_smaller_backbone_rate(fake_weights):
    model = TransferClassifier(4, "finetune", side=32)
    got = _grads(model, torch.randn(2, 3, 40, 40))
    assert all(got.values())
    head, backbone = model.param_groups(0.1, 0.01)
    assert head["lr"] == 0.1 and backbone["lr"] == pytest.approx(0.001)
    assert len(backbone["params"]) == sum(1 for _ in model.backbone.parameters())


def test_gradual_unfreezing_from_the_top(fake_weights):
    model = TransferClassifier(4, "finetune", side=32)
    model.unfreeze_top(2)
    model.train()
    got = _grads(model, torch.randn(2, 3, 32, 32))
    assert got["backbone.head.conv.weight"] and got["backbone.blocks.15.project.conv.weight"]
    assert got["backbone.blocks.14.project.conv.weight"] and not got["backbone.blocks.13.project.conv.weight"]
    assert not got["backbone.stem.conv.weight"] and not model.backbone.blocks[13].training
    model.freeze_bottom(0)
    assert all(_grads(model, torch.randn(2, 3, 32, 32)).values())
    with pytest.raises(ValueError, match="blocks: expected 0-16"):
        model.freeze_bottom(17)


def test_scratch_does_not_load_the_pretrained_weights(fake_weights):
    torch.manual_seed(0)
    model = TransferClassifier(4, "scratch", side=32)
    assert not torch.equal(model.backbone.stem.conv.weight, fake_weights["stem.conv.weight"])
    with pytest.raises(ValueError, match="gradual unfreezing is for mode finetune"):
        model.unfreeze_top(3)


def test_scratch_batchnorm_statistics_follow_training_within_tens_of_steps(fake_weights):
    """From a random start the running statistics must catch up with training in a few hundred
    steps (TensorFlow's rate 0.01 left a scratch run's validation at chance); the ImageNet start
    keeps TensorFlow's rate."""
    torch.manual_seed(0)
    images = torch.randn(8, 3, 32, 32) * 3 + 5
    caught = {}
    for mode in ("scratch", "finetune"):
        model = TransferClassifier(4, mode, side=32).train()
        bn = model.backbone.stem.bn
        start = bn.running_mean.clone()
        with torch.no_grad():
            target = model.backbone.stem.conv(images).mean((0, 2, 3))  # what the batch statistics are
            for _ in range(20):
                model(images)
        caught[mode] = float(((bn.running_mean - start) / (target - start)).median())
    assert caught["scratch"] > 0.7  # 1 - 0.9**20 = 0.88 (the stem pads as TensorFlow does: near it)
    assert caught["finetune"] < 0.3  # 1 - 0.99**20 = 0.18


def test_bad_settings():
    with pytest.raises(ValueError, match="mode: expected one of probe, finetune, scratch"):
        TransferClassifier(4, "distil")
    with pytest.raises(ValueError, match="side >= 32"):
        TransferClassifier(4, "scratch", side=16)
