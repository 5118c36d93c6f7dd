"""Recipe: sequential MNIST, a recurrent network reading a digit row by row or pixel by pixel.

Train: ``rnnkit train seqmnist`` (``--mode rows`` default; ``--preset pixels`` / ``--preset permuted``;
data from ``mnist/`` in ``--data-dir`` / ``$RNNKIT_DATA`` / ``../shared/data``)
Predict: ``rnnkit predict RUN digit.png`` or ``rnnkit predict RUN --idx FILE --index N``
Evaluate: ``rnnkit eval RUN --split test`` (accuracy, per class, confusion and misclassified PNGs)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from rnnkit.bounds import batch, seed
from rnnkit.data import mnist
from rnnkit.data.corpus import data_dir as default_data_dir
from rnnkit.data.corpus import missing_data, note_as_given
from rnnkit.metrics.classification import classification_scores, per_class_lines, plot_confusion
from rnnkit.objectives.supervised import SupervisedObjective, evaluating
from rnnkit.recipes import report_on_test
from rnnkit.recipes.seqmnist.model import VectorClassifier, VectorClassifierConfig
from rnnkit.recipes.seqmnist.use import PREDICT
from rnnkit.train.config import PATH, bound, only_with
from rnnkit.train.distributed import shard_range
from rnnkit.train.meta import Need, is_permutation
from rnnkit.train.options import TrainConfig
from rnnkit.train.params import Param
from rnnkit.train.plots import plot_digits
from rnnkit.train.recipe import Built, Recipe, Smoke, TrainedModel

DIGITS = [str(d) for d in range(10)]


@dataclass
class MnistConfig:
    """Where the digits come from and how a network reads them.

    Attributes:
        data_dir: the data folder, holding ``mnist/`` (default ``$RNNKIT_DATA`` or
            ``../shared/data``); a folder of the four idx files itself (``fashion-mnist/``, or
            the form before issue 29) is used as given, with a note.
        mode: ``rows`` (28 steps of 28 pixels), ``pixels`` (784 steps of 1) or ``permuted``.
        permutation_seed: seed of the fixed pixel order of ``permuted`` (saved in the checkpoint).
        valid_size: training images held out (seeded by the run's seed) for validation.
        shift: training images move by up to this many pixels each way (augmentation; 0 = off).
        batch_size: images per batch.
    """

    data_dir: str = field(default="", metadata=PATH)
    mode: str = "rows"
    permutation_seed: int = field(default=0, metadata={**seed(), **only_with("mode", "permuted")})
    valid_size: int = field(default=5000, metadata=bound(1, 30_000))  # at most half of MNIST's 60,000
    shift: int = field(default=0, metadata=bound(0, 4))
    batch_size: int = field(default=128, metadata=batch())

    @property
    def steps(self) -> int:
        """Steps a network reads per image (for the memory estimate)."""
        return 28 if self.mode == "rows" else 784


def defaults():
    return {
        "data": MnistConfig(),
        "model": VectorClassifierConfig(),
        "train": TrainConfig(
            optimizer="adam",
            lr=2e-3,
            schedule="cosine",
            max_minutes=13.0,
            anneal_by_time=True,
            warmup_steps=200,
            final_lr_ratio=0.01,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=1.0,
            monitor="accuracy",
        ),
    }


PIXELS = {
    "data": {"mode": "pixels"},
    "model": {"forget_bias": 1.0},
    "train": {"max_minutes": 55.0, "eval_each_epoch": False, "eval_every": 500, "lr": 1e-3},
}
PRESETS = {
    # rows: the whole command within 15 minutes on 2 CPU cores (docs/recipes/seqmnist.md, issue 16)
    "cpu-quick": {
        "model": {"bidirectional": True, "dropout": 0.1},
        "data": {"shift": 2},
        "train": {"max_minutes": 13.0},
    },
    "pixels": PIXELS,
    "permuted": {**PIXELS, "data": {"mode": "permuted"}},
    "irnn": {**PIXELS, "model": {"cell": "rnn_relu", "irnn": True}, "train": {**PIXELS["train"], "lr": 1e-4}},
}
HELP = {
    "data_dir": "folder holding mnist/ (default $RNNKIT_DATA or ../shared/data); a folder of idx files "
    "itself is used as given",
    "mode": "rows (28 steps), pixels (784 steps) or permuted (784, fixed order)",
    "cell": "lstm, gru, rnn_tanh or rnn_relu",
    "valid_size": "training images held out for validation",
    "shift": "move training images by up to this many pixels each way (augmentation; 0 = off)",
    "permutation_seed": "seed of the fixed pixel order (saved in the checkpoint)",
    "irnn": "identity-initialised ReLU RNN (Le et al., 2015; needs --cell rnn_relu)",
}


def mnist_folder(explicit: str) -> Path:
    """The folder of the idx files: the data folder's ``mnist/``, else the data folder itself when
    it holds them (after a note: the form before issue 29). ValueError naming the fetch command."""
    root = default_data_dir(explicit or None)
    if mnist.has_files(root / "mnist"):
        return root / "mnist"
    if mnist.has_files(root):
        return note_as_given(explicit or None, "the MNIST idx files", "mnist")
    raise missing_data("mnist", explicit or None, root / "mnist" / mnist.FILES["train"][0])


def input_size(mode: str) -> int:
    return mnist.SIDE if mode == "rows" else 1


def permutation_of(meta: dict) -> Optional[torch.Tensor]:
    return torch.tensor(meta["permutation"]) if meta.get("permutation") is not None else None


class Reader:
    """Images (N, 28, 28) uint8 -> the model's logits (N, 10), in the run's sequence mode."""

    def __init__(self, mode: str, permutation: Optional[torch.Tensor]) -> None:
        self.mode, self.permutation = mode, permutation

    def logits(self, model, images: torch.Tensor) -> torch.Tensor:
        device = next(model.parameters()).device
        return model(mnist.as_sequence(images.to(device), self.mode, self.permutation))

    def log_probs(self, model, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """(M, 10) on the CPU, in batches, without gradients."""
        with evaluating(model):
            return torch.cat(
                [
                    F.log_softmax(self.logits(model, images[i : i + batch_size]).float(), -1).cpu()
                    for i in range(0, len(images), batch_size)
                ]
            )


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


def _permuted_has_its_permutation(data: dict, meta: dict) -> Optional[str]:
    if data.get("mode") == "permuted" and meta.get("permutation") is None:
        return "mode 'permuted' needs the pixel permutation (field 'permutation'), which is missing"
    return None


class DigitClassifier(TrainedModel):
    """A trained sequential-MNIST classifier: digits of images, figures on a split."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        "permutation": Need("integers", optional=True, check=is_permutation(28 * 28)),
        "train_sha256": Need("string", optional=True),
        "config.data": Need("object", optional=True, check=_permuted_has_its_permutation),
    }

    @classmethod
    def build_model(cls, sections, meta: dict):
        return VectorClassifier(input_size(sections["data"].mode), 10, sections["model"])

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.reader = Reader(sections["data"].mode, permutation_of(meta))

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """p(digit | image) (M, 10) for images (M, 28, 28) uint8."""
        return self.reader.log_probs(self.model, images).exp()

    def split_images(self, split: str, data_dir: Optional[str] = None) -> tuple[torch.Tensor, torch.Tensor]:
        data = self.sections["data"]
        folder = mnist_folder(data_dir or data.data_dir)
        if split == "test":
            return mnist.load_split(folder, "test")
        images, labels = mnist.load_split(folder, "train")
        mnist.check_same_training(folder, images, labels, self.meta.get("train_sha256"))
        train_idx, valid_idx = mnist.validation_split(len(images), data.valid_size, self.sections["train"].seed)
        rows = valid_idx if split == "valid" else train_idx
        return images[rows], labels[rows]

    def evaluate(self, split: str = "test", data_dir: Optional[str] = None, figures: Optional[Path] = None) -> dict:
        """Accuracy, per-class figures and the confusion matrix; PNGs of it and of the misclassified
        digits (``confusion_<split>.png``, ``errors_<split>.png``) in ``figures`` (default: the run)."""
        images, labels = self.split_images(split, data_dir)
        log_probs = self.reader.log_probs(self.model, images)
        result = classification_scores(log_probs, labels, DIGITS)
        result.update(split=split, examples=len(labels))
        folder = Path(figures) if figures is not None else self.run_dir
        title = f"{split}: accuracy {100 * result['accuracy']:.2f}% ({self.sections['data'].mode})"
        plot_confusion(result["confusion"], DIGITS, folder / f"confusion_{split}.png", title)
        predicted = log_probs.argmax(-1)
        wrong = (predicted != labels).nonzero().flatten()
        result["misclassified"] = len(wrong)
        plot_digits(
            images[wrong[:64]].numpy(),
            [f"{int(labels[i])}->{int(predicted[i])}" for i in wrong[:64]],
            folder / f"errors_{split}.png",
            f"{split}: {len(wrong)} misclassified (true->predicted)",
        )
        result["figures"] = [str(folder / f"confusion_{split}.png"), str(folder / f"errors_{split}.png")]
        result["confusion"] = result["confusion"].tolist()
        return result

    def describe(self, result: dict) -> str:
        lines = [
            f"{result['split']}: accuracy {100 * result['accuracy']:.2f}% ({result['misclassified']} of "
            f"{result['examples']:,} wrong), macro-F1 {result['macro_f1']:.4f}",
            *per_class_lines(result["per_class"], "digit", 6),
        ]
        lines.append(f"figures: {', '.join(result['figures'])}")
        return "\n".join(lines)


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
