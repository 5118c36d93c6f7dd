"""The recurrent decoder of the encoder-decoder: no attention, Bahdanau (additive) or Luong
(global) attention over any :class:`~rnnkit.families.seq2seq.encoder.Memory`.

Shape legend: N rows, S memory positions (padded), E embedding size, H the decoder's state,
K the memory size (H by default), O output size (E when embeddings are tied, else H), V target
vocabulary, T target positions, Ld decoder layers.

Each step t reads the previous target token y_{t-1}:

* ``none`` (Cho et al., 2014): a fixed context c, the memory's summary (``final``), joins the
  input of every step and the output layer: h_t = RNN([emb(y_{t-1}); c], h_{t-1}).
* ``bahdanau`` (Bahdanau et al., 2015): the previous state asks the additive attention
  for c_t, then h_t = RNN([emb(y_{t-1}); c_t], h_{t-1}).
* ``luong`` (Luong et al., 2015): h_t = RNN(emb(y_{t-1}) [; h~_{t-1} with input feeding],
  h_{t-1}), then c_t from attention with h_t as the query (dot, general or concat).

Every step ends with h~_t = tanh(W [h_t; c_t]) (size O) and logits = W_out h~_t. The first
state is tanh(W_b s) of the summary s (an LSTM's cell state: tanh(W_c s_c) of the cell summary,
or of s when the encoder gave one vector). Attention never gives weight to masked positions.

:meth:`AttentionDecoder.start` and :meth:`AttentionDecoder.step` are the interface of
:func:`rnnkit.decode.greedy_search` / ``beam_search``: the state
``{"h": (N, Ld, H)[, "c": (N, Ld, H)][, "feed": (N, O)]}`` and the memory
``{"keys": (N, S, K), "mask": (N, S), "summary": (N, K)[, "prepared": ...]}`` have the row
first, so a search can pick rows of both.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from rnnkit.nn import Attention, build_rnn, cell_spec

from .encoder import Memory, State

ATTENTION = ("none", "bahdanau", "luong")
#: Luong's score names -> :class:`rnnkit.nn.Attention`'s
LUONG_SCORES = {"dot": "dot", "general": "general", "concat": "additive"}


def check_attention(attention: str, score: str) -> None:
    """ValueError unless ``attention`` is one of :data:`ATTENTION` and ``score`` of :data:`LUONG_SCORES`."""
    if attention not in ATTENTION:
        raise ValueError(f"attention: expected one of {', '.join(ATTENTION)}, got {attention!r}")
    if score not in LUONG_SCORES:
        raise ValueError(f"score: expected one of {', '.join(LUONG_SCORES)}, got {score!r}")


class AttentionDecoder(nn.Module):
    """Target ids -> log-probabilities, one step at a time or teacher-forced, given a Memory.

    Args:
        vocab_size: V (id 0 is padding).
        embedding_dim: E.
        hidden_size: H.
        num_layers: Ld (default 1).
        cell: one of :data:`rnnkit.nn.CELL_NAMES` (default ``lstm``).
        attention: ``none``, ``bahdanau`` or ``luong`` (default).
        score: Luong's score, ``dot``, ``general`` (default) or ``concat``.
        input_feeding: Luong's input feeding (h~_{t-1} joins the next step's input).
        dropout: on the embeddings, between layers and before the output layer (default 0).
        tie_embeddings: the output layer shares the embedding matrix (O = E).
        memory_size: K, the size of the memory and of its summary (default H).
        embedding: a ``(V, E)`` embedding to use instead of making one.
        gate: Show, Attend and Tell's gating scalar (Xu et al., 2015, 4.2.1): the context is
            scaled by beta = sigmoid(w . q + b) of the attention's query q, so the decoder can
            look away from the image for words such as "a" or "of" (needs attention).
        coverage: keep, per memory position, the sum of the attention it has had (state
            ``"coverage"`` (N, S)) and add w_c times it to the additive scores (Tu et al., 2016),
            so the decoder can tell what it has already looked at (needs ``bahdanau``).

    Example (the memory need not come from a recurrent encoder):
        >>> decoder = AttentionDecoder(50, 8, 16, memory_size=12)
        >>> grid = Memory(torch.randn(2, 9, 12), torch.ones(2, 9, dtype=torch.bool), torch.randn(2, 12))
        >>> state, memory = decoder.start(grid)
        >>> log_probs, state, weights = decoder.step(torch.tensor([1, 1]), state, memory)  # (2, 50), (2, 9)
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        attention: str = "luong",
        score: str = "general",
        input_feeding: bool = False,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
        memory_size: Optional[int] = None,
        embedding: Optional[nn.Embedding] = None,
        gate: bool = False,
        coverage: bool = False,
    ) -> None:
        super().__init__()
        check_attention(attention, score)
        if gate and attention == "none":
            raise ValueError("gate: the gating scalar scales attention's context; it needs attention")
        if coverage and attention != "bahdanau":
            raise ValueError("coverage: the coverage vector joins additive attention's scores; it needs bahdanau")
        H, E, K = hidden_size, embedding_dim, memory_size or hidden_size
        self.kind, self.num_layers, self.hidden_size, self.memory_size = attention, num_layers, H, K
        self.cell_state = cell_spec(cell).state_arity > 1  # an LSTM's c beside h
        self.feeding = attention == "luong" and input_feeding
        self.out_size = E if tie_embeddings else H
        self.embedding = embedding if embedding is not None else nn.Embedding(vocab_size, E, padding_idx=0)
        self.bridge = nn.Linear(K, num_layers * H)
        self.bridge_cell = nn.Linear(K, num_layers * H) if self.cell_state else None
        feed = self.out_size if self.feeding else 0
        context_in = K if attention in ("none", "bahdanau") else 0
        self.rnn = build_rnn(cell, E + context_in + feed, H, num_layers, dropout)
        self.attention = None
        if attention == "bahdanau":
            self.attention = Attention(H, K, "additive")
        elif attention == "luong":
            self.attention = Attention(H, K, LUONG_SCORES[score])
        self.combine = nn.Linear(H + K, self.out_size)
        self.generator = nn.Linear(self.out_size, vocab_size)
        if tie_embeddings:
            self.generator.weight = self.embedding.weight
        self.drop = nn.Dropout(dropout)
        # made last, so the other parameters draw the same initial values with or without it
        self.gate = nn.Linear(H, 1) if gate else None
        self.coverage = nn.Linear(1, K, bias=False) if coverage else None

    # ------------------------------------------------------------------ state
    def start(self, encoded: Memory) -> tuple[dict, dict]:
        """(state, memory) of the first step (see the module docstring) from an encoder's Memory."""
        final = encoded.final
        summary, cell_summary = final if isinstance(final, tuple) else (final, final)
        N, layers, H = summary.shape[0], self.num_layers, self.hidden_size
        state = {"h": torch.tanh(self.bridge(summary)).view(N, layers, H)}
        if self.cell_state:
            state["c"] = torch.tanh(self.bridge_cell(cell_summary)).view(N, layers, H)
        if self.feeding:
            state["feed"] = summary.new_zeros(N, self.out_size)
        if self.coverage is not None:
            state["coverage"] = encoded.memory.new_zeros(encoded.memory.shape[:2])
        memory = {"keys": encoded.memory, "mask": encoded.mask, "summary": summary}
        if self.attention is not None:
            memory["prepared"] = self.attention.prepare(encoded.memory)
        return state, memory

    def _rnn_state(self, state: dict) -> State:
        """(N, Ld, H) per tensor -> the layer's (Ld, N, H)."""
        h = state["h"].transpose(0, 1).contiguous()
        return (h, state["c"].transpose(0, 1).contiguous()) if self.cell_state else h

    def _state_of(self, rnn_state: State, feed: Optional[Tensor]) -> dict:
        h, c = rnn_state if self.cell_state else (rnn_state, None)
        out = {"h": h.transpose(0, 1)}
        if c is not None:
            out["c"] = c.transpose(0, 1)
        if feed is not None:
            out["feed"] = feed
        return out

    # ------------------------------------------------------------------ steps
    def attend(self, embedded: Tensor, state: dict, memory: dict) -> tuple[Tensor, dict, Optional[Tensor]]:
        """One step: embedded (N, E) -> (h~ (N, O), next state, weights (N, S) or None)."""
        rnn_state, weights = self._rnn_state(state), None
        if self.kind == "none":
            context = memory["summary"]
            inputs = torch.cat([embedded, context], dim=-1)
        elif self.kind == "bahdanau":
            query = state["h"][:, -1]
            context, weights = self.attention(query, memory["keys"], memory["mask"], self._covered(state, memory))
            context = self._gated(context, query)
            inputs = torch.cat([embedded, context], dim=-1)
        else:
            inputs = torch.cat([embedded, state["feed"]], dim=-1) if "feed" in state else embedded
        output, rnn_state = self.rnn(inputs.unsqueeze(1), rnn_state)
        top = output[:, 0]
        if self.kind == "luong":
            context, weights = self.attention(top, memory["keys"], memory["mask"], memory["prepared"])
            context = self._gated(context, top)
        attentional = torch.tanh(self.combine(torch.cat([top, context], dim=-1)))
        following = self._state_of(rnn_state, attentional if "feed" in state else None)
        if "coverage" in state:
            following["coverage"] = state["coverage"] + weights
        return attentional, following, weights

    def _covered(self, state: dict, memory: dict) -> Tensor:
        """The prepared keys (N, S, K), with coverage each plus w_c times the attention that position
        has had so far (Tu et al., 2016; See et al., 2017), so the scores can turn away from it."""
        if self.coverage is None:
            return memory["prepared"]
        return memory["prepared"] + self.coverage(state["coverage"].unsqueeze(-1).to(memory["prepared"].dtype))

    def _gated(self, context: Tensor, query: Tensor) -> Tensor:
        """context (..., K) scaled by the gating scalar of query (..., H) (unchanged without a gate)."""
        return context if self.gate is None else context * torch.sigmoid(self.gate(query))

    def can_run_whole(self) -> bool:
        """Whether teacher forcing can run all steps in one call (no step-to-step feedback)."""
        return self.kind == "none" or (self.kind == "luong" and not self.feeding)

    def whole(self, embedded: Tensor, state: dict, memory: dict) -> tuple[Tensor, Optional[Tensor]]:
        """All steps at once (needs :meth:`can_run_whole`): (N, T, E) -> (h~ (N, T, O), weights
        (N, T, S) or None)."""
        if self.kind == "none":
            context = memory["summary"].unsqueeze(1).expand(-1, embedded.shape[1], -1)
            output, _ = self.rnn(torch.cat([embedded, context], dim=-1), self._rnn_state(state))
            weights = None
        else:
            output, _ = self.rnn(embedded, self._rnn_state(state))
            context, weights = self.attention(output, memory["keys"], memory["mask"], memory["prepared"])
            context = self._gated(context, output)
        return torch.tanh(self.combine(torch.cat([output, context], dim=-1))), weights

    def loop(
        self, tgt_in: Tensor, embedded: Tensor, state: dict, memory: dict, ratio: float = 1.0
    ) -> tuple[Tensor, Optional[Tensor]]:
        """Step by step: tgt_in (N, T), its embeddings (N, T, E) -> (logits (N, T, V), weights
        (N, T, S) or None). With ``ratio`` < 1 a row reads its own previous guess instead of the
        gold token with probability 1 - ratio (scheduled sampling)."""
        outputs, all_weights = [], []
        for t in range(tgt_in.shape[1]):
            step_in = embedded[:, t]
            if t and ratio < 1.0:  # scheduled sampling: the model's own previous guess
                guess = outputs[-1].argmax(-1).detach()
                own = torch.rand(guess.shape, device=guess.device) >= ratio
                step_in = torch.where(own.unsqueeze(1), self.drop(self.embedding(guess)), step_in)
            attentional, state, weights = self.attend(step_in, state, memory)
            outputs.append(self.generator(self.drop(attentional)))
            all_weights.append(weights)
        weights = torch.stack(all_weights, dim=1) if all_weights[0] is not None else None
        return torch.stack(outputs, dim=1), weights

    def forward(self, encoded: Memory, tgt_in: Tensor, teacher_forcing: float = 1.0, return_attention: bool = False):
        """Logits (N, T, V) of every target position given the previous ones.

        Inputs: encoded (a :class:`Memory`), tgt_in (N, T): the start id then the target
        without its last token. ``teacher_forcing`` < 1: scheduled sampling (:meth:`loop`).
        With ``return_attention`` also the weights (N, T, S) (None without attention).
        """
        logits, weights = self.decode(*self.start(encoded), tgt_in, teacher_forcing)
        return (logits, weights) if return_attention else logits

    def decode(
        self, state: dict, memory: dict, tgt_in: Tensor, teacher_forcing: float = 1.0
    ) -> tuple[Tensor, Optional[Tensor]]:
        """From a first (state, memory) (:meth:`start`, or a caller's own): logits (N, T, V) of every
        position of tgt_in (N, T) and the weights (N, T, S) (None without attention); all steps at
        once when teacher forcing allows (:meth:`can_run_whole`), else step by step."""
        embedded = self.drop(self.embedding(tgt_in))
        if teacher_forcing >= 1.0 and self.can_run_whole():
            attentional, weights = self.whole(embedded, state, memory)
            return self.generator(self.drop(attentional)), weights
        return self.loop(tgt_in, embedded, state, memory, teacher_forcing)

    def step(self, tokens: Tensor, state: dict, memory: dict) -> tuple[Tensor, dict, Optional[Tensor]]:
        """Search step: tokens (R,) -> (log-probabilities (R, V), state, weights (R, S) or None)."""
        attentional, state, weights = self.attend(self.embedding(tokens), state, memory)
        logits = self.generator(attentional)
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        return torch.log_softmax(logits, dim=-1), state, weights
