"""Classifier of real-valued sequences: (N, L, F) -> rnnkit RNN/LSTM/GRU -> final state -> linear.

Used for sequential MNIST (rows, pixels or permuted pixels as steps). The IRNN
option (Le, Jaitly & Hinton, 2015) makes a ReLU RNN with recurrent weights
initialised to the identity, biases to zero and input weights drawn from
N(0, 0.001^2), so at the start the state carries over unchanged and gradients
neither vanish nor explode through the 784 steps of a pixel sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnkit import bounds
from rnnkit.nn import build_rnn, check_cell
from rnnkit.nn.init import chrono_init_, forget_bias_, recurrent_init_


@dataclass
class VectorClassifierConfig:
    """Shape of a :class:`VectorClassifier`.

    Attributes:
        cell: ``lstm``, ``gru``, ``rnn_tanh`` or ``rnn_relu``.
        hidden_size: units per direction and layer.
        num_layers: stacked layers.
        bidirectional: read the sequence both ways (final states concatenated).
        dropout: between layers and before the output layer.
        irnn: identity-initialised ReLU RNN (needs ``cell`` ``rnn_relu``).
        irnn_scale: the recurrent weights start as this times the identity.
        forget_bias: an LSTM's forget-gate bias at the start (0 = torch's init; 1 helps long
            sequences such as 784 pixels remember).
        chrono: chrono initialisation of the LSTM/GRU gate biases for dependencies up to this
            many steps (Tallec & Ollivier, 2018; 0 = off; 784 for a pixel sequence).
    """

    cell: str = "lstm"
    hidden_size: int = field(default=128, metadata=bounds.units())
    num_layers: int = field(default=1, metadata=bounds.layers())
    bidirectional: bool = False
    dropout: float = field(default=0.0, metadata=bounds.dropout())
    irnn: bool = False
    irnn_scale: float = field(
        default=1.0, metadata={**bounds.bound(0, 10, open_low=True), **bounds.only_with("irnn", True)}
    )
    forget_bias: float = field(default=0.0, metadata=bounds.bound(-50, 50))  # sigmoid(50) is 1 in float32
    chrono: int = field(default=0, metadata=bounds.bound(0, 10**7))

    def __post_init__(self) -> None:  # checked when the config is resolved, before any run directory
        spec = check_cell(self.cell)
        if self.irnn and spec.nonlinearity != "relu":
            raise ValueError(f"--irnn is a ReLU RNN: it needs --cell rnn_relu, got {self.cell}")
        if self.forget_bias and not spec.has_forget_gate:
            raise ValueError(f"--forget-bias is an LSTM gate's: it needs --cell lstm, got {self.cell}")
        if self.chrono and not spec.gated:
            raise ValueError(f"--chrono sets gate biases: it needs --cell lstm or gru, got {self.cell}")
        if self.chrono and self.chrono < 3:
            raise ValueError(f"--chrono: expected 0 (off) or at least 3 steps, got {self.chrono}")
        if self.chrono and self.forget_bias:
            raise ValueError(
                "--chrono sets the forget-gate biases itself: give --forget-bias 0, or --chrono 0 to set "
                "the forget-gate bias alone"
            )


class VectorClassifier(nn.Module):
    """Inputs: sequences (N, L, F) float. Output: logits (N, C)."""

    def __init__(self, input_size: int, num_classes: int, config: VectorClassifierConfig) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes: expected >= 2, got {num_classes}")
        self.config = config
        self.rnn = build_rnn(
            config.cell,
            input_size,
            config.hidden_size,
            config.num_layers,
            config.dropout,
            bidirectional=config.bidirectional,
        )
        self.drop = nn.Dropout(config.dropout)
        self.directions = 2 if config.bidirectional else 1
        self.output = nn.Linear(self.directions * config.hidden_size, num_classes)
        if config.irnn:
            identity_init(self.rnn, config.irnn_scale)
        if config.forget_bias:
            forget_bias_(self.rnn, config.forget_bias)
        if config.chrono:
            chrono_init_(self.rnn, config.chrono)

    def forward(self, x: Tensor) -> Tensor:
        _, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state  # (layers * D, N, H)
        features = torch.cat(list(h[-self.directions :]), dim=-1)  # (D, N, H) -> (N, D*H)
        return self.output(self.drop(features))


@torch.no_grad()
def identity_init(rnn: nn.Module, scale: float = 1.0, input_std: float = 0.001) -> None:
    """IRNN initialisation of every layer and direction of ``rnn`` (torch.nn parameter names)."""
    recurrent_init_(rnn, "identity", scale)
    for name, weight in rnn.named_parameters():
        if name.startswith("weight_ih"):
            weight.normal_(0.0, input_std)
        elif name.startswith("bias"):
            weight.zero_()
