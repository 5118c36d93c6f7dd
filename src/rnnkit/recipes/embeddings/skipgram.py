"""Training examples for word vectors: vocabulary cut-off, subsampling, windows, negatives.

Everything works on whole id tensors (no Python loop per word), so one batch of
tens of thousands of (centre, context, negatives) examples costs a few tensor ops.

Shape legend: T tokens in a stream, P pairs, K negatives per pair, C = 2 * window
context slots (CBOW), V vocabulary size.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor

from rnnkit.data.corpus import LAYOUTS, split_paths
from rnnkit.data.text import read_text


def count_vocabulary(tokens: Sequence[str], min_count: int) -> tuple[list[str], Tensor]:
    """Words seen at least ``min_count`` times, most frequent first (ties: first seen),
    and their counts (V,). ValueError when no word is frequent enough."""
    counts = Counter(tokens)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: -counts[w])
    if not words:
        raise ValueError(f"--min-count {min_count}: no word occurs that often in the corpus ({len(tokens):,} tokens)")
    return words, torch.tensor([counts[w] for w in words], dtype=torch.float64)


def encode_known(tokens: Sequence[str], words: Sequence[str]) -> Tensor:
    """Ids (T',) of the tokens in ``words``; the others are dropped, as word2vec drops them."""
    index = {w: i for i, w in enumerate(words)}
    return torch.tensor([index[t] for t in tokens if t in index], dtype=torch.long)


def keep_probabilities(counts: Tensor, sample: float) -> Tensor:
    """Probability (V,) of keeping each occurrence of a word under frequent-word subsampling.

    The formula of word2vec.c (Mikolov et al. 2013, the code rather than the paper's
    ``1 - sqrt(t / f)``), with ``f`` the word's share of the corpus and ``t = sample``:
    ``keep = (sqrt(f / t) + 1) * t / f``, capped at 1. Words with ``f <= t`` (about)
    are always kept; ``sample = 0`` keeps everything.
    """
    if sample <= 0:
        return torch.ones_like(counts)
    share = counts / counts.sum()
    return ((share / sample).sqrt() + 1).mul(sample / share).clamp(max=1.0)


def subsample(ids: Tensor, keep: Tensor, generator: torch.Generator) -> Tensor:
    """The tokens (T',) of ``ids`` (T,) that survive one subsampling draw."""
    draw = torch.rand(len(ids), generator=generator, dtype=torch.float64)
    return ids[draw < keep[ids]]


class NegativeSampler:
    """Draws words from the unigram distribution raised to ``power`` (0.75 in word2vec).

    As word2vec.c, through a table in which word i fills ``round(p_i * size)``
    consecutive slots (word2vec.c: 10^8 slots; here 10^7 by default, so p_i is off
    by at most 0.5 / size): a draw is one uniform slot, 15x faster than
    inverse-CDF sampling. A negative may equal the positive word (word2vec skips
    those; with V in the thousands they are rare).

    Attributes:
        probabilities: (V,) the distribution aimed at; ``table``: (size,) int32 word ids.
    """

    def __init__(self, counts: Tensor, power: float = 0.75, size: int = 10_000_000) -> None:
        weights = counts.double().pow(power)
        self.probabilities = weights / weights.sum()
        ends = (self.probabilities.cumsum(0) * size).round().long()
        slots = torch.diff(ends, prepend=ends.new_zeros(1))
        self.table = torch.repeat_interleave(torch.arange(len(counts), dtype=torch.int32), slots)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        """Ids (long) of ``shape`` drawn independently."""
        return self.table[torch.randint(len(self.table), shape, generator=generator)].long()


def reduced_windows(n: int, window: int, generator: torch.Generator) -> Tensor:
    """word2vec's dynamic window: each centre's window b ~ U{1..window} (n,), so nearer
    words are used more often (a context at distance d is used with probability
    (window - d + 1) / window)."""
    return torch.randint(1, window + 1, (n,), generator=generator)


def skipgram_pairs(
    stream: Tensor, start: int, stop: int, window: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """(centres (n,), owner (P,), context (P,)) for the centres ``stream[start:stop]``:
    pair p is (``centres[owner[p]]``, ``context[p]``), contexts taken from the whole
    stream within each centre's dynamic window."""
    positions = torch.arange(start, stop)
    spans = reduced_windows(len(positions), window, generator)
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)])  # (C,)
    where = positions[:, None] + offsets[None, :]  # (n, C)
    valid = (offsets.abs()[None, :] <= spans[:, None]) & (where >= 0) & (where < len(stream))
    rows, cols = valid.nonzero(as_tuple=True)
    return stream[positions], rows, stream[where[rows, cols]]


def cbow_windows(
    stream: Tensor, start: int, stop: int, window: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """(target (n,), contexts (n, C), mask (n, C)) for the centres ``stream[start:stop]``
    that have at least one context word; padded slots hold id 0 and mask False."""
    centres = torch.arange(start, stop)
    spans = reduced_windows(len(centres), window, generator)
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)])
    where = centres[:, None] + offsets[None, :]
    mask = (offsets.abs()[None, :] <= spans[:, None]) & (where >= 0) & (where < len(stream))
    contexts = stream[where.clamp(0, len(stream) - 1)].masked_fill(~mask, 0)
    some = mask.any(1)
    return stream[centres[some]], contexts[some], mask[some]


def ngram_examples(stream: Tensor, start: int, stop: int, context: int) -> tuple[Tensor, Tensor]:
    """(contexts (n, context), target (n,)): the ``context`` words before each target
    ``stream[i]``, for ``i`` in ``[max(start, context), stop)`` (the tutorial's N-gram LM)."""
    targets = torch.arange(max(start, context), stop)
    where = targets[:, None] - torch.arange(context, 0, -1)[None, :]  # oldest first
    return stream[where], stream[targets]


def corpus_tokens(corpus: str, root: Optional[str] = None, held_out: float = 0.05) -> tuple[list[str], list[str]]:
    """(training tokens, held-out tokens), whitespace-split, no sentence markers.

    ``corpus``: ``ptb`` or ``wikitext-2`` (their train and valid splits, under
    :func:`rnnkit.data.corpus.data_dir`), a folder with ``train.txt`` (and
    ``valid.txt`` when present), any other folder (its ``*.txt`` files, sorted) or a
    text file; without a valid split the last ``held_out`` share of the tokens is held out.
    """
    path = Path(corpus)
    if corpus in LAYOUTS or (path.is_dir() and (path / "train.txt").is_file()):
        paths = split_paths(corpus, root if corpus in LAYOUTS else None)  # --data-dir: ptb/, wikitext-2/
        train = read_text(paths["train"]).split()
        valid = read_text(paths["valid"]).split() if paths["valid"].is_file() else []
        if valid:
            return train, valid
        files = [paths["train"]]
    elif path.is_dir():
        files = sorted(path.rglob("*.txt"))
        if not files:
            raise ValueError(f"corpus {corpus!r}: the folder holds no .txt files")
    elif path.exists():  # a file, or what read_text refuses by name (a FIFO, a device)
        files = [path]
    else:
        raise ValueError(f"corpus {corpus!r}: expected ptb, wikitext-2, a text file or a folder")
    tokens = [t for f in files for t in read_text(f).split()]
    cut = len(tokens) - int(len(tokens) * held_out)
    return tokens[:cut], tokens[cut:]
