"""Recurrent language model: tokens -> embedding -> RNN/LSTM/GRU -> decoder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.nn import build_rnn, cell_spec

State = Union[Tensor, tuple[Tensor, Tensor]]


@dataclass
class LMConfig:
    """Shape of a :class:`RNNLanguageModel`.

    Attributes:
        cell: one of ``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``.
        embedding_dim: input embedding size; 0 means one-hot input as in
            Karpathy's char-rnn.
        hidden_size: hidden units per layer.
        num_layers: stacked recurrent layers.
        dropout: dropout on the embedding output, between layers and before
            the decoder. One-hot input is never dropped (that would delete
            whole characters); char-rnn also drops only between layers and
            before the decoder.
        tie_weights: share the embedding and decoder matrices (Press & Wolf,
            2017); needs ``embedding_dim == hidden_size``.
    """

    cell: str = "lstm"
    embedding_dim: int = field(default=64, metadata=bounds.units(0))
    hidden_size: int = field(default=512, metadata=bounds.units())
    num_layers: int = field(default=2, metadata=bounds.layers())
    dropout: float = field(default=0.0, metadata=bounds.dropout())
    tie_weights: bool = False


class RNNLanguageModel(nn.Module):
    """Next-token model over a vocabulary of ``vocab_size`` ids.

    Inputs: tokens (N, L) long, state (optional; zeros when None).
    Outputs: logits (N, L, V), final state (``(h, c)`` for LSTM, ``h``
    otherwise; each (num_layers, N, H)).
    """

    def __init__(self, vocab_size: int, config: LMConfig) -> None:
        super().__init__()
        if vocab_size < 1:
            raise ValueError(f"vocab_size: expected >= 1, got {vocab_size}")
        if config.tie_weights and config.embedding_dim != config.hidden_size:
            raise ValueError(
                f"tie_weights needs embedding_dim == hidden_size, got {config.embedding_dim} and {config.hidden_size}"
            )
        if not 0.0 <= config.dropout < 1.0:
            raise ValueError(f"dropout: expected a number in [0, 1), got {config.dropout}")
        self.vocab_size, self.config = vocab_size, config
        input_size = config.embedding_dim or vocab_size
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim) if config.embedding_dim else None
        self.rnn = build_rnn(config.cell, input_size, config.hidden_size, config.num_layers, config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_size, vocab_size)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight

    def embed(self, tokens: Tensor) -> Tensor:
        """(N, L) ids -> (N, L, E) embeddings, or one-hot (N, L, V)."""
        if self.embedding is None:
            return F.one_hot(tokens, self.vocab_size).to(self.decoder.weight.dtype)
        return self.embedding(tokens)

    def forward(self, tokens: Tensor, state: Optional[State] = None) -> tuple[Tensor, State]:
        inputs = self.embed(tokens)
        if self.embedding is not None:
            inputs = self.drop(inputs)
        output, state = self.rnn(inputs, state)
        return self.decoder(self.drop(output)), state

    def loss(
        self, tokens: Tensor, targets: Tensor, state: Optional[State] = None, reduction: str = "mean"
    ) -> tuple[Tensor, State]:
        """Cross-entropy of predicting ``targets`` (N, L) from ``tokens`` (N, L); (loss, final state)."""
        logits, state = self(tokens, state)
        return next_token_loss(logits, targets, reduction), state

    def init_state(self, batch_size: int) -> State:
        """Zero state for ``batch_size`` sequences, on the parameters' device and dtype."""
        weight = self.decoder.weight
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        zeros = tuple(weight.new_zeros(shape) for _ in cell_spec(self.config.cell).state_names)  # (h,) or (h, c)
        return zeros if len(zeros) > 1 else zeros[0]


def next_token_loss(logits: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy: logits (N, L, V), targets (N, L) -> scalar (or (N*L,) with "none").

    Half-precision logits (autocast) are widened to float32 first; float64 stays.
    """
    flat = logits.reshape(-1, logits.shape[-1])  # (N, L, V) -> (N*L, V)
    if flat.dtype not in (torch.float32, torch.float64):
        flat = flat.float()
    return F.cross_entropy(flat, targets.reshape(-1), reduction=reduction)
