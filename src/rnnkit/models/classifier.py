"""Sequence classifier: tokens -> embedding -> rnnkit RNN/LSTM/GRU -> final state -> linear."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .lm import build_rnn


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
        dropout: on the embeddings, between layers and before the output layer.
    """
    cell: str = "lstm"
    embedding_dim: int = 64
    hidden_size: int = 256
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3


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
        self.rnn = build_rnn(config.cell, config.embedding_dim, config.hidden_size, config.num_layers,
                             config.dropout, bidirectional=config.bidirectional)
        self.drop = nn.Dropout(config.dropout)
        directions = 2 if config.bidirectional else 1
        self.output = nn.Linear(directions * config.hidden_size, num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        _, state = self.rnn(self.drop(self.embedding(ids)), lengths=lengths.cpu())
        h = state[0] if isinstance(state, tuple) else state  # (layers * D, N, H)
        directions = 2 if self.config.bidirectional else 1
        last = h[-directions:]  # the top layer's final state, each direction
        features = torch.cat(list(last), dim=-1)  # (D, N, H) -> (N, D*H)
        return self.output(self.drop(features))
