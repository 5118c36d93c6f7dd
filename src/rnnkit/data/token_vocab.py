"""The token vocabulary of translation and chat: ids for the tokens of a tokenizer
(:mod:`rnnkit.data.subword`), the specials first, then the tokens by falling count."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence


class Vocab:
    """Token ids with the specials ``<pad>``=0, ``<sos>``=1, ``<eos>``=2, ``<unk>``=3 first.

    Then the tokens by falling count, ties by the token's text, so a corpus
    always gives the same ids.

    Attributes:
        tokens: all token strings, specials included, in id order.
        index: token -> id.

    Example:
        >>> vocab = Vocab.build([["a", "b", "a"]])
        >>> vocab.encode(["a", "c"]), vocab.decode([1, 4, 5, 2])
        ([4, 3], ['<sos>', 'a', 'b', '<eos>'])
    """

    PAD, SOS, EOS, UNK = 0, 1, 2, 3
    SPECIALS = ("<pad>", "<sos>", "<eos>", "<unk>")

    def __init__(self, tokens: Sequence[str]) -> None:
        if len(set(tokens)) != len(tokens):
            raise ValueError("Vocab: expected distinct tokens")
        self.tokens = list(self.SPECIALS) + [t for t in tokens if t not in self.SPECIALS]
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], min_freq: int = 1, max_size: int = 0) -> "Vocab":
        """From token sequences: tokens seen at least ``min_freq`` times, at most
        ``max_size`` of them (the most frequent; 0 = no limit; specials not counted)."""
        if min_freq < 1 or max_size < 0:
            raise ValueError(f"Vocab.build: expected min_freq >= 1 and max_size >= 0, got {min_freq} and {max_size}")
        counts = Counter(token for sequence in sequences for token in sequence)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq and t not in cls.SPECIALS), key=lambda t: (-counts[t], t)
        )
        return cls(kept[:max_size] if max_size else kept)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens``; a token not in the vocabulary gets :attr:`UNK`."""
        index, unk = self.index, self.UNK
        return [index.get(t, unk) for t in tokens]

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens not in the vocabulary, sorted."""
        return sorted(set(tokens) - self.index.keys())

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The token of each id (specials by their names); stops at nothing."""
        tokens, size = [], len(self.tokens)
        for i in ids:
            i = int(i)
            if not 0 <= i < size:
                raise ValueError(f"Vocab.decode: id {i} is out of range for a vocabulary of {size}")
            tokens.append(self.tokens[i])
        return tokens

    def to_json(self) -> list[str]:
        """All tokens in id order, the specials first."""
        return list(self.tokens)

    @classmethod
    def from_json(cls, tokens: list[str]) -> "Vocab":
        if list(tokens[: len(cls.SPECIALS)]) != list(cls.SPECIALS):
            raise ValueError(
                f"Vocab.from_json: expected the list to start with {list(cls.SPECIALS)}, got {list(tokens[:4])}"
            )
        return cls(tokens[len(cls.SPECIALS) :])
