"""Recipe: the adding problem, a long-range memory task (sum of the two marked numbers among T).

Train: ``rnnkit train adding --length 200 --cell lstm`` (batches generated afresh every step)
Evaluate: ``rnnkit eval RUN --split test`` (MSE beside the 0.167 of always answering 1, computed)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from rnnkit.bounds import MAX_STEPS
from rnnkit.data.synthetic import adding_baseline, adding_batch
from rnnkit.families.memory import MODEL_HELP, LastStepRegressor, MemoryModelConfig
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


@dataclass
class AddingConfig(GeneratedSets):
    """Attributes: length: steps T per sequence; the rest as :class:`GeneratedSets`."""

    length: int = field(default=200, metadata=bound(2, MAX_STEPS))


def defaults():
    return {"data": AddingConfig(), "model": MemoryModelConfig(), "train": generated_train_config(monitor="mse")}


PRESETS = {"cpu-quick": {}}
HELP = {"length": "steps per sequence (T)", **MODEL_HELP}


def mse(model, inputs, targets) -> tuple[torch.Tensor, int]:
    device = next(model.parameters()).device
    return torch.nn.functional.mse_loss(model(inputs.to(device)).float(), targets.to(device)), len(targets)


def scores(model, inputs, targets) -> dict:
    value = float(mse(model, inputs, targets)[0])
    return {"loss": value, "mse": value}


def fixed_split(data: AddingConfig, name: str):
    return split_set(lambda n, g: adding_batch(n, data.length, g), data, name)


def build(sections, resume_meta: Optional[dict]) -> Built:
    data: AddingConfig = sections["data"]
    objective = GeneratedObjective(
        lambda n, g: adding_batch(n, data.length, g),
        mse,
        scores,
        {"loss": "min", "mse": "min"},
        fixed_split(data, "valid"),
        data.batch_size,
        sections["train"].seed,
    )
    return Built(LastStepRegressor(2, sections["model"], sections["data"].length), objective, {})


class AddingModel(TrainedModel):
    """A trained adding-problem network: MSE on the run's validation or test set."""

    config_defaults = staticmethod(defaults)

    @classmethod
    def build_model(cls, sections, meta: dict):
        return LastStepRegressor(2, sections["model"], sections["data"].length)

    def evaluate(self, split: str = "test") -> dict:
        inputs, targets = fixed_split(self.sections["data"], split)
        with evaluating(self.model):
            value = float(mse(self.model, inputs, targets)[0])
        return {
            "split": split,
            "length": self.sections["data"].length,
            "cell": self.sections["model"].cell,
            "sequences": len(targets),
            "mse": value,
            "baseline_mse": adding_baseline(targets),
        }

    def describe(self, result: dict) -> str:
        return (
            f"{result['split']}: MSE {result['mse']:.5f} over {result['sequences']:,} sequences of "
            f"{result['length']} steps ({result['cell']}); always answering 1: {result['baseline_mse']:.5f}"
        )


RECIPE = Recipe(
    name="adding",
    summary="the adding problem: sum the two marked numbers among T (long-range memory)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=AddingModel,
    commands=(),
    eval_params=(FIXED_SPLIT,),
    help=HELP,
    report=report_on_test(),
    outputs=("report_test.json",),
    smoke=Smoke(
        train=(
            "--length",
            "12",
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
        expect={"eval": r"^valid: MSE \d\.\d{5} over 32 sequences"},
    ),
)
