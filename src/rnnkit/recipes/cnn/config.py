"""Image classification, configuration: the model's options (:class:`CnnConfig`), the default
sections of a run, its presets and the help of its options."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit import bounds
from rnnkit.families.vision import ResidualClassifier, SimpleCNN
from rnnkit.recipes.cnn.data import ImageDataConfig
from rnnkit.train.options import TrainConfig

ARCHS = ("simple", "resnet")


@dataclass
class CnnConfig:
    """The classifier and its loss.

    Attributes:
        arch: ``simple`` (the notes' conv-pool-fc network, :class:`SimpleCNN`) or ``resnet``
            (:class:`ResidualClassifier`).
        width: channels of the first stage (doubled at each later one).
        stages: how many stages (each halves the image's side).
        blocks: residual blocks per stage (``resnet``).
        hidden: units of the fully connected layer (``simple``).
        dropout: before the output layer (and the fully connected layer of ``simple``).
        label_smoothing: the training loss's label smoothing (Szegedy et al., 2016; 0 = off).
    """

    arch: str = "simple"
    width: int = field(default=32, metadata=bounds.bound(1, 128))
    stages: int = field(default=3, metadata=bounds.bound(1, 5))
    blocks: int = field(default=2, metadata={**bounds.bound(1, 16), **bounds.only_with("arch", "resnet")})
    hidden: int = field(default=256, metadata={**bounds.units(), **bounds.only_with("arch", "simple")})
    dropout: float = field(default=0.3, metadata=bounds.dropout())
    label_smoothing: float = field(default=0.0, metadata=bounds.bound(0, 1, open_high=True))

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"--arch: expected one of {', '.join(ARCHS)}, got {self.arch!r}")


def build_classifier(config: CnnConfig, channels: int, classes: int, side: int):
    """The network of ``config`` for images ``(N, channels, side, side)`` and ``classes`` classes."""
    if config.arch == "simple":
        return SimpleCNN(channels, classes, side, config.width, config.stages, config.hidden, config.dropout)
    if side >> (config.stages - 1) < 1:
        raise ValueError(
            f"--stages {config.stages}: images of {side} pixels cannot be halved {config.stages - 1} times"
        )
    return ResidualClassifier(channels, classes, config.width, (config.blocks,) * config.stages, config.dropout)


def defaults():
    return {
        "data": ImageDataConfig(),
        "model": CnnConfig(),
        "train": TrainConfig(
            optimizer="sgd",
            momentum=0.9,
            lr=0.05,
            weight_decay=5e-4,
            schedule="cosine",
            warmup_steps=200,
            max_minutes=18.0,
            anneal_by_time=True,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=0.0,
            monitor="accuracy",
        ),
    }


PRESETS = {
    "cpu-quick": {},
    # digits are not mirrored
    "mnist": {"data": {"dataset": "mnist", "flip": False}},
    "cifar10": {"data": {"dataset": "cifar10", "crop_padding": 4}, "model": {"arch": "resnet"}},
}
HELP = {
    "dataset": "fashion-mnist, mnist (idx files in the data folder), cifar10 (binary version) or folder",
    "data_dir": "the data folder (default $RNNKIT_DATA or ../shared/data); for --dataset folder the "
    "folder holding train/ and test/, one subfolder of images per class",
    "side": "images of a folder are resized to side x side",
    "skip_bad_files": "skip and count a folder's files that are not images (default: refuse them)",
    "valid_size": "training images held out for validation",
    "crop_padding": "random crop after padding by this many pixels (training only; 0 = off)",
    "flip": "random left-right flips (training only)",
    "erase": "random erasing probability per image (training only)",
    "arch": "simple (conv-pool-fc, the course notes' CNN) or resnet (a small residual network)",
    "width": "channels of the first stage, doubled at each later stage",
    "stages": "stages, each halving the image's side",
    "blocks": "residual blocks per stage (--arch resnet)",
    "hidden": "units of the fully connected layer (--arch simple)",
    "label_smoothing": "label smoothing of the training loss (0 = off)",
}


def cam_layer(model):
    """The layer Grad-CAM reads: the last stage's feature maps before the final pooling (``simple``:
    its last ReLU) or the last residual block (``resnet``)."""
    if isinstance(model, SimpleCNN):
        return model.features[-2]
    return model.stages[-1]
