"""Spatial transformer recipe, configuration: the data (:class:`DistortedConfig`), the model
(:class:`StnConfig`, :class:`TransformedClassifier`), the default sections, presets and help."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.data.distort import VARIANTS
from rnnkit.families.vision import SimpleCNN
from rnnkit.families.vision.stn import SpatialTransformer
from rnnkit.train.config import PATH
from rnnkit.train.options import TrainConfig


@dataclass
class DistortedConfig:
    """Distorted MNIST (:mod:`rnnkit.data.distort`).

    Attributes:
        variant: ``rotated``, ``rts`` (rotated, translated, scaled on 42x42), ``translated`` or
            ``cluttered`` (60x60).
        data_dir: the data folder holding ``mnist/`` (default ``$RNNKIT_DATA`` or ``../shared/data``).
        distort_seed: seed of the training images' distortions (the test images' are fixed, the
            same for every run).
        valid_size: training images held out (seeded by the run's seed) for validation.
        batch_size: images per batch.
    """

    variant: str = "rts"
    data_dir: str = field(default="", metadata=PATH)
    distort_seed: int = field(default=0, metadata=bounds.seed())
    valid_size: int = field(default=5000, metadata=bounds.bound(1, 30_000))
    batch_size: int = field(default=128, metadata=bounds.batch())

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"--variant: expected one of {', '.join(VARIANTS)}, got {self.variant!r}")


@dataclass
class StnConfig:
    """The classifier (:class:`~rnnkit.families.vision.SimpleCNN`) and the transformer in front.

    Attributes:
        transformer: put a spatial transformer in front (``--no-transformer``: the plain CNN).
        out_side: side of the transformer's output, which the CNN reads (0: the canvas's side).
        loc_width, loc_hidden: the localisation network's channels and fully connected units.
        width, stages, hidden, dropout: the CNN's (see ``rnnkit train cnn``).
    """

    transformer: bool = True
    out_side: int = field(default=0, metadata=bounds.bound(0, 128))
    loc_width: int = field(default=20, metadata=bounds.bound(1, 256))
    loc_hidden: int = field(default=50, metadata=bounds.bound(1, 4096))
    width: int = field(default=32, metadata=bounds.bound(1, 128))
    stages: int = field(default=3, metadata=bounds.bound(1, 5))
    hidden: int = field(default=256, metadata=bounds.units())
    dropout: float = field(default=0.3, metadata=bounds.dropout())


class TransformedClassifier(nn.Module):
    """Images ``(N, 1, S, S)`` in [0, 1] (0 background) -> [spatial transformer ->] CNN -> logits (N, K)."""

    def __init__(self, side: int, classes: int, config: StnConfig) -> None:
        super().__init__()
        seen = side
        self.transformer = None
        if config.transformer:
            seen = config.out_side or side
            self.transformer = SpatialTransformer(1, side, seen, config.loc_width, config.loc_hidden)
        self.classifier = SimpleCNN(1, classes, seen, config.width, config.stages, config.hidden, config.dropout)

    def forward(self, images: Tensor) -> Tensor:
        if self.transformer is not None:
            images = self.transformer(images)
        return self.classifier(images)


def defaults():
    return {
        "data": DistortedConfig(),
        "model": StnConfig(),
        "train": TrainConfig(
            optimizer="sgd",
            momentum=0.9,
            lr=0.02,
            weight_decay=5e-4,
            schedule="cosine",
            warmup_steps=200,
            max_minutes=12.0,
            anneal_by_time=True,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=1.0,
            monitor="accuracy",
        ),
    }


PRESETS = {"cpu-quick": {}, "plain": {"model": {"transformer": False}}}
HELP = {
    "variant": "rotated, rts (rotated-translated-scaled, 42x42), translated or cluttered (60x60)",
    "data_dir": "folder holding mnist/ (default $RNNKIT_DATA or ../shared/data)",
    "distort_seed": "seed of the training images' distortions (the test set's are fixed)",
    "valid_size": "training images held out for validation",
    "transformer": "a spatial transformer in front of the CNN (--no-transformer: the plain CNN)",
    "out_side": "side of the transformer's output, read by the CNN (0: the canvas's)",
    "loc_width": "channels of the localisation network's convolutions",
    "loc_hidden": "units of the localisation network's fully connected layer",
    "width": "channels of the CNN's first stage, doubled at each later stage",
    "stages": "CNN stages, each halving the side",
    "hidden": "units of the CNN's fully connected layer",
}
