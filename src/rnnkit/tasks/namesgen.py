"""Recipe: new surnames in the style of a language (category-conditioned character model).

Train: ``rnnkit train names-gen`` (same data and split as ``rnnkit train names``)
Sample: ``rnnkit sample RUN_DIR --category Russian --start RUS --temperature 0.5`` or ``--n 20``
Evaluate: ``rnnkit eval RUN_DIR --split test`` (nats and bits per character, end of name included)
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.batches import BatchCycler, pad_batch
from rnnkit.data.names import NameVocab, fold_ascii
from rnnkit.decode.sampling import check_sampling, sample_token
from rnnkit.models.namegen import ConditionalCharModel, NameGenConfig
from rnnkit.train.trainer import TrainConfig

from .names import (CycledObjective, NamesDataConfig, TrainedNames, class_weights, load_split,
                    split_meta)

TASK = "names-gen"
MAX_LENGTH = 30


def defaults():
    return {"data": NamesDataConfig(balance="none"), "model": NameGenConfig(),
            "train": TrainConfig(optimizer="adam", lr=3e-3, schedule="cosine", max_epochs=0,
                                 max_steps=3000, warmup_steps=100, final_lr_ratio=0.02,
                                 eval_every=0, eval_each_epoch=True, grad_clip=1.0)}


PRESETS = {
    # chosen by measurement on a 2-core CPU; see benchmarks/RESULTS.md (issue 6)
    "cpu-quick": {"train": {"max_minutes": 9.0}},
}
HELP = {"data_dir": "folder of [Language].txt files (default: the bundled tutorial data)",
        "balance": "none or sampler (rare languages drawn more often, see --balance-power)",
        "cell": "lstm, gru, rnn_tanh or rnn_relu"}


def default_preset(device: str) -> str:
    return "cpu-quick"


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
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.to(device).reshape(-1),
                           ignore_index=0, reduction=reduction)
    return loss, int(lengths.sum())


@torch.no_grad()
def char_loss(model, examples: Sequence[tuple[Tensor, int]], batch_size: int = 256) -> dict[str, float]:
    """Mean nats and bits per character (``</s>`` included) over ``examples``."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(examples), batch_size):
        loss, chars = batch_loss(model, make_batch(examples[start:start + batch_size]), reduction="sum")
        total, count = total + float(loss), count + chars
    model.train(was_training)
    return {"loss": total / count, "bits": total / count / math.log(2)}


class NameGenObjective(CycledObjective):
    """Next-character cross-entropy (per character, ``</s>`` included) on padded batches."""

    def __init__(self, train: list[tuple[Tensor, int]], valid: list[tuple[Tensor, int]],
                 batch_size: int, seed: int, balance: str = "none", power: float = 1.0) -> None:
        if balance not in ("none", "sampler"):
            raise ValueError(f"balance: expected none or sampler for names-gen, got {balance!r}")
        self.train, self.valid = train, valid
        weights = None
        if balance == "sampler":
            labels = [label for _, label in train]
            weights = class_weights(labels, max(labels) + 1, power).double()[torch.tensor(labels)]
        self.cycler = BatchCycler([len(ids) for ids, _ in train], batch_size, seed, weights)

    def next_batch(self):
        rows = self.cycler.next()
        return make_batch([self.train[i] for i in rows])

    def step(self, model, batch) -> tuple[Tensor, int]:
        return batch_loss(model, batch)

    def evaluate(self, model) -> dict[str, float]:
        return char_loss(model, self.valid)


def encode_split(vocab: NameVocab, examples) -> list[tuple[Tensor, int]]:
    return [(vocab.encode(name, bos=True, eos=True, warn=False), label) for name, label in examples]


def build(sections, resume_meta: Optional[dict]):
    """Model, objective and checkpoint metadata for a names-gen run."""
    data: NamesDataConfig = sections["data"]
    names, assignment, parts = load_split(data, resume_meta)
    vocab = NameVocab.from_names([name for name, _ in parts["train"]])
    print(f"names-gen: {len(names.examples):,} names in {len(names.languages)} languages; split "
          f"{', '.join(f'{k} {len(v):,}' for k, v in parts.items())}", file=sys.stderr)
    model = ConditionalCharModel(len(vocab), len(names.languages), sections["model"])
    objective = NameGenObjective(encode_split(vocab, parts["train"]), encode_split(vocab, parts["valid"]),
                                 data.batch_size, sections["train"].seed, data.balance,
                                 data.balance_power)
    return model, objective, dict(split_meta(names, assignment), vocab=vocab.to_json())


class NameGenerator(TrainedNames):
    """A trained generator: names in the style of a language, loss on a split."""

    model_class = ConditionalCharModel
    config_defaults = staticmethod(defaults)

    def category_id(self, category: str) -> int:
        if category not in self.languages:
            raise ValueError(f"--category: unknown category {category!r}; expected one of "
                             f"{', '.join(self.languages)}")
        return self.languages.index(category)

    @torch.no_grad()
    def sample_name(self, category: str, start: str = "", temperature: float = 1.0, top_k: int = 0,
                    top_p: float = 1.0, generator: Optional[torch.Generator] = None) -> str:
        """One name of ``category`` beginning with ``start``; stops at ``</s>`` or 30 characters."""
        check_sampling(temperature, top_k, top_p)
        device = next(self.model.parameters()).device
        category_ids = torch.tensor([self.category_id(category)], device=device)
        if self.meta["config"]["data"]["ascii"]:
            start = fold_ascii(start)
        prefix = self.vocab.encode(start, bos=True)
        logits, state = self.model(prefix.unsqueeze(0).to(device), category_ids)
        out = []
        for _ in range(MAX_LENGTH - len(start)):
            last = logits[:, -1].float().cpu()  # (1, V)
            blocked = self.vocab.eos + (0 if start or out else 1)  # <pad> <unk> <s>, and </s> first
            last[:, :blocked] = -math.inf
            token = int(sample_token(last, temperature, top_k, top_p, generator)[0])
            if token == self.vocab.eos:
                break
            out.append(token)
            logits, state = self.model(torch.tensor([[token]], device=device), category_ids, state)
        return start + self.vocab.decode(out)

    def sample_names(self, category: str, start: str = "", n: int = 1, temperature: float = 1.0,
                     top_k: int = 0, top_p: float = 1.0, seed: Optional[int] = None) -> list[str]:
        """``n`` names per letter of ``start`` (``n`` names from scratch when ``start`` is empty)."""
        self.category_id(category)  # an unknown category fails before any sampling
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        starts = list(start) if start else [""]
        return [self.sample_name(category, s, temperature, top_k, top_p, generator)
                for s in starts for _ in range(n)]

    @torch.no_grad()
    def log_likelihoods(self, names: Sequence[str], batch_size: int = 256) -> Tensor:
        """log p(name | language) (M, C) of each name (``</s>`` included) under every language.

        With a prior p(language), Bayes' rule turns these into a classifier.
        """
        encoded = [self.vocab.encode(name, bos=True, eos=True) for name in self.clean(names)]
        out = torch.empty(len(encoded), len(self.languages))
        for start in range(0, len(encoded), batch_size):
            inputs, targets, lengths = teacher_forcing(encoded[start:start + batch_size])
            for label in range(len(self.languages)):
                category = torch.full((len(lengths),), label)
                nll, _ = batch_loss(self.model, (inputs, targets, lengths, category), reduction="none")
                out[start:start + len(lengths), label] = -nll.view(len(lengths), -1).sum(1).cpu()
        return out

    def evaluate_names(self, split: str = "test", data_dir: Optional[str] = None) -> dict:
        """Loss per character (``</s>`` included) on a split of the run's data."""
        _, parts = self.run_split(data_dir)
        result = char_loss(self.model, encode_split(self.vocab, parts[split]))
        return dict(result, split=split, names=len(parts[split]))

    @staticmethod
    def describe(result: dict) -> str:
        return (f"{result['split']}: {result['loss']:.4f} nats/char ({result['bits']:.4f} bits/char, "
                f"end of name included) over {result['names']:,} names")

    def novelty(self, per_language: int = 100, temperature: float = 1.0, seed: int = 0) -> dict:
        """Sample ``per_language`` names per language; the fraction already in training vs new."""
        _, parts = self.run_split()
        training = {(name, label) for name, label in parts["train"]}
        generator = torch.Generator().manual_seed(seed)
        seen = total = 0
        for label, language in enumerate(self.languages):
            for _ in range(per_language):
                name = self.sample_name(language, temperature=temperature, generator=generator)
                seen += (name, label) in training
                total += 1
        return {"samples": total, "in_training": seen / total, "novel": 1 - seen / total,
                "temperature": temperature}


def report(run_dir: Path) -> str:
    """After training: test loss per character and novelty of samples, in report_test.json."""
    from rnnkit.tasks import load
    generator = load(run_dir)
    generator.write_split(run_dir)
    result = generator.evaluate_names("test")
    result["novelty"] = generator.novelty()
    (run_dir / "report_test.json").write_text(json.dumps(result, indent=1) + "\n")
    novelty = result["novelty"]
    return (generator.describe(result) + f"; of {novelty['samples']:,} sampled names "
            f"(temperature {novelty['temperature']:g}) {novelty['in_training']:.1%} are training "
            f"names, {novelty['novel']:.1%} new")
