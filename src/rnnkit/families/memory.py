"""Networks for the long-range memory tasks: a last-step regressor (adding problem) and a per-step
classifier of ids (copy memory), each one rnnkit RNN/LSTM/GRU layer stack with a linear read-out.

Shapes: N batch, T steps, F input features, V ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.nn import CELL_CHOICES, build_rnn, check_cell
from rnnkit.nn.init import chrono_init_, forget_bias_, recurrent_init_


@dataclass
class MemoryModelConfig:
    """Attributes:
    cell: ``lstm``, ``gru``, ``rnn_tanh`` or ``rnn_relu``.
    hidden_size, num_layers: the recurrent stack.
    init: recurrent weights ``default`` (torch's uniform), ``orthogonal`` or ``identity``.
    forget_bias: the LSTM forget gate's starting bias (used only by ``lstm`` without chrono).
    chrono: chrono initialisation of the LSTM/GRU gate biases for the task's length
        (Tallec & Ollivier, 2018); ignored by the plain RNNs.
    """

    cell: str = "lstm"
    hidden_size: int = field(default=128, metadata=bounds.units())
    num_layers: int = field(default=1, metadata=bounds.layers())
    init: str = "default"
    forget_bias: float = field(default=1.0, metadata=bounds.bound(-50, 50))  # sigmoid(50) is 1 in float32
    chrono: bool = True

    def __post_init__(self) -> None:  # checked when the config is resolved, before any run directory
        spec = check_cell(self.cell)
        if self.chrono and self.forget_bias != 1.0 and spec.has_forget_gate:
            raise ValueError("--forget-bias sets the LSTM's start without chrono initialisation; add --no-chrono")


#: help for the command line's model options
MODEL_HELP = {
    "cell": CELL_CHOICES,
    "init": "recurrent weights: default, orthogonal or identity",
    "forget_bias": "LSTM forget-gate bias at the start (LSTM only, with --no-chrono)",
    "chrono": "chrono initialisation of the LSTM/GRU gate biases for the task's length (Tallec & Ollivier, 2018)",
}


def _recurrent(input_size: int, config: MemoryModelConfig, length: int) -> nn.Module:
    rnn = build_rnn(config.cell, input_size, config.hidden_size, config.num_layers, 0.0)
    recurrent_init_(rnn, config.init)
    if config.chrono and rnn.spec.gated:
        chrono_init_(rnn, max(length, 3))
    elif rnn.spec.has_forget_gate:
        forget_bias_(rnn, config.forget_bias)
    return rnn


class LastStepRegressor(nn.Module):
    """Inputs (N, T, F) float -> one number per sequence (N,), read from the last step's state.
    ``length``: the task's T (for the chrono initialisation)."""

    def __init__(self, input_size: int, config: MemoryModelConfig, length: int) -> None:
        super().__init__()
        self.rnn = _recurrent(input_size, config, length)
        self.output = nn.Linear(config.hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        output, _ = self.rnn(x)  # (N, T, H)
        return self.output(output[:, -1]).squeeze(-1)


class StepClassifier(nn.Module):
    """Ids (N, T) -> logits (N, T, V) at every step; ids enter one-hot. ``length``: the span
    the memory must bridge (for the chrono initialisation)."""

    def __init__(self, vocab_size: int, config: MemoryModelConfig, length: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = _recurrent(vocab_size, config, length)
        self.output = nn.Linear(config.hidden_size, vocab_size)

    def forward(self, ids: Tensor) -> Tensor:
        x = torch.nn.functional.one_hot(ids, self.vocab_size).to(self.output.weight.dtype)
        output, _ = self.rnn(x)
        return self.output(output)
