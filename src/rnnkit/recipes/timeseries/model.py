"""Forecaster: a window of past values -> rnnkit RNN/LSTM/GRU -> the next value (and its spread).

Shape legend: N batch, W window length, H hidden size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnkit import bounds, deadline
from rnnkit.nn import build_rnn

HEADS = ("gaussian", "point")


@dataclass
class ForecasterConfig:
    """Shape of a :class:`Forecaster`.

    Attributes:
        cell: ``lstm``, ``gru``, ``rnn_tanh`` or ``rnn_relu``.
        hidden_size: units per layer.
        num_layers: stacked layers.
        dropout: between layers and before the output layer.
        head: ``gaussian``: a mean and a log-variance per step, trained by Gaussian negative
            log-likelihood (prediction intervals); ``point``: a mean only, trained by MSE.
    """

    cell: str = "lstm"
    hidden_size: int = field(default=48, metadata=bounds.units())
    num_layers: int = field(default=1, metadata=bounds.layers())
    dropout: float = field(default=0.0, metadata=bounds.dropout())
    head: str = "gaussian"

    def __post_init__(self) -> None:  # checked when the config is resolved, before any run directory
        if self.hidden_size < 1 or self.num_layers < 1:
            raise ValueError(f"hidden_size, num_layers: expected >= 1, got {self.hidden_size}, {self.num_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected a number in [0, 1), got {self.dropout}")
        if self.head not in HEADS:
            raise ValueError(f"head: expected {' or '.join(HEADS)}, got {self.head!r}")


class Forecaster(nn.Module):
    """Inputs: windows (N, W) of normalised past values. Outputs: mean (N,) and log-variance (N,)
    of the normalised next value (the log-variance is zeros for the ``point`` head).

    The network reads the window one value per step and maps its last hidden state to the
    output, as the seeds' sine-wave RNN does (20 points in, the next point out).
    """

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = build_rnn(config.cell, 1, config.hidden_size, config.num_layers, config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.hidden_size, 2 if config.head == "gaussian" else 1)

    def forward(self, windows: Tensor) -> tuple[Tensor, Tensor]:
        if windows.dim() != 2:
            raise ValueError(f"Forecaster: expected windows (N, W), got shape {tuple(windows.shape)}")
        output, _ = self.rnn(windows.unsqueeze(-1))  # (N, W) -> (N, W, 1) -> (N, W, H)
        out = self.output(self.drop(output[:, -1]))  # (N, 1 or 2)
        mean = out[:, 0]
        log_var = out[:, 1].clamp(-12.0, 8.0) if out.shape[1] == 2 else torch.zeros_like(mean)
        return mean, log_var


def recursive_forecast(model: Forecaster, context: Tensor, horizon: int, scaler) -> tuple[Tensor, Tensor]:
    """Forecast ``horizon`` steps after each window by feeding the predicted means back.

    Args:
        context: (N, W) raw past values, the last one at the forecast origin.
        scaler: maps raw windows to inputs and outputs back (``inputs(window)``,
            ``decode(output, window)``, ``out_scale``), e.g. :class:`rnnkit.recipes.timeseries.series.Normaliser`.

    Returns: means (N, horizon) and one-step standard deviations (N, horizon) on the raw scale
    (each step's spread given the fed-back means; zeros for the ``point`` head).
    """
    means, sds = [], []
    window = context.double()
    dtype = next(model.parameters()).dtype
    for _ in range(horizon):
        deadline.check()  # under rnnkit serve: stop at the request's time limit
        mean, log_var = model(scaler.inputs(window).to(dtype))
        value = scaler.decode(mean.double(), window)
        means.append(value)
        sds.append(
            (0.5 * log_var.double()).exp() * scaler.out_scale
            if model.config.head == "gaussian"
            else torch.zeros_like(value)
        )
        window = torch.cat([window[:, 1:], value[:, None]], dim=1)
    return torch.stack(means, 1), torch.stack(sds, 1)


def sample_paths(
    model: Forecaster, context: Tensor, horizon: int, scaler, samples: int, generator: torch.Generator
) -> Tensor:
    """(samples, N, horizon) sampled futures of a ``gaussian`` head: each step draws from the
    predicted normal and feeds the draw back (intervals that widen with the horizon)."""
    n = len(context)
    window = context.double().repeat(samples, 1)  # (N, W) -> (S*N, W)
    dtype = next(model.parameters()).dtype
    steps = []
    for _ in range(horizon):
        deadline.check()
        mean, log_var = model(scaler.inputs(window).to(dtype))
        noise = torch.randn(len(window), generator=generator, dtype=torch.float64)
        value = scaler.decode(mean.double() + (0.5 * log_var.double()).exp() * noise, window)
        steps.append(value)
        window = torch.cat([window[:, 1:], value[:, None]], dim=1)
    return torch.stack(steps, 1).view(samples, n, horizon)
