"""Sequence tagger: words + characters -> stacked BiLSTM over the sentence -> one label per word.

Each word is the concatenation of a word embedding and a character-level
representation: a character BiLSTM runs over the word's characters (all words
of the batch at once, packed by length) and its two final states are joined
(Plank et al., 2016; Lample et al., 2016). A stacked bidirectional
``rnnkit.nn`` LSTM/GRU reads the sentence; one linear head per tag set (UPOS,
XPOS, UFeats) scores each word. An optional linear-chain CRF (Lafferty et al.,
2001) sits on the first head.

Shapes: N sentences, L words (padded), W = all real words of the batch,
Lc characters (padded), C tags of a head.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.nn import GATED_CELLS, LinearChainCRF, build_rnn, check_cell


@dataclass
class TaggerConfig:
    """Shape of a :class:`Tagger`.

    Attributes:
        cell: ``lstm`` or ``gru`` (the sentence and the character layers).
        word_dim: word embedding size.
        char_dim: character embedding size; 0 = no character features (the ablation).
        char_hidden: character BiLSTM units per direction.
        hidden_size: sentence BiLSTM units per direction.
        num_layers: stacked sentence layers.
        dropout: on the word representation, between layers and before the heads.
        word_dropout: while training, each word id becomes ``<unk>`` with this probability
            (so the model learns what to do with unseen words).
        crf: a CRF with Viterbi decoding on the first head (UPOS) instead of a softmax.
    """

    cell: str = "lstm"
    word_dim: int = field(default=128, metadata=bounds.units())
    char_dim: int = field(default=50, metadata=bounds.units(0))
    char_hidden: int = field(default=100, metadata=bounds.units())
    hidden_size: int = field(default=256, metadata=bounds.units())
    num_layers: int = field(default=2, metadata=bounds.layers())
    dropout: float = field(default=0.4, metadata=bounds.dropout())
    word_dropout: float = field(default=0.2, metadata=bounds.dropout())
    crf: bool = False

    def __post_init__(self) -> None:  # checked when the config is resolved, before any run directory
        check_cell(self.cell, among=GATED_CELLS)
        for name in ("word_dim", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if self.char_dim < 0 or (self.char_dim and self.char_hidden < 1):
            raise ValueError("char_dim: expected >= 0 (0 = no character features) and char_hidden >= 1")
        for name in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}: expected a number in [0, 1), got {getattr(self, name)}")


def _final_states(state) -> Tensor:
    """The last layer's two final states joined: (2, W, H) -> (W, 2H)."""
    h = state[0] if isinstance(state, tuple) else state
    return torch.cat([h[-2], h[-1]], dim=-1)


class Tagger(nn.Module):
    """Scores every word of every sentence for each tag set.

    Args:
        vocab_size: word ids (0 = padding, 1 = ``<unk>``).
        char_vocab_size: character ids (0 = padding).
        heads: number of tags of each output (e.g. ``{"upos": 18, "xpos": 50, "feats": 200}``);
            the first one gets the CRF when ``config.crf``.

    Inputs: words (N, L), lengths (N,), chars (W, Lc) and char_lengths (W,): the
    characters of the real words in sentence order (row-major over (N, L)).
    Output: ``{head: emissions (N, L, C)}``; padding positions hold zeros' scores.
    """

    def __init__(self, vocab_size: int, char_vocab_size: int, heads: dict[str, int], config: TaggerConfig) -> None:
        super().__init__()
        self.config, self.head_names = config, list(heads)
        self.words = nn.Embedding(vocab_size, config.word_dim, padding_idx=0)
        width = config.word_dim
        if config.char_dim:
            self.chars = nn.Embedding(char_vocab_size, config.char_dim, padding_idx=0)
            self.char_rnn = build_rnn(config.cell, config.char_dim, config.char_hidden, 1, 0.0, bidirectional=True)
            width += 2 * config.char_hidden
        self.rnn = build_rnn(
            config.cell, width, config.hidden_size, config.num_layers, config.dropout, bidirectional=True
        )
        self.drop = nn.Dropout(config.dropout)
        self.heads = nn.ModuleDict({name: nn.Linear(2 * config.hidden_size, size) for name, size in heads.items()})
        self.crf = LinearChainCRF(heads[self.head_names[0]]) if config.crf else None

    def _word_features(
        self, words: Tensor, lengths: Tensor, chars: Optional[Tensor], char_lengths: Optional[Tensor]
    ) -> Tensor:
        """(N, L, word_dim [+ 2 char_hidden]) representation of every position."""
        if self.training and self.config.word_dropout:
            drop = (torch.rand(words.shape, device=words.device) < self.config.word_dropout) & (words > 0)
            words = words.masked_fill(drop, 1)
        features = self.words(words)
        if not self.config.char_dim:
            return features
        _, state = self.char_rnn(self.chars(chars), lengths=char_lengths.cpu())
        per_word = _final_states(state)  # (W, 2 * char_hidden)
        mask = positions(lengths, words.shape[1]).to(words.device)
        by_position = per_word.new_zeros(*words.shape, per_word.shape[-1])
        by_position[mask] = per_word  # (W, 2H) -> (N, L, 2H), row-major like the flattening
        return torch.cat([features, by_position], dim=-1)

    def forward(
        self, words: Tensor, lengths: Tensor, chars: Optional[Tensor] = None, char_lengths: Optional[Tensor] = None
    ) -> dict[str, Tensor]:
        features = self.drop(self._word_features(words, lengths, chars, char_lengths))
        out, _ = self.rnn(features, lengths=lengths.cpu())
        out = self.drop(out)
        return {name: head(out) for name, head in self.heads.items()}

    def decode(self, emissions: dict[str, Tensor], lengths: Tensor) -> dict[str, Tensor]:
        """Best tag ids (N, L) per head: Viterbi under the CRF, else the argmax."""
        out = {name: scores.argmax(-1) for name, scores in emissions.items()}
        if self.crf is not None:
            first = self.head_names[0]
            mask = positions(lengths, emissions[first].shape[1]).to(emissions[first].device)
            out[first], _ = self.crf.viterbi(emissions[first].float(), mask, pad_tag=0)
        return out


def positions(lengths: Tensor, length: int) -> Tensor:
    """(N, L) bool: True at the real positions of a right-padded batch."""
    return torch.arange(length).unsqueeze(0) < lengths.cpu().unsqueeze(1)
