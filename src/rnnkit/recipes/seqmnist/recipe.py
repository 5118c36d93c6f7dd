"""Recipe: sequential MNIST, a recurrent network reading a digit row by row or pixel by pixel.

Train: ``rnnkit train seqmnist`` (``--mode rows`` default; ``--preset pixels`` / ``--preset permuted``;
data from ``mnist/`` in ``--data-dir`` / ``$RNNKIT_DATA`` / ``../shared/data``)
Predict: ``rnnkit predict RUN digit.png`` or ``rnnkit predict RUN --idx FILE --index N``
Evaluate: ``rnnkit eval RUN --split test`` (accuracy, per class, confusion and misclassified PNGs)
"""

from __future__ import annotations

import sys
from typing import Optional

import torch
import torch.nn.functional as F

from rnnkit.data import mnist
from rnnkit.objectives.supervised import SupervisedObjective
from rnnkit.recipes import report_on_test
from rnnkit.recipes.seqmnist.config import HELP, PRESETS, defaults
from rnnkit.recipes.seqmnist.data import MnistConfig, Reader, input_size, mnist_folder
from rnnkit.recipes.seqmnist.model import VectorClassifier
from rnnkit.recipes.seqmnist.trained import DigitClassifier
from rnnkit.recipes.seqmnist.use import PREDICT
from rnnkit.train.distributed import shard_range
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Recipe, Smoke


class ShiftedObjective(SupervisedObjective):
    """Batches of training indices; each step moves its images by up to ``shift`` pixels, drawn
    from a generator seeded by the run's seed and the step (so a resumed run draws the same)."""

    def __init__(
        self, images, labels, train_idx, valid_idx, reader: Reader, shift: int, batch_size: int, seed: int
    ) -> None:
        self.images, self.labels, self.reader, self.shift, self.seed = images, labels, reader, shift, seed
        collate = lambda rows: (images[train_idx[rows]], labels[train_idx[rows]])  # noqa: E731
        super().__init__(
            list(range(len(train_idx))),
            valid_idx,
            collate,
            self._loss,
            length=lambda _: 1,
            batch_size=batch_size,
            seed=seed,
            evaluate=self._scores,
            metrics={"loss": "min", "accuracy": "max"},
            unit="images",
        )

    def _loss(self, model, batch, reduction: str = "mean"):
        images, labels = batch
        logits = self.reader.logits(model, images)
        return F.cross_entropy(logits.float(), labels.to(logits.device), reduction=reduction), len(labels)

    def next_batch(self):
        """(images, labels, rows of the global batch they are): the shifts are drawn per global batch."""
        rows = self.cycler.next()
        start, stop = shard_range(len(rows), self.rank, self.world) if self.world > 1 else (0, len(rows))
        if start == stop:
            return None
        return (*self.collate(rows[start:stop]), slice(start, stop))

    def step(self, model, batch, info=None):
        images, labels, rows = batch
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + (info.step if info is not None else 0))
        return self._loss(model, (mnist.random_shift(images, self.shift, generator, rows), labels))

    def _scores(self, model, valid_idx) -> dict:
        log_probs = self.reader.log_probs(model, self.images[valid_idx])
        labels = self.labels[valid_idx]
        return {
            "loss": float(F.nll_loss(log_probs, labels)),
            "accuracy": float((log_probs.argmax(-1) == labels).double().mean()),
        }


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata (the pixel permutation of ``permuted``)."""
    data: MnistConfig = sections["data"]
    if data.mode not in mnist.MODES:
        raise ValueError(f"--mode: expected one of {', '.join(mnist.MODES)}, got {data.mode!r}")
    folder = mnist_folder(data.data_dir)
    images, labels = mnist.load_split(folder, "train")
    mnist.check_same_training(folder, images, labels, (resume_meta or {}).get("train_sha256"))
    train_idx, valid_idx = mnist.validation_split(len(images), data.valid_size, sections["train"].seed)
    permutation = mnist.pixel_permutation(data.permutation_seed) if data.mode == "permuted" else None
    print(
        f"seqmnist: {len(train_idx):,} training and {len(valid_idx):,} validation images, mode {data.mode}",
        file=sys.stderr,
    )
    objective = ShiftedObjective(
        images,
        labels,
        train_idx,
        valid_idx,
        Reader(data.mode, permutation),
        data.shift,
        data.batch_size,
        sections["train"].seed,
    )
    model = VectorClassifier(input_size(data.mode), 10, sections["model"])
    meta = {
        "permutation": permutation.tolist() if permutation is not None else None,
        "train_sha256": mnist.digest(images, labels),
    }  # eval's validation split needs these files
    return Built(model, objective, meta)


RECIPE = Recipe(
    name="seqmnist",
    summary="MNIST digits read row by row or pixel by pixel (sequential / permuted MNIST)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=DigitClassifier,
    commands=(PREDICT,),
    eval_params=(
        Param("split", str, "test", "which images to score", choices=("train", "valid", "test")),
        Param("data_dir", str, None, "folder holding mnist/ (default: the run's)"),
    ),
    help=HELP,
    report=report_on_test(),
    outputs=("report_test.json", "confusion_*.png", "errors_*.png"),
    smoke=Smoke(
        train=(
            "--data-dir",
            "{fixtures}",
            "--hidden-size",
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
            "predict": ("--idx", "{fixtures}/mnist/t10k-images-idx3-ubyte.gz", "--index", "3"),
            "eval": ("--split", "valid"),
        },
        expect={
            "predict": r"^\S+\[3\]: \d \(p \d\.\d{3}; then \d \d\.\d{3}, \d \d\.\d{3}\)\n$",
            "eval": r"^valid: accuracy \d+\.\d\d%",
        },
    ),
)
