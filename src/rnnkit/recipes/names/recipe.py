"""Recipe: which language is a surname from (18 classes, the PyTorch tutorial data).

Train: ``rnnkit train names`` (bundled data, or ``--data-dir`` holding names/, the [Language].txt files)
Predict: ``rnnkit predict RUN_DIR Schmidhuber Hinton Nakamura --top 3 [--prior uniform|data|FILE]``
Evaluate: ``rnnkit eval RUN_DIR --split test`` (accuracy, balanced accuracy, top-3, macro-F1 under
the data and the uniform prior; calibration before and after temperature scaling; PNGs)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from rnnkit.data.names import NameVocab
from rnnkit.data.names_split import NamesDataConfig, load_split, split_meta, split_record
from rnnkit.export.write import outputs as export_outputs
from rnnkit.files import atomic_write_text
from rnnkit.metrics.classification import balanced_accuracy, classification_scores, top_k_accuracy
from rnnkit.objectives.supervised import (
    SupervisedObjective,
    class_weights,
    classifier_log_probs,
    classifier_loss,
    collate_labelled,
)
from rnnkit.recipes import load
from rnnkit.recipes.names import evaluate as ev
from rnnkit.recipes.names.config import HELP, PRESETS, defaults
from rnnkit.recipes.names.model import build_classifier
from rnnkit.recipes.names.trained import NameClassifier
from rnnkit.recipes.names.use import DEFAULT_PRIOR, EXPORT, PREDICT, format_predictions  # noqa: F401 - re-exported
from rnnkit.train import final_report
from rnnkit.train.params import Param
from rnnkit.train.ranges import split_params
from rnnkit.train.recipe import Built, Recipe, Smoke

#: what validation reports, and which way is better (any of them can be ``--monitor``)
VALIDATION_METRICS = {
    "loss": "min",
    "accuracy": "max",
    "macro_f1": "max",
    "balanced_accuracy": "max",
    f"top{ev.TOP_K}_accuracy": "max",
    "uniform_balanced_accuracy": "max",
}


def validation_scores(train_log_prior: Tensor, data_log_prior: Tensor):
    """``evaluate(model, valid)``: :data:`VALIDATION_METRICS` per pair, with the model's
    log-probabilities moved from the prior it trained under to the data's (C,) (a no-op
    unless it trained with ``--balance``), and ``uniform_balanced_accuracy`` after moving
    them to the uniform prior (before temperature scaling, which is fitted after training)."""

    def evaluate(model, valid) -> dict[str, float]:
        raw = classifier_log_probs(model, [ids for ids, _ in valid]).double() - train_log_prior
        log_probs = torch.log_softmax(raw + data_log_prior, -1).float()
        labels = torch.tensor([label for _, label in valid])
        result = classification_scores(log_probs, labels, [str(c) for c in range(log_probs.shape[1])])
        classes = len(train_log_prior)
        uniform_confusion = torch.bincount(labels * classes + raw.argmax(-1), minlength=classes**2)
        return {
            "loss": result["loss"],
            "accuracy": result["accuracy"],
            "macro_f1": result["macro_f1"],
            "balanced_accuracy": balanced_accuracy(result["confusion"]),
            f"top{ev.TOP_K}_accuracy": top_k_accuracy(log_probs, labels, ev.TOP_K),
            "uniform_balanced_accuracy": balanced_accuracy(uniform_confusion.view(classes, -1)),
        }

    return evaluate


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata for a names run."""
    data: NamesDataConfig = sections["data"]
    names, assignment, parts = load_split(data, resume_meta)
    vocab = NameVocab.from_names([name for name, _ in parts["train"]])
    encode = lambda part: [(vocab.encode(name, warn=False), label) for name, label in parts[part]]  # noqa: E731
    print(
        f"names: {len(names.examples):,} names in {len(names.languages)} languages "
        f"({names.duplicates_removed:,} repeats within a language removed; {len(names.multi_label):,} "
        f"names under 2+ languages); split {', '.join(f'{k} {len(v):,}' for k, v in parts.items())}",
        file=sys.stderr,
    )
    train = encode("train")
    labels = [label for _, label in train]
    weights = class_weights(labels, len(names.languages), data.balance_power)
    counts = torch.bincount(torch.tensor(labels), minlength=len(names.languages)).tolist()
    data_log_prior = ev.resolve_prior("data", names.languages, counts)
    loss = classifier_loss(
        weights if data.balance == "weighted" else None,
        data.balance_power * ev.training_prior(counts, "none", 0).log().float()
        if data.balance == "logit-adjusted"
        else None,
    )
    objective = SupervisedObjective(
        train,
        encode("valid"),
        collate_labelled,
        loss,
        length=lambda example: len(example[0]),
        batch_size=data.batch_size,
        seed=sections["train"].seed,
        evaluate=validation_scores(ev.training_prior(counts, data.balance, data.balance_power).log(), data_log_prior),
        metrics=VALIDATION_METRICS,
        sample_weights=weights[torch.tensor(labels)].double() if data.balance == "sampler" else None,
        unit="names",
    )
    model = build_classifier(len(vocab), len(names.languages), sections["model"])
    return Built(model, objective, dict(split_meta(names, assignment), vocab=vocab.to_json(), train_counts=counts))


def report(run_dir: Path) -> str:
    """After training: test metrics of the best checkpoint (report_test.json, confusion_test.png,
    reliability_test.png; no PNGs with ``--final-report quick``) and the split (split.json)."""
    classifier = load(run_dir)
    names, parts = classifier.split()
    atomic_write_text(
        run_dir / "split.json", json.dumps(split_record(names, parts), ensure_ascii=False, indent=0) + "\n"
    )
    result = classifier.evaluate("test", plots=final_report.level(run_dir) == "full")
    atomic_write_text(run_dir / "report_test.json", json.dumps(result, indent=1) + "\n")
    return classifier.describe(result)


RECIPE = Recipe(
    name="names",
    summary="the language of a surname (18 languages, the PyTorch tutorial data)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=NameClassifier,
    commands=(PREDICT, EXPORT),
    eval_params=(
        *split_params("folder holding names/ (default: the run's)"),
        Param(
            "prior", str, None, "also score under this file of language weights (data and uniform are always scored)"
        ),
    ),
    help=HELP,
    report=report,
    outputs=(
        "split.json",
        "report_test.json",
        "confusion_train.png",
        "confusion_valid.png",
        "confusion_test.png",
        ev.CALIBRATION,
        "reliability_train.png",
        "reliability_valid.png",
        "reliability_test.png",
    )
    + export_outputs(("classify",)),
    smoke=Smoke(
        train=(
            "--data-dir",
            "{fixtures}",
            "--embedding-dim",
            "8",
            "--hidden-size",
            "8",
            "--batch-size",
            "16",
            "--max-steps",
            "6",
            "--max-minutes",
            "0",
            "--members",
            "2",
        ),
        uses={
            "export": ("--format", "torchscript"),
            "predict": ("Kateov", "Kateson", "--top", "2"),
            "eval": ("--split", "valid"),
        },
        expect={"predict": r"^Kateov\n    \(-\d+\.\d\d\) \w+", "eval": r"^valid, per \(name"},
    ),
)
