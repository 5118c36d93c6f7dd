"""Names-gen recipe, trained side: a generator loaded from a checkpoint (:class:`NameGenerator`):
sampled names of a language, log-likelihoods of names under every language, loss and novelty on a
split; and the limits of sampling (:data:`MAX_LENGTH`, :data:`COUNT`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from rnnkit.data.names import NameVocab, clean_names, fold_ascii
from rnnkit.data.names_split import run_split
from rnnkit.decode.sampling import generate
from rnnkit.objectives.supervised import evaluating, mean_loss
from rnnkit.recipes.namesgen.config import defaults
from rnnkit.recipes.namesgen.model import ConditionalCharModel
from rnnkit.recipes.namesgen.objective import batch_loss, encode_split, make_batch, teacher_forcing
from rnnkit.train.meta import VOCAB, Need, digits
from rnnkit.train.params import Param
from rnnkit.train.recipe import TrainedModel

MAX_LENGTH = 30
COUNT = Param("n", int, 1, "names to sample (per start letter with --start)", low=1, high=100)


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
