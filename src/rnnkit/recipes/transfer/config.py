"""Transfer recipe, configuration: the data (:class:`TransferDataConfig`), the model
(:class:`TransferConfig`, :class:`Transfer`), the default sections, presets and help."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit import bounds
from rnnkit.data.image_sets import DATASETS
from rnnkit.families.vision.transfer import MODES, TransferClassifier
from rnnkit.train.config import PATH
from rnnkit.train.options import TrainConfig


@dataclass
class TransferDataConfig:
    """The images and how many labels training may see.

    Attributes:
        dataset: ``fashion-mnist`` (default), ``mnist``, ``cifar10`` or ``folder``.
        data_dir: the data folder (a ``folder`` set: the folder holding ``train/`` and ``test/``).
        side: a ``folder``'s images are resized to side x side when read.
        skip_bad_files: a ``folder``'s files that are not images are skipped and counted.
        labels_per_class: training images per class (drawn by the run's seed from those left after
            the validation split; 0 = all of them).
        valid_size: training images held out (seeded) for validation.
        crop_padding, flip: augmentation of training batches (see ``rnnkit train cnn``).
        batch_size: images per batch.
    """

    dataset: str = "fashion-mnist"
    data_dir: str = field(default="", metadata=PATH)
    side: int = field(default=32, metadata={**bounds.bound(8, 512), **bounds.only_with("dataset", "folder")})
    skip_bad_files: bool = field(default=False, metadata=bounds.only_with("dataset", "folder"))
    labels_per_class: int = field(default=100, metadata=bounds.bound(0, 10**6))
    valid_size: int = field(default=1000, metadata=bounds.bound(1, 30_000))
    crop_padding: int = field(default=2, metadata=bounds.bound(0, 16))
    flip: bool = True
    batch_size: int = field(default=64, metadata=bounds.batch())

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"--dataset: expected one of {', '.join(DATASETS)}, got {self.dataset!r}")


@dataclass
class TransferConfig:
    """The network and how it learns.

    Attributes:
        mode: ``probe`` (ImageNet features frozen, a new layer learns), ``finetune`` (every weight
            learns from the ImageNet start) or ``scratch`` (the same network from a random start).
        input_side: images are resized to this before the backbone.
        dropout: before the new layer.
        backbone_lr_factor: the backbone's learning rate as a multiple of the new layer's
            (discriminative learning rates; ``finetune`` and ``scratch``).
        unfreeze_every: gradual unfreezing (``finetune``): the backbone starts frozen and one more
            block from the top learns every this many steps (0: everything learns from the start).
    """

    mode: str = "finetune"
    input_side: int = field(default=64, metadata=bounds.bound(32, 512))
    dropout: float = field(default=0.2, metadata=bounds.dropout())
    backbone_lr_factor: float = field(default=1.0, metadata=bounds.bound(0, 1))
    unfreeze_every: int = field(default=0, metadata={**bounds.bound(0, 10**7), **bounds.only_with("mode", "finetune")})

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"--mode: expected one of {', '.join(MODES)}, got {self.mode!r}")


class Transfer(TransferClassifier):
    """:class:`TransferClassifier` with the optimizer groups of ``config``: the new layer at the
    schedule's rate, the backbone's trainable weights at ``backbone_lr_factor`` times it."""

    def __init__(self, classes: int, config: TransferConfig) -> None:
        super().__init__(classes, config.mode, config.input_side, config.dropout)
        self.backbone_lr_factor = config.backbone_lr_factor

    def optimizer_groups(self) -> list[dict]:
        groups = [{"params": list(self.output.parameters()), "lr_factor": 1.0}]
        if self.mode != "probe":  # a probe's backbone never learns (gradual unfreezing keeps them listed)
            groups.append({"params": list(self.backbone.parameters()), "lr_factor": self.backbone_lr_factor})
        return groups


def defaults():
    return {
        "data": TransferDataConfig(),
        "model": TransferConfig(),
        "train": TrainConfig(
            optimizer="adamw",
            lr=3e-3,  # chosen on validation for each mode (docs/recipes/transfer.md)
            weight_decay=0.01,
            schedule="cosine",
            warmup_steps=50,
            max_steps=320,  # 20 passes over 100 labels per class
            max_minutes=0.0,
            anneal_by_time=False,
            eval_every=0,
            eval_each_epoch=True,
            monitor="accuracy",
        ),
    }


PRESETS = {"cpu-quick": {}, "probe": {"model": {"mode": "probe"}}, "scratch": {"model": {"mode": "scratch"}}}
HELP = {
    "dataset": "fashion-mnist, mnist, cifar10 (binary version) or folder",
    "data_dir": "the data folder; for --dataset folder the folder holding train/ and test/",
    "side": "images of a folder are resized to side x side when read",
    "skip_bad_files": "skip and count a folder's files that are not images",
    "labels_per_class": "training images per class (0 = all)",
    "valid_size": "training images held out for validation",
    "crop_padding": "random crop after padding by this many pixels (training only)",
    "flip": "random left-right flips (training only)",
    "mode": "probe (frozen ImageNet features), finetune (all weights from ImageNet) or scratch",
    "input_side": "images are resized to this before the backbone",
    "backbone_lr_factor": "the backbone's learning rate as a multiple of the new layer's",
    "unfreeze_every": "finetune: one more backbone block learns every N steps, from the top (0 = all at once)",
}
