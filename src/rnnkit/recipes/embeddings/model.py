"""Word-vector models: skip-gram and CBOW with negative sampling, and the N-gram LM.

Skip-gram (Mikolov et al. 2013) scores a centre word ``c`` against a context word
``o`` and K negatives ``n_k`` drawn from unigram^0.75 (drawn once per centre word
and shared by the pairs of its window: the same expected gradient as fresh draws
per pair, and a batch about 3x cheaper)::

    loss = -log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_{n_k} . v_c)

with ``v`` the input vectors (``input.weight``, the word vectors) and ``u`` the
output vectors (``output.weight``, zeros at the start as in word2vec.c). CBOW
uses the mean of the context words' input vectors as ``v_c`` and the centre word
as the positive. The N-gram model is the PyTorch tutorial's: the embeddings of
the ``context`` previous words, concatenated -> linear -> ReLU -> linear ->
log-softmax over the vocabulary.

Shape legend: N examples, K negatives, C context slots, V vocabulary, D dimension.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.nn.adaptive import AdaptiveSoftmax, parse_cutoffs

METHODS = ("skipgram", "cbow", "ngram")
OUTPUTS = ("negative", "hierarchical")


@dataclass
class EmbeddingModelConfig:
    """Attributes:
    method: skipgram, cbow or ngram.
    output: ``negative`` (sampling) or ``hierarchical`` (softmax over a Huffman tree;
        skipgram and cbow).
    dim: vector size D.
    context: words before the target (ngram only).
    hidden_size: the N-gram model's hidden layer (ngram only).
    adaptive_cutoffs: ``""`` for the tutorial's full softmax, else comma-separated ids
        (e.g. ``"2000,10000"``) of an adaptive softmax over the frequency-sorted
        vocabulary (Grave et al., 2017; ngram only).
    """

    method: str = "skipgram"
    output: str = "negative"
    dim: int = field(default=100, metadata=bounds.units())
    context: int = field(default=2, metadata={**bounds.bound(1, 100), **bounds.only_with("method", "ngram")})
    hidden_size: int = field(default=128, metadata={**bounds.units(), **bounds.only_with("method", "ngram")})
    adaptive_cutoffs: str = ""

    def __post_init__(self) -> None:
        if self.adaptive_cutoffs and self.method != "ngram":
            raise ValueError(
                f"adaptive_cutoffs: the {self.method} method scores with --output "
                f"{self.output}; an adaptive softmax applies to the ngram method"
            )


def _positive_loss(centre: Tensor, positive: Tensor) -> Tensor:
    """-log sigmoid(u . v) (N,) from centre vectors (N, D) and positive vectors (N, D)."""
    return -F.logsigmoid((centre * positive).sum(-1))


def _path_loss(centre: Tensor, nodes: Tensor, signs: Tensor, slot: Tensor, rows: int) -> Tensor:
    """Hierarchical softmax: -sum_j log sigmoid(s_j u_j . v) per example (rows,), from the
    used slots of every example's path: centre vectors (M, D), node vectors (M, D), signs
    (M,) (+1 left, -1 right) and the example each slot belongs to (M,)."""
    per_slot = -F.logsigmoid(signs * (nodes * centre).sum(-1))  # (M,)
    return per_slot.new_zeros(rows).index_add(0, slot, per_slot)


def _negative_loss(centre: Tensor, negatives: Tensor) -> Tensor:
    """-sum_k log sigmoid(-u_k . v) (N,) from centre vectors (N, D) and negatives (N, K, D)."""
    against = (negatives * centre.unsqueeze(1)).sum(-1)  # (N, K); bmm is 3x slower here
    return -F.logsigmoid(-against).sum(-1)


class WordVectorModel(nn.Module):
    """Input and output vectors (V, D) trained with negative sampling (skip-gram or CBOW).

    Args:
        vocab_size: V.
        config: :class:`EmbeddingModelConfig`.

    Attributes:
        input: word vectors, uniform in ``(-0.5/D, 0.5/D)`` as word2vec.c starts them.
        output: context vectors, zeros.
    """

    def __init__(self, vocab_size: int, config: EmbeddingModelConfig) -> None:
        super().__init__()
        if config.method not in ("skipgram", "cbow"):
            raise ValueError(f"method: WordVectorModel trains skipgram or cbow, got {config.method!r}")
        if config.output not in OUTPUTS:
            raise ValueError(f"output: expected one of {', '.join(OUTPUTS)}, got {config.output!r}")
        self.method = config.method
        self.input = nn.Embedding(vocab_size, config.dim)
        self.output = nn.Embedding(vocab_size, config.dim)
        nn.init.uniform_(self.input.weight, -0.5 / config.dim, 0.5 / config.dim)
        nn.init.zeros_(self.output.weight)

    @property
    def vectors(self) -> Tensor:
        """The word vectors (V, D)."""
        return self.input.weight

    def _rows(self, table: nn.Embedding, ids: Tensor) -> Tensor:
        """Rows of ``table`` for ``ids`` of any shape: (*ids.shape, D)."""
        return table.weight.index_select(0, ids.flatten()).view(*ids.shape, -1)

    def forward(self, batch: dict) -> Tensor:
        """Per-example loss (P,).

        ``batch``: skip-gram ``centre`` (n,), ``owner`` (P,) (pair p is
        ``(centre[owner[p]], context[p])``), ``context`` (P,), ``negatives`` (n, K) shared
        by the pairs of a centre; CBOW ``target`` (N,), ``contexts`` (N, C), ``mask``
        (N, C) bool, ``negatives`` (N, K). Hierarchical softmax, instead of negatives: the
        used slots of the positive words' paths, ``path`` (M,) inner nodes, ``signs`` (M,),
        ``slot`` (M,) the example each belongs to (P or N of them).
        """
        if self.method == "skipgram":
            centre = self._rows(self.input, batch["centre"])  # (n, D)
            owner = batch["owner"]
            if "path" in batch:
                return _path_loss(
                    centre[owner[batch["slot"]]],
                    self._rows(self.output, batch["path"]),
                    batch["signs"],
                    batch["slot"],
                    len(owner),
                )
            negative = _negative_loss(centre, self._rows(self.output, batch["negatives"]))
            positive = _positive_loss(centre[owner], self._rows(self.output, batch["context"]))
            return positive + negative[owner]
        mask = batch["mask"].unsqueeze(2).to(self.input.weight.dtype)  # (N, C, 1)
        mean = (self._rows(self.input, batch["contexts"]) * mask).sum(1) / mask.sum(1)  # (N, D)
        if "path" in batch:
            return _path_loss(
                mean[batch["slot"]], self._rows(self.output, batch["path"]), batch["signs"], batch["slot"], len(mean)
            )
        return _positive_loss(mean, self._rows(self.output, batch["target"])) + _negative_loss(
            mean, self._rows(self.output, batch["negatives"])
        )


class NGramLanguageModel(nn.Module):
    """The PyTorch tutorial's N-gram LM: ``context`` previous words -> next word.

    Inputs: ``batch["contexts"]`` (N, context) ids, oldest first; ``batch["target"]`` (N,).
    Output: per-example negative log-likelihood (N,) under a full softmax over V, or an
    :class:`~rnnkit.nn.adaptive.AdaptiveSoftmax` with ``config.adaptive_cutoffs``.
    """

    def __init__(self, vocab_size: int, config: EmbeddingModelConfig) -> None:
        super().__init__()
        self.input = nn.Embedding(vocab_size, config.dim)
        self.hidden = nn.Linear(config.context * config.dim, config.hidden_size)
        cutoffs = parse_cutoffs(config.adaptive_cutoffs, vocab_size)
        self.decoder = (
            AdaptiveSoftmax(config.hidden_size, vocab_size, cutoffs)
            if cutoffs
            else nn.Linear(config.hidden_size, vocab_size)
        )

    @property
    def vectors(self) -> Tensor:
        return self.input.weight

    def forward(self, batch: dict) -> Tensor:
        embedded = self.input(batch["contexts"]).flatten(1)  # (N, context, D) -> (N, context*D)
        hidden = torch.relu(self.hidden(embedded))
        if isinstance(self.decoder, AdaptiveSoftmax):
            return self.decoder.nll(hidden, batch["target"])
        return F.cross_entropy(self.decoder(hidden), batch["target"], reduction="none")


def build_embedding_model(vocab_size: int, config: EmbeddingModelConfig) -> nn.Module:
    """The model of ``config.method``; ValueError naming the method otherwise."""
    if config.method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {config.method!r}")
    if config.method == "ngram":
        if config.output != "negative":
            raise ValueError(
                f"output: the ngram method has a full softmax; --output {config.output} applies to skipgram and cbow"
            )
        return NGramLanguageModel(vocab_size, config)
    return WordVectorModel(vocab_size, config)
