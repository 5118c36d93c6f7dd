"""Word-level language model with the AWD-LSTM regularisers (Merity et al., 2018).

Layers are separate single-layer ``rnnkit.nn`` modules so each can have its
own size (AWD-LSTM: 1150, 1150, then 400 to match the tied embedding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.families.lm import next_token_loss
from rnnkit.nn import GATED_CELLS, LockedDropout, build_rnn, check_cell, embedding_dropout
from rnnkit.nn.adaptive import AdaptiveSoftmax, parse_cutoffs


@dataclass
class WordLMConfig:
    """Shape and regularisation of a :class:`WordLanguageModel`.

    Attributes:
        cell: ``lstm`` or ``gru``.
        embedding_dim: word embedding size.
        hidden_size: units of every layer but the last.
        num_layers: stacked layers.
        last_layer_size: units of the last layer (0 = hidden_size; with tied
            weights it must equal embedding_dim, as in AWD-LSTM).
        dropout: locked dropout on the last layer's output.
        dropout_input: locked dropout on the embeddings (AWD ``dropouti``).
        dropout_hidden: locked dropout between layers (AWD ``dropouth``).
        dropout_embedding: whole-word embedding dropout (AWD ``dropoute``).
        weight_dropout: DropConnect on hidden-to-hidden weights (AWD ``wdrop``).
        tie_weights: share embedding and decoder (Press & Wolf, 2017; Inan et al., 2017).
        init_range: uniform(-r, r) initialisation of every weight (Zaremba et
            al. use 0.1/0.05/0.04); 0 keeps torch's defaults.
        ar_alpha: activation regularisation weight (AWD ``alpha``).
        tar_beta: temporal activation regularisation weight (AWD ``beta``).
        locked: variational (locked) dropout, one mask per sequence (AWD);
            False gives standard dropout with a fresh mask per step (Zaremba).
        adaptive_cutoffs: ``""`` for a full softmax, else comma-separated
            word ids (e.g. ``"2000,5000"``) splitting the frequency-sorted
            vocabulary into a head and tail clusters (Grave et al., 2017);
            see :class:`rnnkit.nn.adaptive.AdaptiveSoftmax`.
    """

    cell: str = "lstm"
    embedding_dim: int = field(default=400, metadata=bounds.units())
    hidden_size: int = field(default=1150, metadata=bounds.units())
    num_layers: int = field(default=3, metadata=bounds.layers())
    last_layer_size: int = field(default=0, metadata=bounds.units(0))
    dropout: float = field(default=0.4, metadata=bounds.dropout())
    dropout_input: float = field(default=0.4, metadata=bounds.dropout())
    dropout_hidden: float = field(default=0.25, metadata=bounds.dropout())
    dropout_embedding: float = field(default=0.1, metadata=bounds.dropout())
    weight_dropout: float = field(default=0.5, metadata=bounds.dropout())
    tie_weights: bool = True
    init_range: float = field(default=0.0, metadata=bounds.bound(0, 10))
    ar_alpha: float = field(default=2.0, metadata=bounds.bound(0, 1000))
    tar_beta: float = field(default=1.0, metadata=bounds.bound(0, 1000))
    locked: bool = True
    adaptive_cutoffs: str = ""


class WordLanguageModel(nn.Module):
    """Inputs: tokens (N, L), state (per-layer list, or None for zeros).

    Outputs: logits (N, L, V) and the per-layer final states; with an adaptive
    softmax the "logits" are log-probabilities (same softmax). :meth:`loss`
    scores targets without forming (N, L, V), which is where the adaptive
    softmax saves its time. In training
    mode the last layer's output before (``raw_output``) and after
    (``dropped_output``) its dropout are kept for AR/TAR, each (N, L, H_last).
    """

    def __init__(self, vocab_size: int, config: WordLMConfig) -> None:
        super().__init__()
        c = config
        check_cell(c.cell, among=GATED_CELLS)
        last = c.last_layer_size or c.hidden_size
        if c.tie_weights and last != c.embedding_dim:
            raise ValueError(
                f"tie_weights needs the last layer size ({last}) to equal "
                f"embedding_dim ({c.embedding_dim}); set --last-layer-size"
            )
        self.vocab_size, self.config = vocab_size, c
        self.embedding = nn.Embedding(vocab_size, c.embedding_dim)
        sizes = [c.hidden_size] * (c.num_layers - 1) + [last]
        inputs = [c.embedding_dim] + sizes[:-1]
        self.layers = nn.ModuleList(
            build_rnn(c.cell, i, o, 1, 0.0, weight_dropout=c.weight_dropout) for i, o in zip(inputs, sizes)
        )
        drop = LockedDropout if c.locked else nn.Dropout
        self.drop_input, self.drop_hidden = drop(c.dropout_input), drop(c.dropout_hidden)
        self.drop_output = drop(c.dropout)
        cutoffs = parse_cutoffs(c.adaptive_cutoffs, vocab_size)
        self.decoder = AdaptiveSoftmax(last, vocab_size, cutoffs) if cutoffs else nn.Linear(last, vocab_size)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight
        if c.init_range:
            for p in self.parameters():
                nn.init.uniform_(p, -c.init_range, c.init_range)
        self.raw_output: Optional[Tensor] = None
        self.dropped_output: Optional[Tensor] = None

    def features(self, tokens: Tensor, state=None) -> tuple[Tensor, tuple]:
        """tokens (N, L) -> (last layer's dropped output (N, L, H_last), per-layer final states)."""
        x = embedding_dropout(self.embedding, tokens, self.config.dropout_embedding, self.training)
        x = self.drop_input(x)
        finals = []
        for index, layer in enumerate(self.layers):
            x, final = layer(x, None if state is None else state[index])
            finals.append(final)
            if index < len(self.layers) - 1:
                x = self.drop_hidden(x)
        dropped = self.drop_output(x)
        if self.training:
            self.raw_output, self.dropped_output = x, dropped
        return dropped, tuple(finals)

    def forward(self, tokens: Tensor, state=None) -> tuple[Tensor, tuple]:
        hidden, finals = self.features(tokens, state)
        if isinstance(self.decoder, AdaptiveSoftmax):
            return self.decoder.log_prob(hidden), finals
        return self.decoder(hidden), finals

    def loss(self, tokens: Tensor, targets: Tensor, state=None, reduction: str = "mean"):
        """Cross-entropy of predicting ``targets`` (N, L) from ``tokens`` (N, L); (loss, final states)."""
        if not isinstance(self.decoder, AdaptiveSoftmax):
            logits, finals = self(tokens, state)
            return next_token_loss(logits, targets, reduction), finals
        hidden, finals = self.features(tokens, state)
        nll = self.decoder.nll(hidden.reshape(-1, hidden.shape[-1]), targets.reshape(-1))  # (N*L,)
        reduced = {"mean": nll.mean, "sum": nll.sum, "none": lambda: nll}[reduction]()
        return reduced, finals

    def regularisation(self) -> Tensor:
        """AR + TAR on the last forward call (training mode), a scalar.

        AR = alpha * mean(dropped_output^2); TAR = beta * mean((h_t - h_{t-1})^2)
        on the raw (undropped) output, as in AWD-LSTM.
        """
        c = self.config
        total = self.decoder.weight.new_zeros(())
        if self.raw_output is None:
            return total
        if c.ar_alpha:
            total = total + c.ar_alpha * self.dropped_output.pow(2).mean()
        if c.tar_beta and self.raw_output.shape[1] > 1:
            diff = self.raw_output[:, 1:] - self.raw_output[:, :-1]
            total = total + c.tar_beta * diff.pow(2).mean()
        return total
