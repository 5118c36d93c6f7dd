"""Tagging data: word, character and tag vocabularies, encoded sentences, padded batches.

Shapes: N sentences, L words (padded), W = all real words of the batch (row-major
over (N, L)), Lc characters (padded).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import torch
from torch import Tensor

from rnnkit.data.batches import pad_batch

PAD, UNK = "<pad>", "<unk>"
IGNORE = -100  # label id of padding and of gold tags never seen in training (not learnable)


class Symbols:
    """Strings <-> ids with ``<pad>`` = 0 and ``<unk>`` = 1 before the known symbols."""

    def __init__(self, known: Sequence[str]) -> None:
        self.symbols = [PAD, UNK] + [s for s in known if s not in (PAD, UNK)]
        self.index = {s: i for i, s in enumerate(self.symbols)}

    @classmethod
    def counted(cls, items: Iterable[str], min_count: int = 1) -> "Symbols":
        """The items seen at least ``min_count`` times, most frequent first (ties by name)."""
        counts = Counter(items)
        return cls(sorted((s for s, c in counts.items() if c >= min_count), key=lambda s: (-counts[s], s)))

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, items: Sequence[str]) -> Tensor:
        return torch.tensor([self.index.get(s, 1) for s in items], dtype=torch.long)

    def to_json(self) -> list[str]:
        return self.symbols[2:]

    @classmethod
    def from_json(cls, known: list[str]) -> "Symbols":
        return cls(known)


class Labels:
    """One tag set (e.g. UPOS): tags <-> ids; a tag never seen in training encodes to :data:`IGNORE`."""

    def __init__(self, tags: Sequence[str]) -> None:
        self.tags = list(tags)
        self.index = {t: i for i, t in enumerate(self.tags)}

    @classmethod
    def from_tags(cls, tags: Iterable[str]) -> "Labels":
        return cls(sorted(set(tags)))

    def __len__(self) -> int:
        return len(self.tags)

    def encode(self, tags: Sequence[str]) -> Tensor:
        return torch.tensor([self.index.get(t, IGNORE) for t in tags], dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tags[int(i)] for i in ids]


@dataclass
class Example:
    """One encoded sentence: word ids (L,), each word's character ids, tag ids (L,) per tag set."""

    words: Tensor
    chars: list[Tensor]
    tags: dict[str, Tensor]

    def __len__(self) -> int:
        return len(self.words)


@dataclass
class TagBatch:
    """Padded sentences: words (N, L) (0 = padding), lengths (N,), chars (W, Lc),
    char_lengths (W,), tags ``{name: (N, L)}`` with :data:`IGNORE` at padding."""

    words: Tensor
    lengths: Tensor
    chars: Tensor
    char_lengths: Tensor
    tags: dict[str, Tensor]


class TaggingVocab:
    """The vocabularies of a tagger: words (with a frequency cut-off), characters, tag sets."""

    def __init__(self, words: Symbols, chars: Symbols, labels: dict[str, Labels]) -> None:
        self.words, self.chars, self.labels = words, chars, labels

    @classmethod
    def from_sentences(
        cls, words: Sequence[Sequence[str]], tags: dict[str, Sequence[Sequence[str]]], min_count: int = 2
    ) -> "TaggingVocab":
        """From training sentences (lists of words) and their tags per tag set."""
        flat = [w for sentence in words for w in sentence]
        return cls(
            Symbols.counted(flat, min_count),
            Symbols.counted(c for w in flat for c in w),
            {name: Labels.from_tags(t for sentence in seqs for t in sentence) for name, seqs in tags.items()},
        )

    def extended(self, extra_words: Sequence[str]) -> "TaggingVocab":
        """The same vocabularies with rows for ``extra_words`` (e.g. a vectors file's words the
        training data lacks) after the training words; words already known are skipped."""
        known = self.words.symbols[2:]
        have = set(known)
        return TaggingVocab(Symbols(known + [w for w in extra_words if w not in have]), self.chars, self.labels)

    def encode(self, words: Sequence[str], tags: Optional[dict[str, Sequence[str]]] = None) -> Example:
        """A sentence as an :class:`Example` (tags all :data:`IGNORE` when not given)."""
        if not words:
            raise ValueError("a sentence needs at least one word")
        tags = tags or {}
        encoded = {
            name: (labels.encode(tags[name]) if name in tags else torch.full((len(words),), IGNORE, dtype=torch.long))
            for name, labels in self.labels.items()
        }
        return Example(self.words.encode(words), [self.chars.encode(w) for w in words], encoded)

    def to_json(self) -> dict:
        return {
            "words": self.words.to_json(),
            "chars": self.chars.to_json(),
            "labels": {name: labels.tags for name, labels in self.labels.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> "TaggingVocab":
        return cls(
            Symbols.from_json(data["words"]),
            Symbols.from_json(data["chars"]),
            {name: Labels(tags) for name, tags in data["labels"].items()},
        )


def collate(examples: Sequence[Example]) -> TagBatch:
    """Pad a list of :class:`Example` into a :class:`TagBatch`."""
    words, lengths = pad_batch([e.words for e in examples])
    chars, char_lengths = pad_batch([c for e in examples for c in e.chars])
    tags = {}
    for name in examples[0].tags:
        padded, _ = pad_batch([e.tags[name] for e in examples], pad=IGNORE)
        tags[name] = padded
    return TagBatch(words, lengths, chars, char_lengths, tags)
