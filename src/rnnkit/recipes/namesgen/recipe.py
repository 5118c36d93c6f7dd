"""Recipe: new surnames in the style of a language (category-conditioned character model).

Train: ``rnnkit train names-gen`` (same data and split as ``rnnkit train names``)
Sample: ``rnnkit sample RUN_DIR --category Russian --start RUS --temperature 0.5`` or ``--n 20``
Evaluate: ``rnnkit eval RUN_DIR --split test`` (nats and bits per character, end of name included)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.batches import pad_batch
from rnnkit.data.names import NameVocab, clean_names, fold_ascii
from rnnkit.data.names_split import NamesDataConfig, load_split, run_split, split_meta, split_record
from rnnkit.decode.sampling import generate
from rnnkit.files import atomic_write_text
from rnnkit.objectives.supervised import SupervisedObjective, class_weights, evaluating, mean_loss
from rnnkit.recipes import load
from rnnkit.recipes.namesgen.model import ConditionalCharModel, NameGenConfig
from rnnkit.train.meta import VOCAB, Need, digits
from rnnkit.train.options import TrainConfig
from rnnkit.train.params import REQUIRED, Param
from rnnkit.train.ranges import sampling_params, split_params
from rnnkit.train.recipe import Built, Command, Recipe, Serving, Smoke, TrainedModel

MAX_LENGTH = 30


def defaults():
    return {
        "data": NamesDataConfig(balance="none"),
        "model": NameGenConfig(),
        "train": TrainConfig(
            optimizer="adam",
            lr=3e-3,
            schedule="cosine",
            max_epochs=0,
            max_steps=3000,
            warmup_steps=100,
            final_lr_ratio=0.02,
            eval_every=0,
            eval_each_epoch=True,
            grad_clip=1.0,
        ),
    }


PRESETS = {
    # chosen by measurement on a 2-core CPU; see docs/recipes/names-gen.md (issue 6)
    "cpu-quick": {"train": {"max_minutes": 9.0}},
}
HELP = {
    "data_dir": "folder holding names/, the [Language].txt files (default: the bundled tutorial data)",
    "balance": "none or sampler (rare languages drawn more often, see --balance-power)",
    "cell": "lstm, gru, rnn_tanh or rnn_relu",
}


def teacher_forcing(names: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Names as ``<s> c1..cn`` ids (N, L) -> targets ``c1..cn </s>`` (N, L), both padded with 0; lengths (N,)."""
    inputs, lengths = pad_batch([ids[:-1] for ids in names])
    targets, _ = pad_batch([ids[1:] for ids in names])
    return inputs, targets, lengths


def make_batch(examples: Sequence[tuple[Tensor, int]]):
    """(inputs (N, L), targets (N, L), lengths (N,), categories (N,)) from (ids, label) pairs."""
    inputs, targets, lengths = teacher_forcing([ids for ids, _ in examples])
    return inputs, targets, lengths, torch.tensor([label for _, label in examples])


def batch_loss(model, batch, reduction: str = "mean") -> tuple[Tensor, int]:
    """Cross-entropy over the real (unpadded) target characters; (loss, number of characters)."""
    inputs, targets, lengths, category = batch
    device = next(model.parameters()).device
    logits, _ = model(inputs.to(device), category.to(device), lengths=lengths)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        targets.to(device).reshape(-1),
        ignore_index=0,
        reduction=reduction,
    )
    return loss, int(lengths.sum())


def encode_split(vocab: NameVocab, examples) -> list[tuple[Tensor, int]]:
    return [(vocab.encode(name, bos=True, eos=True, warn=False), label) for name, label in examples]


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


class NameGenerator(TrainedModel):
    """A trained generator: names in the style of a language, loss on a split."""

    config_defaults = staticmethod(defaults)

    meta_fields = {
        "vocab": VOCAB,
        "languages": VOCAB,
        "data_sha256": Need("string"),
        "split": Need("string", check=digits("012")),
    }

    @classmethod
    def build_model(cls, sections, meta: dict):
        return ConditionalCharModel(
            len(meta["vocab"]) + len(NameVocab.SPECIALS), len(meta["languages"]), sections["model"]
        )

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.vocab, self.languages = NameVocab.from_json(meta["vocab"]), meta["languages"]

    def category_id(self, category: str) -> int:
        if category not in self.languages:
            raise ValueError(f"--category: unknown category {category!r}; expected one of {', '.join(self.languages)}")
        return self.languages.index(category)

    def check_start(self, start: str) -> str:
        """``start`` as the model reads it (ASCII-folded when the run was); ValueError naming the
        letters it never saw in training, or a start longer than a name."""
        if len(start) > MAX_LENGTH:
            raise ValueError(f"--start: expected at most {MAX_LENGTH} letters, got {len(start):,}")
        letters = [fold_ascii(c) if self.sections["data"].ascii else c for c in start]
        unseen = sorted({c for c, read in zip(start, letters) if not read or self.vocab.unknown(read)})
        if unseen:
            raise ValueError(
                f"--start: the model never saw {', '.join(map(repr, unseen))} in training; "
                f"it knows {''.join(self.vocab.to_json())!r}"
            )
        return "".join(letters)

    def sample_name(
        self,
        category: str,
        start: str = "",
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        generator: Optional[torch.Generator] = None,
    ) -> str:
        """One name of ``category`` beginning with ``start``; stops at ``</s>`` or 30 characters."""
        device = self.device
        category_ids = torch.tensor([self.category_id(category)], device=device)
        if self.sections["data"].ascii:
            start = fold_ascii(start)
        vocab = self.vocab

        def step(tokens, state):
            return self.model(tokens.to(device), category_ids, state)

        with torch.no_grad():  # never <pad> <unk> <s>; </s> not first when nothing is given
            ids = list(
                generate(
                    step,
                    vocab.encode(start, bos=True),
                    MAX_LENGTH - len(start),
                    None,
                    temperature,
                    top_k,
                    top_p,
                    generator,
                    stop_token=vocab.eos,
                    never=range(vocab.eos),
                    min_length=0 if start else 1,
                )
            )
        return start + vocab.decode(ids)

    def sample_names(
        self,
        category: str,
        start: str = "",
        n: int = 1,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: Optional[int] = None,
    ) -> list[str]:
        """``n`` names per letter of ``start`` (``n`` names from scratch when ``start`` is empty)."""
        self.category_id(category)  # an unknown category or start letter fails before any sampling
        start = self.check_start(start)
        COUNT.ensure(n)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        starts = list(start) if start else [""]
        return [self.sample_name(category, s, temperature, top_k, top_p, generator) for s in starts for _ in range(n)]

    def log_likelihoods(self, names: Sequence[str], batch_size: int = 256) -> Tensor:
        """log p(name | language) (M, C) of each name (``</s>`` included) under every language.

        With a prior p(language), Bayes' rule turns these into a classifier.
        """
        cleaned = clean_names(names, self.sections["data"].ascii)
        encoded = [self.vocab.encode(name, bos=True, eos=True) for name in cleaned]
        out = torch.empty(len(encoded), len(self.languages))
        with evaluating(self.model):
            for start in range(0, len(encoded), batch_size):
                inputs, targets, lengths = teacher_forcing(encoded[start : start + batch_size])
                for label in range(len(self.languages)):
                    category = torch.full((len(lengths),), label)
                    nll, _ = batch_loss(self.model, (inputs, targets, lengths, category), reduction="none")
                    out[start : start + len(lengths), label] = -nll.view(len(lengths), -1).sum(1).cpu()
        return out

    def split(self, data_dir: Optional[str] = None):
        """(names data, examples per split) of the run, checked against its saved split."""
        return run_split(self.sections["data"], self.meta, data_dir)

    def evaluate(self, split: str = "test", data_dir: Optional[str] = None) -> dict:
        """Loss per character (``</s>`` included) on a split of the run's data."""
        _, parts = self.split(data_dir)
        result = mean_loss(self.model, encode_split(self.vocab, parts[split]), make_batch, batch_loss)
        return dict(result, split=split, names=len(parts[split]))

    def describe(self, result: dict) -> str:
        return (
            f"{result['split']}: {result['loss']:.4f} nats/char ({result['bits']:.4f} bits/char, "
            f"end of name included) over {result['names']:,} names"
        )

    def novelty(self, per_language: int = 100, temperature: float = 1.0, seed: int = 0) -> dict:
        """Sample ``per_language`` names per language; the fraction already in training vs new."""
        _, parts = self.split()
        training = {(name, label) for name, label in parts["train"]}
        generator = torch.Generator().manual_seed(seed)
        seen = total = 0
        for label, language in enumerate(self.languages):
            for _ in range(per_language):
                name = self.sample_name(language, temperature=temperature, generator=generator)
                seen += (name, label) in training
                total += 1
        return {"samples": total, "in_training": seen / total, "novel": 1 - seen / total, "temperature": temperature}


SAMPLING = sampling_params()
COUNT = Param("n", int, 1, "names to sample (per start letter with --start)", low=1, high=100)


def _sample_names(generator: NameGenerator, values) -> list[str]:
    return generator.sample_names(
        values["category"], start=values["start"], n=values["n"], **values.of(*(p.name for p in SAMPLING))
    )


def _sample(generator: NameGenerator, values) -> int:
    if values.category is None:
        raise ValueError(f"--category is required; expected one of {', '.join(generator.languages)}")
    print("\n".join(_sample_names(generator, values)))
    return 0


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


def serve_sample(generator: NameGenerator, values) -> dict:
    """``POST /sample``: ``{"category": ..., "names": [...]}``, as ``sample_names`` gives them."""
    return {"category": values["category"], "names": _sample_names(generator, values)}


# not batched: each request draws its names from its own seeded generator, one character at a time
SAMPLE = Command(
    "sample",
    "new names in the style of a language",
    (
        Param(
            "category",
            str,
            REQUIRED,
            "language to generate names in (an unknown one is answered with the list)",
            cli={"default": None, "help": "language to generate names in (required)"},
        ),
        Param(
            "start",
            str,
            "",
            "one name per start letter, e.g. RUS (letters the model saw in training)",
            size=(None, MAX_LENGTH),
            cli={
                "help": f"one name per start letter, e.g. RUS (at most {MAX_LENGTH} letters, "
                "each one the model saw in training)"
            },
        ),
        COUNT,
        *SAMPLING,
    ),
    _sample,
    serve=Serving(serve_sample, example={"category": "Russian", "start": "RUS", "seed": 1}),
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
