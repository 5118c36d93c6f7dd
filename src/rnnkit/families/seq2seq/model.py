"""Encoder-decoder for translation and chat: a :class:`~rnnkit.families.seq2seq.encoder.RecurrentEncoder`
composed with an :class:`~rnnkit.families.seq2seq.decoder.AttentionDecoder` (no attention,
Bahdanau or Luong; the equations are in :mod:`rnnkit.families.seq2seq.decoder`).

Shape legend: N sentences, S source positions (padded), T target positions (padded),
E embedding size, H hidden size (the encoder's outputs, both directions together, and the
decoder's state), V target vocabulary.

The decoder starts from tanh(W_b [final forward; final backward]) of the encoder's top layer
and attends over its outputs; attention never gives weight to source padding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.nn import GATED_CELLS, check_cell

from .decoder import AttentionDecoder, check_attention
from .encoder import RecurrentEncoder


@dataclass
class Seq2SeqConfig:
    """Shape of a :class:`Seq2Seq`.

    Attributes:
        cell: ``lstm`` or ``gru`` (encoder and decoder).
        embedding_dim: source and target embedding size (E).
        hidden_size: H; a bidirectional encoder has H/2 units per direction.
        encoder_layers, decoder_layers: stacked recurrent layers.
        bidirectional: a bidirectional encoder.
        attention: ``none``, ``bahdanau`` or ``luong``.
        score: Luong's score, ``dot``, ``general`` or ``concat``.
        input_feeding: Luong's input feeding (h~_{t-1} joins the next step's input).
        dropout: on embeddings, encoder outputs, between layers and before the output layer.
        tie_embeddings: the output layer shares the target embedding matrix (O = E).
    """

    cell: str = "lstm"
    embedding_dim: int = field(default=256, metadata=bounds.units())
    hidden_size: int = field(default=512, metadata=bounds.units())
    encoder_layers: int = field(default=2, metadata=bounds.layers())
    decoder_layers: int = field(default=1, metadata=bounds.layers())
    bidirectional: bool = True
    attention: str = "luong"
    score: str = field(default="general", metadata=bounds.only_with("attention", "luong"))
    input_feeding: bool = field(default=False, metadata=bounds.only_with("attention", "luong"))
    dropout: float = field(default=0.3, metadata=bounds.dropout())
    tie_embeddings: bool = False

    def __post_init__(self) -> None:  # checked when the config is resolved
        check_cell(self.cell, among=GATED_CELLS)
        check_attention(self.attention, self.score)
        for name in ("embedding_dim", "hidden_size", "encoder_layers", "decoder_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if self.bidirectional and self.hidden_size % 2:
            raise ValueError(f"hidden_size: a bidirectional encoder needs an even size, got {self.hidden_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected a number in [0, 1), got {self.dropout}")


#: the modules of a Seq2Seq by their checkpoint names (its state_dict keys since the first
#: translate runs), in that order -> where they live in its parts
_CHECKPOINT_NAMES = {
    "src_embedding": "source_encoder.embedding",
    "tgt_embedding": "target_decoder.embedding",
    "encoder": "source_encoder.rnn",
    "bridge": "target_decoder.bridge",
    "bridge_cell": "target_decoder.bridge_cell",
    "decoder": "target_decoder.rnn",
    "attention": "target_decoder.attention",
    "combine": "target_decoder.combine",
    "generator": "target_decoder.generator",
}


class Seq2Seq(nn.Module):
    """Source ids -> target log-probabilities, trained with teacher forcing.

    Args:
        src_vocab, tgt_vocab: vocabulary sizes (id 0 is padding in both).
        config: a :class:`Seq2SeqConfig`.
        sos: the target's start id (what the first step reads).

    Attributes:
        source_encoder: the :class:`RecurrentEncoder`.
        target_decoder: the :class:`AttentionDecoder`.

    The parts' modules are registered on the model itself under the names its checkpoints
    have always used (``src_embedding``, ``encoder`` = the encoder's recurrent layer,
    ``bridge``, ``decoder`` = the decoder's recurrent layer, ``attention``, ``generator``,
    ...), in the order they were made, so state dicts, parameter order (the optimizer's
    state) and initial values are those of the model before it was split. The parts are not
    registered a second time; assigning one of those names on the model replaces it in its
    part too (as :func:`rnnkit.export.layers.for_export` does), and :meth:`train` reaches both.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, config: Seq2SeqConfig, sos: int = 1) -> None:
        super().__init__()
        c = self.config = config
        self.sos = sos
        H, E = c.hidden_size, c.embedding_dim
        # made in the order of the first model, so a seed gives the same initial values
        src_embedding = nn.Embedding(src_vocab, E, padding_idx=0)
        tgt_embedding = nn.Embedding(tgt_vocab, E, padding_idx=0)
        encoder = RecurrentEncoder(
            src_vocab, E, H, c.encoder_layers, c.cell, c.bidirectional, c.dropout, embedding=src_embedding
        )
        decoder = AttentionDecoder(
            tgt_vocab,
            E,
            H,
            c.decoder_layers,
            c.cell,
            c.attention,
            c.score,
            c.input_feeding,
            c.dropout,
            c.tie_embeddings,
            embedding=tgt_embedding,
        )
        self.__dict__["_parts"] = {"source_encoder": encoder, "target_decoder": decoder}
        for name, where in _CHECKPOINT_NAMES.items():
            part, attribute = where.split(".")
            setattr(self, name, getattr(self._parts[part], attribute))
        self.out_size = decoder.out_size

    def __setattr__(self, name: str, value) -> None:
        super().__setattr__(name, value)
        if name in _CHECKPOINT_NAMES and "_parts" in self.__dict__:
            part, attribute = _CHECKPOINT_NAMES[name].split(".")
            setattr(self._parts[part], attribute, value)

    @property
    def source_encoder(self) -> RecurrentEncoder:
        return self._parts["source_encoder"]

    @property
    def target_decoder(self) -> AttentionDecoder:
        return self._parts["target_decoder"]

    def train(self, mode: bool = True) -> "Seq2Seq":
        super().train(mode)
        for part in self._parts.values():
            part.train(mode)
        return self

    def encode(self, src: Tensor, lengths: Tensor) -> tuple[dict, dict]:
        """Source (N, S) ids and (N,) lengths -> (decoder state, memory): the decoder's
        :meth:`~AttentionDecoder.start` of the encoder's Memory."""
        return self.target_decoder.start(self.source_encoder(src, lengths))

    def can_run_whole(self) -> bool:
        return self.target_decoder.can_run_whole()

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
        teacher_forcing: float = 1.0,
        return_attention: bool = False,
    ):
        """Logits (N, T, V) of every target position given the previous ones.

        Inputs: src (N, S), src_lengths (N,), tgt_in (N, T): ``<sos>`` then the target
        without its last token. With ``teacher_forcing`` < 1 each row reads, at each step,
        its own previous prediction instead of the gold token with probability 1 - ratio.
        With ``return_attention`` also the weights (N, T, S) (None without attention).
        """
        return self.target_decoder(self.source_encoder(src, src_lengths), tgt_in, teacher_forcing, return_attention)

    # ------------------------------------------------------------------ search
    def start(self, src: Tensor, src_lengths: Tensor) -> tuple[dict, dict]:
        """(state, memory) for :func:`rnnkit.decode.beam_search` / ``greedy_search``."""
        return self.encode(src, src_lengths)

    def step(self, tokens: Tensor, state: dict, memory: dict) -> tuple[Tensor, dict, Optional[Tensor]]:
        """Search step: tokens (R,) -> (log-probabilities (R, V), state, weights (R, S) or None)."""
        return self.target_decoder.step(tokens, state, memory)
