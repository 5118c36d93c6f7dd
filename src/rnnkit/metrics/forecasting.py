"""Forecast baselines and scores on a series' held-out points: naive (last value), seasonal
naive (the value one season before), and MSE, MAE and MASE (Hyndman & Koehler, 2006).

An ``horizon``-step forecast of ``y[t]`` is made at origin ``t - horizon``: it may use
``y[:t - horizon + 1]`` only. The baselines follow the same rule, so every method is scored on
the same points with the same information.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor


def naive(values: Tensor, targets: Sequence[int], horizon: int = 1) -> Tensor:
    """(N,) the last value known at each origin: ``y[t - horizon]``."""
    index = torch.tensor(list(targets), dtype=torch.long)
    return values[index - horizon]


def seasonal_naive(values: Tensor, targets: Sequence[int], season: int, horizon: int = 1) -> Tensor:
    """(N,) the value of the same season in the last season known at each origin:
    ``y[t - season * ceil(horizon / season)]``."""
    if season < 1:
        raise ValueError(f"season: expected >= 1, got {season}")
    lag = season * math.ceil(horizon / season)
    index = torch.tensor(list(targets), dtype=torch.long)
    if len(index) and int(index.min()) < lag:
        raise ValueError(f"seasonal naive: target {int(index.min())} has fewer than {lag} values before it")
    return values[index - lag]


def mase_scale(train: Tensor, season: int = 0) -> float:
    """MASE's denominator: the training part's mean absolute one-season (one-step when
    ``season`` < 2) naive error, in-sample."""
    lag = season if season > 1 else 1
    if len(train) <= lag:
        raise ValueError(f"MASE: the training part has {len(train)} values, too few for lag {lag}")
    scale = float((train[lag:] - train[:-lag]).abs().mean())
    return scale if scale > 0 else 1.0


def scores(predicted: Tensor, truth: Tensor, scale: float) -> dict[str, float]:
    """``{"mse", "mae", "mase"}`` of (N,) forecasts against (N,) true values."""
    error = predicted.double() - truth.double()
    mae = float(error.abs().mean())
    return {"mse": float(error.pow(2).mean()), "mae": mae, "mase": mae / scale}


def coverage(lower: Tensor, upper: Tensor, truth: Tensor) -> float:
    """Fraction of (N,) true values inside their [lower, upper] intervals."""
    return float(((truth >= lower) & (truth <= upper)).double().mean())
