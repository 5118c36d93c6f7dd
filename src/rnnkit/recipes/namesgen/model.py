"""Category-conditioned character model: a name generator in the style of a language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.nn import build_rnn


@dataclass
class NameGenConfig:
    """Shape of a :class:`ConditionalCharModel`.

    Attributes:
        cell: ``lstm``, ``gru``, ``rnn_tanh`` or ``rnn_relu``.
        embedding_dim: character embedding size.
        category_dim: category embedding size, fed at every step beside the character.
        hidden_size: recurrent units per layer.
        num_layers: stacked layers.
        dropout: on the inputs, between layers and before the output layer.
    """

    cell: str = "lstm"
    embedding_dim: int = field(default=48, metadata=bounds.units())
    category_dim: int = field(default=16, metadata=bounds.units())
    hidden_size: int = field(default=256, metadata=bounds.units())
    num_layers: int = field(default=2, metadata=bounds.layers())
    dropout: float = field(default=0.2, metadata=bounds.dropout())


class ConditionalCharModel(nn.Module):
    """Next-character model given a category at every step.

    Inputs: ids (N, L) (``<s>`` then the name, padded with 0), category (N,),
    state (optional), lengths (N,) (optional, for padded batches).
    Outputs: logits (N, L, V) and the final state.
    """

    def __init__(self, vocab_size: int, num_categories: int, config: NameGenConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=0)
        self.category = nn.Embedding(num_categories, config.category_dim)
        self.rnn = build_rnn(
            config.cell,
            config.embedding_dim + config.category_dim,
            config.hidden_size,
            config.num_layers,
            config.dropout,
        )
        self.drop = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_size, vocab_size)

    def forward(self, ids: Tensor, category: Tensor, state=None, lengths: Optional[Tensor] = None):
        steps = ids.shape[1]
        chars = self.embedding(ids)  # (N, L, E)
        cats = self.category(category).unsqueeze(1).expand(-1, steps, -1)  # (N, C) -> (N, L, C)
        inputs = self.drop(torch.cat([chars, cats], dim=-1))
        if lengths is not None:
            output, state = self.rnn(inputs, state, lengths=lengths.cpu())
        else:
            output, state = self.rnn(inputs, state)
        return self.decoder(self.drop(output)), state
