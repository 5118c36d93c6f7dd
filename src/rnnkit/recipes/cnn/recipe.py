"""Recipe: an image classifier, the course notes' CNN (conv, pool, fully connected) or a small
residual network, on Fashion-MNIST, MNIST, CIFAR-10 (binary version) or a folder of photos.

Train: ``rnnkit train cnn`` (``--dataset fashion-mnist`` default; ``--preset mnist``,
``--preset cifar10``; ``--arch simple|resnet``)
Predict: ``rnnkit predict RUN image.png [more ...] --top 3 [--explain heat.png]``
Evaluate: ``rnnkit eval RUN --split test`` (accuracy, per class, confusion matrix and the most
confident mistakes as PNGs)
"""

from __future__ import annotations

import sys
from typing import Optional

from rnnkit.data import mnist
from rnnkit.data.augment import Augment
from rnnkit.export.write import outputs as export_outputs
from rnnkit.families.vision.export import image_export
from rnnkit.families.vision.predict import PREDICT
from rnnkit.families.vision.scoring import EVAL_PARAMS, SCORE_FILES
from rnnkit.objectives.images import ImageObjective
from rnnkit.recipes import report_on_test
from rnnkit.recipes.cnn.config import HELP, PRESETS, build_classifier, defaults
from rnnkit.recipes.cnn.data import ImageDataConfig, channel_stats, load, normalise
from rnnkit.recipes.cnn.trained import ImageClassifier
from rnnkit.train.recipe import Built, Recipe, Smoke


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata (class names, normalisation, image shape)."""
    data: ImageDataConfig = sections["data"]
    found = load(data, "train")
    images, labels = found.images, found.labels
    recorded = (resume_meta or {}).get("train_sha256")
    if recorded is not None and recorded != mnist.digest(images, labels):
        raise ValueError(
            f"{data.dataset}: the training images are not the run's (sha256 differs); point --data-dir at its data"
        )
    train_idx, valid_idx = mnist.validation_split(len(images), data.valid_size, sections["train"].seed)
    mean, std = channel_stats(images[train_idx])
    channels, side = images.shape[1], images.shape[-1]
    print(
        f"cnn: {data.dataset}, {len(train_idx):,} training and {len(valid_idx):,} validation images of "
        f"{channels}x{side}x{side}, {len(found.classes)} classes",
        file=sys.stderr,
    )
    how = Augment(data.crop_padding, data.flip, data.erase)
    model_config = sections["model"]
    objective = ImageObjective(
        normalise(images, mean, std),
        labels,
        train_idx,
        valid_idx,
        how,
        model_config.label_smoothing,
        data.batch_size,
        sections["train"].seed,
    )
    model = build_classifier(model_config, channels, len(found.classes), side)
    meta = {
        "classes": list(found.classes),
        "mean": mean,
        "std": std,
        "channels": channels,
        "side": side,
        "train_sha256": mnist.digest(images, labels),
    }
    return Built(model, objective, meta)


EXPORT = image_export(
    lambda c: {
        "pixels": "x / 255 per channel, then (x - mean[c]) / std[c]",
        "mean": c.meta["mean"],
        "std": c.meta["std"],
    }
)

RECIPE = Recipe(
    name="cnn",
    summary="image classifier (conv-pool-fc or residual CNN) on Fashion-MNIST, MNIST, CIFAR-10 or a photo folder",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=ImageClassifier,
    commands=(PREDICT, EXPORT),
    eval_params=EVAL_PARAMS,
    help=HELP,
    report=report_on_test(),
    outputs=SCORE_FILES + export_outputs(("classify",)),
    smoke=Smoke(
        train=(
            "--dataset",
            "mnist",
            "--data-dir",
            "{fixtures}",
            "--width",
            "4",
            "--hidden",
            "8",
            "--batch-size",
            "16",
            "--valid-size",
            "20",
            "--max-minutes",
            "0",
            "--max-steps",
            "6",
            "--warmup-steps",
            "0",
        ),
        uses={
            "predict": ("{fixtures}/cnn/digit.png", "--top", "2"),
            "eval": ("--split", "valid"),
            "export": ("--format", "torchscript"),
        },
        expect={
            "predict": r"digit\.png: \S+ \(p \d\.\d{3}\); then \S+ \d\.\d{3}\n",
            "eval": r"^valid: accuracy \d+\.\d\d%",
        },
    ),
)
