"""Recipe: a CNN with and without a spatial transformer in front (Jaderberg et al., 2015) on distorted
MNIST (rotated, rotated-translated-scaled, translated, cluttered).

Train: ``rnnkit train stn`` (``--variant rts`` default; ``--no-transformer`` or ``--preset plain`` for
the plain CNN at the same budget)
Use: ``rnnkit predict RUN image.png --top 3``, ``rnnkit transform RUN [image.png ...] --out grid.png``
(inputs beside what the transformer made of them)
Evaluate: ``rnnkit eval RUN --split test`` (accuracy, per digit, confusion and confident mistakes)
"""

from __future__ import annotations

import sys
from typing import Optional

from rnnkit.data import mnist
from rnnkit.data.augment import Augment
from rnnkit.export.write import outputs as export_outputs
from rnnkit.families.vision.export import image_export
from rnnkit.families.vision.scoring import EVAL_PARAMS, SCORE_FILES
from rnnkit.objectives.images import ImageObjective
from rnnkit.recipes import report_on_test
from rnnkit.recipes.stn.config import HELP, PRESETS, DistortedConfig, TransformedClassifier, defaults
from rnnkit.recipes.stn.data import DIGITS, as_inputs, load
from rnnkit.recipes.stn.trained import StnClassifier
from rnnkit.recipes.stn.use import PREDICT, TRANSFORM
from rnnkit.train.recipe import Built, Recipe, Smoke


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata (the canvas side, the undistorted images' sha256)."""
    data: DistortedConfig = sections["data"]
    images, labels, digest = load(data, "train")
    recorded = (resume_meta or {}).get("train_sha256")
    if recorded is not None and recorded != digest:
        raise ValueError("mnist: the training images are not the run's (sha256 differs); point --data-dir at its data")
    train_idx, valid_idx = mnist.validation_split(len(images), data.valid_size, sections["train"].seed)
    side = images.shape[-1]
    model = TransformedClassifier(side, 10, sections["model"])
    kind = "with a spatial transformer" if model.transformer is not None else "plain CNN"
    print(
        f"stn: {data.variant} MNIST {side}x{side}, {len(train_idx):,} training and {len(valid_idx):,} "
        f"validation images; {kind}",
        file=sys.stderr,
    )
    objective = ImageObjective(
        as_inputs(images), labels, train_idx, valid_idx, Augment(), 0.0, data.batch_size, sections["train"].seed
    )
    return Built(model, objective, {"classes": DIGITS, "channels": 1, "side": side, "train_sha256": digest})


EXPORT = image_export(lambda _: {"pixels": "x / 255 (x in 0-255, 0 the background)"})

RECIPE = Recipe(
    name="stn",
    summary="a CNN with or without a spatial transformer in front, on distorted MNIST (rotated, RTS, cluttered)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=StnClassifier,
    commands=(PREDICT, TRANSFORM, EXPORT),
    eval_params=EVAL_PARAMS,
    help=HELP,
    report=report_on_test(),
    outputs=(*SCORE_FILES, "transform.png") + export_outputs(("classify",)),
    smoke=Smoke(
        train=(
            "--data-dir",
            "{fixtures}",
            "--loc-width",
            "4",
            "--loc-hidden",
            "8",
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
            "transform": ("--count", "4"),
            "eval": ("--split", "valid"),
            "export": ("--format", "torchscript"),
        },
        expect={
            "predict": r"digit\.png: \d \(p \d\.\d{3}\); then \d \d\.\d{3}\n",
            "transform": r"transform\.png",
            "eval": r"^valid: accuracy \d+\.\d\d%",
        },
    ),
)
