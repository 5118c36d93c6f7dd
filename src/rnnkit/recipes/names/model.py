"""Sequence classifier: tokens -> embedding -> rnnkit RNN/LSTM/GRU -> final state (or the
outputs pooled over time) -> linear.

:func:`build_classifier` gives one :class:`SequenceClassifier`, or with
``members > 1`` a :class:`ClassifierEnsemble` of independently initialised
ones trained side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.nn import build_rnn

POOLING = ("last", "max", "mean")


@dataclass
class ClassifierConfig:
    """Shape of a :class:`SequenceClassifier`.

    Attributes:
        cell: ``lstm``, ``gru``, ``rnn_tanh`` or ``rnn_relu``.
        embedding_dim: symbol embedding size.
        hidden_size: units per direction and layer.
        num_layers: stacked layers.
        bidirectional: read the sequence both ways; the final states of both
            directions are concatenated.
        pooling: what the output layer reads: ``last`` (the final states), ``max``
            or ``mean`` (the top layer's outputs pooled over the real positions).
        dropout: on the embeddings, between layers and before the output layer.
        members: classifiers trained side by side (each its own initialisation and
            dropout, the same batches); predictions average their probabilities.
    """

    cell: str = "lstm"
    embedding_dim: int = field(default=64, metadata=bounds.units())
    hidden_size: int = field(default=256, metadata=bounds.units())
    num_layers: int = field(default=1, metadata=bounds.layers())
    bidirectional: bool = True
    dropout: float = field(default=0.3, metadata=bounds.dropout())
    members: int = field(default=1, metadata=bounds.bound(1, 64))  # an ensemble of at most 64
    pooling: str = "last"

    def __post_init__(self) -> None:  # checked when the config is resolved, before any run directory
        if self.pooling not in POOLING:
            raise ValueError(f"pooling: expected one of {', '.join(POOLING)}, got {self.pooling!r}")
        if self.members < 1:
            raise ValueError(f"members: expected >= 1, got {self.members}")


class SequenceClassifier(nn.Module):
    """Inputs: ids (N, L) padded with 0, lengths (N,). Output: logits (N, C).

    Padding never reaches the recurrence (``lengths`` packs the batch), so a
    sequence gets the same logits alone as in any padded batch.
    """

    def __init__(self, vocab_size: int, num_classes: int, config: ClassifierConfig) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes: expected >= 2, got {num_classes}")
        self.config = config
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=0)
        self.rnn = build_rnn(
            config.cell,
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            config.dropout,
            bidirectional=config.bidirectional,
        )
        self.drop = nn.Dropout(config.dropout)
        directions = 2 if config.bidirectional else 1
        self.output = nn.Linear(directions * config.hidden_size, num_classes)

    def member_logits(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits (1, N, C): the interface :class:`ClassifierEnsemble` shares."""
        return self(ids, lengths).unsqueeze(0)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        outputs, state = self.rnn(self.drop(self.embedding(ids)), lengths=lengths.cpu())
        if self.config.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # (layers * D, N, H)
            directions = 2 if self.config.bidirectional else 1
            last = h[-directions:]  # the top layer's final state, each direction
            features = last.transpose(0, 1).reshape(last.shape[1], -1)  # (D, N, H) -> (N, D*H)
        else:
            features = pool(outputs, lengths.to(outputs.device), self.config.pooling)
        return self.output(self.drop(features))


def pool(outputs: Tensor, lengths: Tensor, how: str) -> Tensor:
    """Outputs (N, L, F) -> (N, F): their ``max`` or ``mean`` over the first ``lengths`` (N,)
    positions of each row (padding never counts)."""
    real = torch.arange(outputs.shape[1], device=outputs.device)[None, :] < lengths[:, None]  # (N, L)
    if how == "max":
        return outputs.masked_fill(~real[..., None], float("-inf")).amax(dim=1)
    return (outputs * real[..., None]).sum(dim=1) / lengths[:, None].to(outputs.dtype)


class ClassifierEnsemble(nn.Module):
    """``config.members`` :class:`SequenceClassifier` s. Inputs as theirs.

    ``forward`` returns log of the members' mean probabilities (N, C), a valid
    input to ``softmax``/``log_softmax``. Training uses :meth:`member_logits`:
    each member's logits get their own cross-entropy and the training loss is
    the mean over members, so members share no parameters but do share one
    optimizer and one gradient-norm clip. (The logged training loss is thus the
    members' mean; the validation loss is the ensemble's.)
    """

    def __init__(self, vocab_size: int, num_classes: int, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(SequenceClassifier(vocab_size, num_classes, config) for _ in range(config.members))

    def member_logits(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits (K, N, C) of the K members."""
        return torch.stack([member(ids, lengths) for member in self.members])

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        log_probs = torch.log_softmax(self.member_logits(ids, lengths), dim=-1)
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))


def build_classifier(vocab_size: int, num_classes: int, config: ClassifierConfig) -> nn.Module:
    """A :class:`SequenceClassifier`, or a :class:`ClassifierEnsemble` when ``config.members > 1``."""
    if config.members == 1:
        return SequenceClassifier(vocab_size, num_classes, config)
    return ClassifierEnsemble(vocab_size, num_classes, config)
