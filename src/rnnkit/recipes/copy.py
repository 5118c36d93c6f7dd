"""Recipe: copy memory, a long-range memory task (repeat 10 digits after a delay of T blanks).

(``--symbols`` sets how many digits; 10 as in Arjovsky et al., 2016.)

Train: ``rnnkit train copy --length 100 --cell lstm`` (batches generated afresh every step)
Evaluate: ``rnnkit eval RUN --split test`` (cross-entropy per step beside the memoryless baseline
10 log 8 / (T + 20), and the share of recalled digits that are right)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F

from rnnkit.bounds import MAX_STEPS
from rnnkit.data.synthetic import copy_baseline, copy_batch, memoryless_copy_loss
from rnnkit.families.memory import MODEL_HELP, MemoryModelConfig, StepClassifier
from rnnkit.objectives.generated import (
    FIXED_SPLIT,
    GeneratedObjective,
    GeneratedSets,
    generated_train_config,
    split_set,
)
from rnnkit.objectives.supervised import evaluating
from rnnkit.recipes import report_on_test
from rnnkit.train.config import bound
from rnnkit.train.recipe import Built, Recipe, Smoke, TrainedModel

ALPHABET = 8
VOCAB = ALPHABET + 2  # blank, digits, cue


@dataclass
class CopyConfig(GeneratedSets):
    """Attributes: length: the delay T (blanks between the digits and the cue); symbols: digits to
    remember (10 in Arjovsky et al.); the rest as :class:`GeneratedSets`."""

    length: int = field(default=100, metadata=bound(1, MAX_STEPS))
    symbols: int = field(default=10, metadata=bound(1, 1000))

    @property
    def steps(self) -> int:
        """Steps of one sequence (see :func:`span`), for the memory estimate."""
        return span(self)


def defaults():
    return {"data": CopyConfig(), "model": MemoryModelConfig(), "train": generated_train_config()}


PRESETS = {"cpu-quick": {}}
HELP = {"length": "the delay T", "symbols": "digits to remember", **MODEL_HELP}


def span(data: CopyConfig) -> int:
    """Steps from the first digit to the last answer."""
    return data.length + 2 * data.symbols


def make(data: CopyConfig):
    return lambda n, generator: copy_batch(n, data.length, generator, data.symbols, ALPHABET)


def cross_entropy(model, inputs, targets) -> tuple[torch.Tensor, int]:
    device = next(model.parameters()).device
    logits = model(inputs.to(device))  # (N, L, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.to(device).flatten()), targets.numel()


def scorer(symbols: int):
    """Validation figures: cross-entropy per step and the share of the recalled digits right."""

    def scores(model, inputs, targets) -> dict:
        device = next(model.parameters()).device
        logits = model(inputs.to(device))
        loss = float(F.cross_entropy(logits.flatten(0, 1).float(), targets.to(device).flatten()))
        recalled = (logits[:, -symbols:].argmax(-1).cpu() == targets[:, -symbols:]).double().mean()
        return {"loss": loss, "recall_accuracy": float(recalled)}

    return scores


def fixed_split(data: CopyConfig, name: str):
    return split_set(make(data), data, name)


def build(sections, resume_meta: Optional[dict]) -> Built:
    data: CopyConfig = sections["data"]
    objective = GeneratedObjective(
        make(data),
        cross_entropy,
        scorer(data.symbols),
        {"loss": "min", "recall_accuracy": "max"},
        fixed_split(data, "valid"),
        data.batch_size,
        sections["train"].seed,
        unit="positions",
    )
    return Built(StepClassifier(VOCAB, sections["model"], span(sections["data"])), objective, {})


class CopyModel(TrainedModel):
    """A trained copy-memory network: loss and recall on the run's validation or test set."""

    config_defaults = staticmethod(defaults)

    @classmethod
    def build_model(cls, sections, meta: dict):
        return StepClassifier(VOCAB, sections["model"], span(sections["data"]))

    def evaluate(self, split: str = "test") -> dict:
        data = self.sections["data"]
        inputs, targets = fixed_split(data, split)
        with evaluating(self.model):
            result = scorer(data.symbols)(self.model, inputs, targets)
        return {
            "split": split,
            "delay": data.length,
            "cell": self.sections["model"].cell,
            "sequences": len(targets),
            "loss": result["loss"],
            "recall_accuracy": result["recall_accuracy"],
            "baseline_loss": memoryless_copy_loss(targets, data.symbols, ALPHABET),
            "baseline_formula": copy_baseline(data.length, data.symbols, ALPHABET),
            "baseline_recall": 1 / ALPHABET,
        }

    def describe(self, result: dict) -> str:
        return (
            f"{result['split']}: cross-entropy {result['loss']:.5f} nats/step over {result['sequences']:,} "
            f"sequences, delay {result['delay']} ({result['cell']}); memoryless baseline "
            f"{result['baseline_loss']:.5f}; recalled digits right {100 * result['recall_accuracy']:.2f}% "
            f"(guessing: {100 * result['baseline_recall']:.1f}%)"
        )


RECIPE = Recipe(
    name="copy",
    summary="copy memory: repeat 10 digits after a delay of T blanks (long-range memory)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=CopyModel,
    commands=(),
    eval_params=(FIXED_SPLIT,),
    help=HELP,
    report=report_on_test(),
    outputs=("report_test.json",),
    smoke=Smoke(
        train=(
            "--length",
            "5",
            "--hidden-size",
            "8",
            "--batch-size",
            "16",
            "--valid-size",
            "32",
            "--test-size",
            "32",
            "--max-minutes",
            "0",
            "--max-steps",
            "6",
            "--eval-every",
            "3",
            "--warmup-steps",
            "0",
        ),
        uses={"eval": ("--split", "valid")},
        expect={"eval": r"^valid: cross-entropy \d\.\d{5} nats/step"},
    ),
)
