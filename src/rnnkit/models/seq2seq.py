"""Encoder-decoder for translation: a (bi)directional recurrent encoder, a recurrent decoder
with no attention, Bahdanau (additive) or Luong (global) attention.

Shape legend: N sentences, S source positions (padded), T target positions (padded),
E embedding size, H hidden size (the encoder's outputs, both directions together, and the
decoder's state), O output size (E when embeddings are tied, else H), V target vocabulary,
Ld decoder layers.

The decoders (each step t reads the previous target token y_{t-1}):

* ``none`` (Cho et al., 2014): a fixed context c, the encoder's final states, joins the
  input of every step and the output layer: h_t = RNN([emb(y_{t-1}); c], h_{t-1}).
* ``bahdanau`` (Bahdanau et al., 2015): the previous state asks the additive attention
  for c_t, then h_t = RNN([emb(y_{t-1}); c_t], h_{t-1}).
* ``luong`` (Luong et al., 2015): h_t = RNN(emb(y_{t-1}) [; h~_{t-1} with input feeding],
  h_{t-1}), then c_t from attention with h_t as the query (dot, general or concat).

Every decoder ends with h~_t = tanh(W [h_t; c_t]) (size O) and logits = W_out h~_t.
The decoder's first state is tanh(W_b [final forward; final backward]) of the encoder's
top layer. Attention never gives weight to source padding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.nn import Attention

from .lm import build_rnn

ATTENTION = ("none", "bahdanau", "luong")
LUONG_SCORES = {"dot": "dot", "general": "general", "concat": "additive"}


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
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"cell: expected lstm or gru, got {self.cell!r}")
        if self.attention not in ATTENTION:
            raise ValueError(f"attention: expected one of {', '.join(ATTENTION)}, got {self.attention!r}")
        if self.score not in LUONG_SCORES:
            raise ValueError(f"score: expected one of {', '.join(LUONG_SCORES)}, got {self.score!r}")
        for name in ("embedding_dim", "hidden_size", "encoder_layers", "decoder_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if self.bidirectional and self.hidden_size % 2:
            raise ValueError(f"hidden_size: a bidirectional encoder needs an even size, got {self.hidden_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected a number in [0, 1), got {self.dropout}")


class Seq2Seq(nn.Module):
    """Source ids -> target log-probabilities, trained with teacher forcing.

    Args:
        src_vocab, tgt_vocab: vocabulary sizes (id 0 is padding in both).
        sos: the target's start id (what the first step reads).
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, config: Seq2SeqConfig, sos: int = 1) -> None:
        super().__init__()
        c = self.config = config
        self.sos, self.lstm = sos, c.cell == "lstm"
        directions = 2 if c.bidirectional else 1
        H, E = c.hidden_size, c.embedding_dim
        self.out_size = E if c.tie_embeddings else H
        self.src_embedding = nn.Embedding(src_vocab, E, padding_idx=0)
        self.tgt_embedding = nn.Embedding(tgt_vocab, E, padding_idx=0)
        self.encoder = build_rnn(c.cell, E, H // directions, c.encoder_layers, c.dropout, c.bidirectional)
        self.bridge = nn.Linear(H, c.decoder_layers * H)
        self.bridge_cell = nn.Linear(H, c.decoder_layers * H) if self.lstm else None
        feed = self.out_size if c.attention == "luong" and c.input_feeding else 0
        context_in = H if c.attention in ("none", "bahdanau") else 0
        self.decoder = build_rnn(c.cell, E + context_in + feed, H, c.decoder_layers, c.dropout)
        self.attention = None
        if c.attention == "bahdanau":
            self.attention = Attention(H, H, "additive")
        elif c.attention == "luong":
            self.attention = Attention(H, H, LUONG_SCORES[c.score])
        self.combine = nn.Linear(2 * H, self.out_size)
        self.generator = nn.Linear(self.out_size, tgt_vocab)
        if c.tie_embeddings:
            self.generator.weight = self.tgt_embedding.weight
        self.drop = nn.Dropout(c.dropout)

    # ------------------------------------------------------------------ encoder
    def encode(self, src: Tensor, lengths: Tensor) -> tuple[dict, dict]:
        """Source (N, S) ids and (N,) lengths -> (decoder state, memory).

        The state is ``{"h": (N, Ld, H)[, "c": (N, Ld, H)][, "feed": (N, O)]}`` and the memory
        ``{"keys": (N, S, H), "mask": (N, S), "prepared": ..., "summary": (N, H)}``: every
        tensor has the sentence first, so a search can pick rows of both.
        """
        keys, final = self.encoder(self.drop(self.src_embedding(src)), lengths=lengths.cpu())
        mask = torch.arange(src.shape[1], device=src.device).unsqueeze(0) < lengths.to(src.device).unsqueeze(1)
        h_n = final[0] if self.lstm else final
        summary = self._top(h_n)
        N, layers, H = src.shape[0], self.config.decoder_layers, self.config.hidden_size
        state = {"h": torch.tanh(self.bridge(summary)).view(N, layers, H)}
        if self.lstm:
            state["c"] = torch.tanh(self.bridge_cell(self._top(final[1]))).view(N, layers, H)
        if self.config.input_feeding and self.config.attention == "luong":
            state["feed"] = summary.new_zeros(N, self.out_size)
        keys = self.drop(keys)
        memory = {"keys": keys, "mask": mask, "summary": summary}
        if self.attention is not None:
            memory["prepared"] = self.attention.prepare(keys)
        return state, memory

    def _top(self, final: Tensor) -> Tensor:
        """The encoder's top layer final states, directions joined: (D*layers, N, H/D) -> (N, H)."""
        directions = 2 if self.config.bidirectional else 1
        return torch.cat(list(final[-directions:]), dim=-1)

    # ------------------------------------------------------------------ decoder
    def _rnn_state(self, state: dict):
        h = state["h"].transpose(0, 1).contiguous()
        return (h, state["c"].transpose(0, 1).contiguous()) if self.lstm else h

    def _state_dict_of(self, rnn_state, feed: Optional[Tensor]) -> dict:
        h, c = rnn_state if self.lstm else (rnn_state, None)
        out = {"h": h.transpose(0, 1)}
        if c is not None:
            out["c"] = c.transpose(0, 1)
        if feed is not None:
            out["feed"] = feed
        return out

    def _step(self, embedded: Tensor, state: dict, memory: dict) -> tuple[Tensor, dict, Optional[Tensor]]:
        """One decoder step: embedded (N, E) -> (h~ (N, O), new state, weights (N, S) or None)."""
        kind, rnn_state = self.config.attention, self._rnn_state(state)
        weights = None
        if kind == "none":
            context = memory["summary"]
            inputs = torch.cat([embedded, context], dim=-1)
        elif kind == "bahdanau":
            query = state["h"][:, -1]
            context, weights = self.attention(query, memory["keys"], memory["mask"], memory["prepared"])
            inputs = torch.cat([embedded, context], dim=-1)
        else:
            inputs = torch.cat([embedded, state["feed"]], dim=-1) if "feed" in state else embedded
        output, rnn_state = self.decoder(inputs.unsqueeze(1), rnn_state)
        top = output[:, 0]
        if kind == "luong":
            context, weights = self.attention(top, memory["keys"], memory["mask"], memory["prepared"])
        attentional = torch.tanh(self.combine(torch.cat([top, context], dim=-1)))
        return attentional, self._state_dict_of(rnn_state, attentional if "feed" in state else None), weights

    def _whole(self, embedded: Tensor, state: dict, memory: dict) -> tuple[Tensor, Optional[Tensor]]:
        """All steps at once (teacher forcing, no step-to-step feedback): (N, T, E) -> (N, T, O)."""
        kind = self.config.attention
        if kind == "none":
            context = memory["summary"].unsqueeze(1).expand(-1, embedded.shape[1], -1)
            output, _ = self.decoder(torch.cat([embedded, context], dim=-1), self._rnn_state(state))
            weights = None
        else:
            output, _ = self.decoder(embedded, self._rnn_state(state))
            context, weights = self.attention(output, memory["keys"], memory["mask"], memory["prepared"])
        return torch.tanh(self.combine(torch.cat([output, context], dim=-1))), weights

    def can_run_whole(self) -> bool:
        c = self.config
        return c.attention == "none" or (c.attention == "luong" and not c.input_feeding)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0,
                return_attention: bool = False):
        """Logits (N, T, V) of every target position given the previous ones.

        Inputs: src (N, S), src_lengths (N,), tgt_in (N, T): ``<sos>`` then the target
        without its last token. With ``teacher_forcing`` < 1 each row reads, at each step,
        its own previous prediction instead of the gold token with probability 1 - ratio.
        With ``return_attention`` also the weights (N, T, S) (None without attention).
        """
        state, memory = self.encode(src, src_lengths)
        embedded = self.drop(self.tgt_embedding(tgt_in))
        if teacher_forcing >= 1.0 and self.can_run_whole():
            attentional, weights = self._whole(embedded, state, memory)
            logits = self.generator(self.drop(attentional))
        else:
            logits, weights = self._loop(tgt_in, embedded, state, memory, teacher_forcing)
        return (logits, weights) if return_attention else logits

    def _loop(self, tgt_in: Tensor, embedded: Tensor, state: dict, memory: dict, ratio: float):
        outputs, all_weights = [], []
        for t in range(tgt_in.shape[1]):
            step_in = embedded[:, t]
            if t and ratio < 1.0:  # scheduled sampling: the model's own previous guess
                guess = outputs[-1].argmax(-1).detach()
                own = torch.rand(guess.shape, device=guess.device) >= ratio
                step_in = torch.where(own.unsqueeze(1), self.drop(self.tgt_embedding(guess)), step_in)
            attentional, state, weights = self._step(step_in, state, memory)
            outputs.append(self.generator(self.drop(attentional)))
            all_weights.append(weights)
        weights = torch.stack(all_weights, dim=1) if all_weights[0] is not None else None
        return torch.stack(outputs, dim=1), weights

    # ------------------------------------------------------------------ search
    def start(self, src: Tensor, src_lengths: Tensor) -> tuple[dict, dict]:
        """(state, memory) for :func:`rnnkit.decode.beam_search` / ``greedy_search``."""
        return self.encode(src, src_lengths)

    def step(self, tokens: Tensor, state: dict, memory: dict) -> tuple[Tensor, dict, Optional[Tensor]]:
        """Search step: tokens (R,) -> (log-probabilities (R, V), state, weights (R, S) or None)."""
        attentional, state, weights = self._step(self.tgt_embedding(tokens), state, memory)
        logits = self.generator(attentional)
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        return torch.log_softmax(logits, dim=-1), state, weights
