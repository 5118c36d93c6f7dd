"""Pretrained word vectors as the first layer of a word-level model (``--pretrained-embeddings``).

A recipe adds :class:`PretrainedConfig` (or :class:`PairPretrainedConfig`) as its
``embeddings`` section and calls :func:`initialise` on each embedding after building
the model: rows of words found in the file (exactly, else lowercased) take the
file's vectors, the rest keep their initialisation. With ``freeze_embeddings``
the found rows stay as in the file: their gradients are zeroed (so clipping and
the optimizer's moments never see them) and a callback puts them back after each
step (so weight decay cannot move them either). With tied input/output weights
that freezes the output layer's rows of those words too.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from rnnkit.data.vectors import WordVectors, align_vectors, read_vectors
from rnnkit.train.callbacks import Callback
from rnnkit.train.config import PATH, bound


@dataclass
class PretrainedConfig:
    """Attributes:
    pretrained_embeddings: a word2vec or GloVe text file; its vectors start the word
        embeddings ("" = none). Its width must equal the model's embedding size.
    freeze_embeddings: keep the rows of words found in the file fixed while training.
    pretrained_scale: multiply the file's vectors by this; 0 = scale them so their
        standard deviation equals that of the model's own initial rows (skip-gram
        vectors are often several times larger than a language model's init).
    """

    pretrained_embeddings: str = field(default="", metadata=PATH)
    freeze_embeddings: bool = False
    pretrained_scale: float = field(default=0.0, metadata=bound(0, 1000))

    def __post_init__(self) -> None:
        if self.freeze_embeddings and not self.files():
            raise ValueError("freeze_embeddings: needs a vectors file (--pretrained-embeddings FILE)")

    def files(self) -> list[str]:
        return [self.pretrained_embeddings] if self.pretrained_embeddings else []


@dataclass
class PairPretrainedConfig(PretrainedConfig):
    """:class:`PretrainedConfig` for an encoder-decoder: ``pretrained_embeddings`` starts the
    source embeddings, ``pretrained_target_embeddings`` the target ones (either may be "")."""

    pretrained_target_embeddings: str = field(default="", metadata=PATH)

    def files(self) -> list[str]:
        return [f for f in (self.pretrained_embeddings, self.pretrained_target_embeddings) if f]


HELP = {
    "pretrained_embeddings": "word2vec/GloVe text file whose vectors start the (source) word embeddings "
    "(e.g. from `rnnkit export RUN`); words found are counted",
    "freeze_embeddings": "keep the rows of words found in the vectors file fixed while training",
    "pretrained_scale": "multiply the file's vectors by this; 0 = match the std of the model's initial embedding rows",
    "pretrained_target_embeddings": "word2vec/GloVe text file for the target-side embeddings",
}


def read(path: str) -> Optional[WordVectors]:
    """The vectors of ``path`` (None for ""); ValueError naming the file and line on bad input."""
    return read_vectors(path) if path else None


class FrozenRows(Callback):
    """Puts rows ``rows`` (R,) of ``weight`` (V, D) back to ``values`` (R, D) after every step."""

    name = "frozen_embeddings"

    def __init__(self, weight: nn.Parameter, rows: Tensor, values: Tensor) -> None:
        self.weight, self.rows, self.values = weight, rows, values

    def on_step_end(self, trainer, loss: float, count: int) -> None:
        with torch.no_grad():
            if self.values.device != self.weight.device or self.values.dtype != self.weight.dtype:
                self.rows = self.rows.to(self.weight.device)
                self.values = self.values.to(self.weight.device, self.weight.dtype)
            self.weight.index_copy_(0, self.rows, self.values)


def initialise(
    embedding: nn.Embedding,
    words: Sequence[str],
    vectors: Optional[WordVectors],
    freeze: bool,
    source: str,
    label: str,
    skip: int = 0,
    scale: float = 1.0,
) -> tuple[list[Callback], dict]:
    """Copy the vectors of the words found in ``vectors`` into ``embedding`` (V, D), times
    ``scale`` (0: the factor that gives them the std of the embedding's rows after ``skip``).

    ``words``: the V words of the embedding's rows; the first ``skip`` rows (padding,
    ``<unk>``) are never touched. Prints and returns the counts
    (``{"file", "found", "words", "frozen", "scale"}``); the callbacks keep frozen rows fixed.
    ValueError naming both sizes when the file's width differs from D.
    """
    if vectors is None:
        return [], {}
    matrix, found = align_vectors(vectors, words, embedding.embedding_dim, source)
    found[:skip] = False
    rows = found.nonzero().flatten()
    if scale == 0:
        scale = float(embedding.weight.detach()[skip:].std() / vectors.vectors.std().clamp(min=1e-12))
    matrix = matrix * scale
    with torch.no_grad():
        embedding.weight[rows] = matrix[rows].to(embedding.weight.dtype)
    counted = len(words) - skip
    print(
        f"{label}: {len(rows):,} of {counted:,} words ({len(rows) / max(counted, 1):.1%}) start from "
        f"{source} ({len(vectors.words):,} vectors of {vectors.dim}, times {scale:.4g})"
        + ("; frozen" if freeze else ""),
        file=sys.stderr,
    )
    report = {"file": source, "found": len(rows), "words": counted, "frozen": freeze, "scale": scale}
    if not freeze or not len(rows):
        return [], report
    keep = torch.ones(embedding.num_embeddings, 1)
    keep[rows] = 0.0
    embedding.weight.register_hook(lambda grad: grad * keep.to(grad.device, grad.dtype))
    return [FrozenRows(embedding.weight, rows, matrix[rows].clone())], report


def extra_words(vectors: Optional[WordVectors], known: Sequence[str], limit: int) -> list[str]:
    """The first ``limit`` words of ``vectors`` (file order: most frequent first in word2vec
    files) that are not in ``known``, so words unseen in training can start from their vectors."""
    if vectors is None or limit <= 0:
        return []
    have = set(known)
    return [w for w in vectors.words if w not in have][:limit]
