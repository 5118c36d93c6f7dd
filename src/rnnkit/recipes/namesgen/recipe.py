"""Recipe: new surnames in the style of a language (category-conditioned character model).

Train: ``rnnkit train names-gen`` (same data and split as ``rnnkit train names``)
Sample: ``rnnkit sample RUN_DIR --category Russian --start RUS --temperature 0.5`` or ``--n 20``
Evaluate: ``rnnkit eval RUN_DIR --split test`` (nats and bits per character, end of name included)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import torch

from rnnkit.data.names import NameVocab
from rnnkit.data.names_split import NamesDataConfig, load_split, split_meta, split_record
from rnnkit.files import atomic_write_text
from rnnkit.objectives.supervised import SupervisedObjective, class_weights
from rnnkit.recipes import load
from rnnkit.recipes.namesgen.config import HELP, PRESETS, defaults
from rnnkit.recipes.namesgen.model import ConditionalCharModel
from rnnkit.recipes.namesgen.objective import batch_loss, encode_split, make_batch
from rnnkit.recipes.namesgen.trained import NameGenerator
from rnnkit.recipes.namesgen.use import SAMPLE
from rnnkit.train.ranges import split_params
from rnnkit.train.recipe import Built, Recipe, Smoke


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata for a names-gen run."""
    data: NamesDataConfig = sections["data"]
    if data.balance not in ("none", "sampler"):
        raise ValueError(f"balance: expected none or sampler for names-gen, got {data.balance!r}")
    names, assignment, parts = load_split(data, resume_meta)
    vocab = NameVocab.from_names([name for name, _ in parts["train"]])
    print(
        f"names-gen: {len(names.examples):,} names in {len(names.languages)} languages; split "
        f"{', '.join(f'{k} {len(v):,}' for k, v in parts.items())}",
        file=sys.stderr,
    )
    train = encode_split(vocab, parts["train"])
    weights = None
    if data.balance == "sampler":
        labels = [label for _, label in train]
        weights = class_weights(labels, max(labels) + 1, data.balance_power).double()[torch.tensor(labels)]
    objective = SupervisedObjective(
        train,
        encode_split(vocab, parts["valid"]),
        make_batch,
        batch_loss,
        length=lambda example: len(example[0]),
        batch_size=data.batch_size,
        seed=sections["train"].seed,
        sample_weights=weights,
        unit="chars",
    )
    model = ConditionalCharModel(len(vocab), len(names.languages), sections["model"])
    return Built(model, objective, dict(split_meta(names, assignment), vocab=vocab.to_json()))


def report(run_dir: Path) -> str:
    """After training: test loss per character and novelty of samples, in report_test.json."""
    generator = load(run_dir)
    names, parts = generator.split()
    atomic_write_text(
        run_dir / "split.json", json.dumps(split_record(names, parts), ensure_ascii=False, indent=0) + "\n"
    )
    result = generator.evaluate("test")
    result["novelty"] = generator.novelty()
    atomic_write_text(run_dir / "report_test.json", json.dumps(result, indent=1) + "\n")
    novelty = result["novelty"]
    return (
        generator.describe(result) + f"; of {novelty['samples']:,} sampled names "
        f"(temperature {novelty['temperature']:g}) {novelty['in_training']:.1%} are training "
        f"names, {novelty['novel']:.1%} new"
    )


RECIPE = Recipe(
    name="names-gen",
    summary="new surnames in the style of a language (language-conditioned char model)",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=NameGenerator,
    commands=(SAMPLE,),
    eval_params=split_params("folder holding names/ (default: the run's)"),
    help=HELP,
    report=report,
    outputs=("split.json", "report_test.json"),
    smoke=Smoke(
        train=(
            "--data-dir",
            "{fixtures}",
            "--embedding-dim",
            "8",
            "--hidden-size",
            "8",
            "--num-layers",
            "1",
            "--batch-size",
            "16",
            "--max-steps",
            "6",
            "--max-minutes",
            "0",
        ),
        uses={"sample": ("--category", "Ovish", "--start", "KM", "--seed", "1"), "eval": ("--split", "valid")},
        expect={"sample": r"^K\w*\nM\w*\n?$", "eval": r"^valid: \d\.\d{4} nats/char"},
    ),
)
