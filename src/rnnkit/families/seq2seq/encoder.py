"""The recurrent encoder of the encoder-decoder, and :class:`Memory`, what any encoder hands
the attention decoder (:mod:`rnnkit.families.seq2seq.decoder`).

Shape legend: N sentences, S source positions (padded), E embedding size, H the memory size
(both directions together), D directions (2 when bidirectional), Ls encoder layers.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Union

import torch
from torch import Tensor, nn

from rnnkit.nn import build_rnn

State = Union[Tensor, tuple[Tensor, Tensor]]


class Memory(NamedTuple):
    """What an encoder hands an :class:`~rnnkit.families.seq2seq.decoder.AttentionDecoder`.

    A recurrent encoder makes one from a sentence; a convolutional one can make one from an
    image: its annotation grid (N, R, C) (R regions) projected to (N, R, H), an all-True
    mask and, as ``final``, the mean annotation (Xu et al., 2015).

    Attributes:
        memory: (N, S, H), what attention reads (source positions, image regions, ...).
        mask: (N, S) bool, True at real positions (each row needs at least one).
        final: what the decoder starts from: a summary (N, H), or (h (N, H), c (N, H)) from an
            LSTM encoder (its top layer's final states, directions joined).
    """

    memory: Tensor
    mask: Tensor
    final: State


def length_mask(lengths: Tensor, width: int, device: torch.device) -> Tensor:
    """(N,) lengths -> (N, width) bool, True at the first ``lengths[n]`` positions of row n."""
    return torch.arange(width, device=device).unsqueeze(0) < lengths.to(device).unsqueeze(1)


class RecurrentEncoder(nn.Module):
    """Source ids -> :class:`Memory`: an embedding and a (bi)directional recurrent stack.

    Args:
        vocab_size: source ids (0 is padding).
        embedding_dim: E.
        hidden_size: H; a bidirectional encoder has H/2 units per direction.
        num_layers: Ls.
        cell: one of :data:`rnnkit.nn.CELL_NAMES` (default ``lstm``).
        bidirectional: read the sentence both ways (default True).
        dropout: on the embeddings, between layers and on the memory (default 0).
        embedding: a ``(vocab_size, E)`` embedding to use instead of making one.

    Inputs: src (N, S) ids, lengths (N,).
    Output: :class:`Memory` with memory (N, S, H) (zeros at padding before dropout), mask
    (N, S) and final (N, H) (LSTM: ``(h, c)``). Padding never reaches the recurrence.

    Example:
        >>> encoder = RecurrentEncoder(100, 16, 32, num_layers=2)
        >>> memory, mask, final = encoder(torch.randint(1, 100, (3, 7)), torch.tensor([7, 5, 2]))
        >>> memory.shape, mask.shape, final[0].shape
        (torch.Size([3, 7, 32]), torch.Size([3, 7]), torch.Size([3, 32]))
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        dropout: float = 0.0,
        embedding: Optional[nn.Embedding] = None,
    ) -> None:
        super().__init__()
        self.directions = 2 if bidirectional else 1
        if hidden_size % self.directions:
            raise ValueError(f"hidden_size: a bidirectional encoder needs an even size, got {hidden_size}")
        self.hidden_size = hidden_size
        self.embedding = embedding if embedding is not None else nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.rnn = build_rnn(cell, embedding_dim, hidden_size // self.directions, num_layers, dropout, bidirectional)
        self.drop = nn.Dropout(dropout)

    def forward(self, src: Tensor, lengths: Tensor) -> Memory:
        outputs, final = self.rnn(self.drop(self.embedding(src)), lengths=lengths.cpu())
        mask = length_mask(lengths, src.shape[1], src.device)
        top = tuple(map(self._top, final)) if isinstance(final, tuple) else self._top(final)
        return Memory(self.drop(outputs), mask, top)

    def _top(self, final: Tensor) -> Tensor:
        """The top layer's final states, directions joined: (D*Ls, N, H/D) -> (N, H)."""
        return torch.cat(list(final[-self.directions :]), dim=-1)
